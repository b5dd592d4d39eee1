"""Two-factor decisions: TOTP codes (RFC 6238), recovery codes, who must enrol.

Pure functions of plain data with ``now`` passed in. TOTP is HMAC-SHA-1, 6 digits, 30-second
steps, as every authenticator app computes it. A code is accepted for the current step or one
step either side (a phone's clock drifts, people type slowly), and only for a step later than
the last one accepted for that user: the caller stores the returned step atomically, so a
code seen once (over a shoulder, in a replayed request) is refused afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from datetime import datetime
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
SECRET_BYTES = 20  # 160 bits, the size RFC 4226 recommends for HMAC-SHA-1
RECOVERY_CODES = 10
RECOVERY_CHARS = 16  # base32: 80 bits each, too many to guess even from a stolen digest
ISSUER = "Écoute"
POLICIES = ("off", "leads_and_admins", "everyone")


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def secret_text(secret: bytes) -> str:
    """The key as authenticator apps take it when typed: base32, no padding."""
    return base64.b32encode(secret).decode().rstrip("=")


def secret_from_text(text: str) -> bytes:
    """The key back from its base32 text (spaces and lower case allowed)."""
    cleaned = "".join(text.split()).upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def step_at(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def code_at_step(secret: bytes, step: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """The HOTP value (RFC 4226) of this counter: dynamic truncation of an HMAC."""
    mac = hmac.new(secret, struct.pack(">Q", step), digest).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def code_at(secret: bytes, now: datetime) -> str:
    return code_at_step(secret, step_at(now))


def is_totp_shaped(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def matching_step(secret: bytes, code: str, now: datetime, last_step: int | None) -> int | None:
    """The step this code belongs to (within the drift window, after ``last_step``), or None.

    Every candidate step is compared in constant time, so timing tells nothing about which
    step (if any) matched.
    """
    code = code.strip()
    if not is_totp_shaped(code):
        return None
    current = step_at(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        same = hmac.compare_digest(code_at_step(secret, step), code)
        if same and found is None and (last_step is None or step > last_step):
            found = step
    return found


def otpauth_uri(secret: bytes, account: str, issuer: str = ISSUER) -> str:
    """The Key URI authenticator apps scan from the QR code."""
    label = quote(f"{issuer}:{account}", safe="@:")
    query = urlencode(
        {
            "secret": secret_text(secret),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_SECONDS,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


_RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """Fresh one-time codes, grouped by four for reading aloud: ``abcd-efgh-ijkm-nopq``."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(RECOVERY_CHARS))
        codes.append("-".join(raw[i : i + 4] for i in range(0, RECOVERY_CHARS, 4)))
    return codes


def normalise_recovery_code(code: str) -> str | None:
    """The code as stored (lower case, no dashes or spaces), or None if it cannot be one."""
    cleaned = "".join(c for c in code.lower() if c not in "- \t")
    if len(cleaned) != RECOVERY_CHARS or any(c not in _RECOVERY_ALPHABET for c in cleaned):
        return None
    return cleaned


def recovery_digest(code: str) -> bytes:
    """What is stored of a recovery code (80 random bits: a plain SHA-256 cannot be reversed)."""
    return hashlib.sha256(b"ecoute-recovery:" + code.encode()).digest()


def two_factor_required(policy: str, role: str) -> bool:
    """Whether the workspace's policy obliges a user with this role to use two-factor."""
    if policy == "everyone":
        return True
    return policy == "leads_and_admins" and role in ("lead", "admin")
