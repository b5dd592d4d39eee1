"""Secrets that must be read back (TOTP keys) sealed at rest with AES-256-GCM.

A password or a recovery code can be stored as a digest; a TOTP secret cannot, because the
server must compute codes from it. So it is encrypted with a key that lives in configuration
(``TRIAGE_TWO_FACTOR_KEY``), never in the database: a copy of the database alone does not
let anyone compute a user's codes. The ciphertext is bound to its row (``context``: the
workspace and user ids), so it cannot be pasted onto another user.

Keys rotate: a box seals with its current key and opens with it or any old key it is given
(``TRIAGE_TWO_FACTOR_OLD_KEYS``), and says when a value should be sealed again. Two formats:

- v1 ``01 | nonce(12) | ciphertext``: no key id, so opening tries every key;
- v2 ``02 | key id(4) | nonce(12) | ciphertext``: the key id (a hash of the key, not the
  key) picks the key directly; the version and key id are authenticated with the context.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

V1 = b"\x01"
V2 = b"\x02"
NONCE_BYTES = 12
KEY_ID_BYTES = 4
_KEY_ID_LABEL = b"ecoute secretbox key id\x00"


class SecretBoxError(ValueError):
    """A sealed value that no key opens (sealed with another key, or tampered with)."""


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


def parse_keys(text: str, setting: str) -> list[bytes]:
    """Comma-separated base64 keys (blanks ignored); an error names the setting and the
    entry's position, never its text."""
    keys = []
    for position, entry in enumerate((e.strip() for e in text.split(",") if e.strip()), 1):
        try:
            keys.append(parse_key(entry))
        except ValueError as exc:
            raise ValueError(f"{setting}, key {position}: {exc}") from None
    return keys


def key_id(key: bytes) -> bytes:
    """A short public name for a key: 4 bytes of a labelled SHA-256 of it."""
    return hashlib.sha256(_KEY_ID_LABEL + key).digest()[:KEY_ID_BYTES]


@dataclass(frozen=True, slots=True)
class Opened:
    plain: bytes
    old_key: bool  # opened with one of the old keys
    old_format: bool  # v1: no key id

    @property
    def needs_reseal(self) -> bool:
        """Whether sealing it again would change how it is stored (current key, v2)."""
        return self.old_key or self.old_format


@dataclass(frozen=True, slots=True)
class _Key:
    id: bytes
    aead: AESGCM
    old: bool


class SecretBox:
    def __init__(self, key: bytes, old_keys: Iterable[bytes] = ()) -> None:
        self._current = _Key(key_id(key), AESGCM(key), old=False)
        self._keys = [self._current] + [
            _Key(key_id(k), AESGCM(k), old=True) for k in dict.fromkeys(old_keys) if k != key
        ]

    def seal(self, plain: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        header = V2 + self._current.id
        return header + nonce + self._current.aead.encrypt(nonce, plain, header + context)

    def open(self, sealed: bytes, context: bytes) -> Opened:
        """The plain value, and whether it was sealed with an old key or format."""
        version = sealed[:1]
        if version == V1:
            nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
            return self._first_to_open(self._keys, nonce, body, context, old_format=True)
        if version == V2:
            header, rest = sealed[: 1 + KEY_ID_BYTES], sealed[1 + KEY_ID_BYTES :]
            candidates = [k for k in self._keys if k.id == header[1:]]
            nonce, body = rest[:NONCE_BYTES], rest[NONCE_BYTES:]
            return self._first_to_open(candidates, nonce, body, header + context, old_format=False)
        raise SecretBoxError("unknown sealed format")

    @staticmethod
    def _first_to_open(
        keys: list[_Key], nonce: bytes, body: bytes, associated: bytes, *, old_format: bool
    ) -> Opened:
        if len(nonce) == NONCE_BYTES:
            for key in keys:
                try:
                    plain = key.aead.decrypt(nonce, body, associated)
                except InvalidTag:
                    continue
                return Opened(plain, old_key=key.old, old_format=old_format)
        raise SecretBoxError("no configured key opens it: sealed with another key, or altered")
