"""API tokens: random, shown once, stored only as a SHA-256 digest.

Tokens carry 256 bits of entropy, so a fast hash is enough (no password stretching): the
database never holds a usable credential, and lookups stay one index probe.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32


def new_token(prefix: str) -> str:
    """A fresh token such as ``eca_…``; the prefix tells a leaked token's kind at a glance."""
    return f"{prefix}_{secrets.token_urlsafe(TOKEN_BYTES)}"


def token_digest(token: str) -> bytes:
    """What the database stores and looks up."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, or None if absent or malformed."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 512:
        return None
    return value


def same_secret(a: bytes | str, b: bytes | str) -> bool:
    """Constant-time comparison for signatures and secrets."""
    left = a.encode() if isinstance(a, str) else a
    right = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(left, right)
