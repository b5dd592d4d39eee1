"""Secrets that must be read back (TOTP keys) sealed at rest with AES-256-GCM.

A password or a recovery code can be stored as a digest; a TOTP secret cannot, because the
server must compute codes from it. So it is encrypted with a key that lives in configuration
(``TRIAGE_TWO_FACTOR_KEY``), never in the database: a copy of the database alone does not
let anyone compute a user's codes. The ciphertext is bound to its row (``context``: the
workspace and user ids), so it cannot be pasted onto another user.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"
NONCE_BYTES = 12


class SecretBoxError(ValueError):
    """A sealed value that does not open with this key (wrong key, or tampered with)."""


def parse_key(text: str) -> bytes:
    """A 32-byte key from its base64 text (``python -c "import secrets, base64;
    print(base64.b64encode(secrets.token_bytes(32)).decode())"``)."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the two-factor key must be base64") from None
    if len(key) != 32:
        raise ValueError("the two-factor key must be 32 bytes (44 base64 characters)")
    return key


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plain: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return VERSION + nonce + self._aead.encrypt(nonce, plain, context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        if sealed[:1] != VERSION:
            raise SecretBoxError("unknown sealed format")
        nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, context)
        except InvalidTag:
            raise SecretBoxError("sealed with another key, or altered") from None
