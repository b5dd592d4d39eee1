"""Password hashes: argon2id at OWASP's parameters. A hash of an earlier kind (scrypt, as
stored before) or with weaker parameters still verifies, and ``check`` hands back its
replacement, stored at that successful sign-in, so nobody has to reset anything.

Hashing costs tens of milliseconds of CPU: callers run ``check`` in a worker thread (argon2
releases the GIL) rather than stall the event loop.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP Password Storage Cheat Sheet: argon2id with 19 MiB of memory, 2 passes, 1 lane.
ARGON2 = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)
SCRYPT_PREFIX = "scrypt$"


@dataclass(frozen=True, slots=True)
class Checked:
    """Whether the password is right, and a hash to store in place of an outdated one."""

    right: bool
    upgrade: str | None = None


def hash_password(password: str) -> str:
    return ARGON2.hash(password)


@functools.cache
def _dummy() -> str:
    """What an unknown user's password is checked against, so both answers cost the same."""
    return hash_password("not a password")


def check(password: str, stored: str | None) -> Checked:
    """Constant-time check; an unknown user or a user without a password costs the same."""
    if stored is None:
        _argon2_right(password, _dummy())
        return Checked(False)
    if stored.startswith(SCRYPT_PREFIX):
        outdated = right = _scrypt_right(password, stored)
    else:
        right = _argon2_right(password, stored)
        outdated = right and ARGON2.check_needs_rehash(stored)
    return Checked(right, hash_password(password) if outdated else None)


def _argon2_right(password: str, stored: str) -> bool:
    try:
        return ARGON2.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _scrypt_right(password: str, stored: str) -> bool:
    """``scrypt$N$r$p$salt$digest`` (base64), as hashes were stored before argon2id."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
        return hmac.compare_digest(candidate, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False
