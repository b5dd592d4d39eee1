"""Sealing TOTP secrets across a key rotation: the first format (no key id) still opens,
new values name their key, old keys open but are reported, and nothing else opens."""

from __future__ import annotations

import base64
import secrets

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import ValidationError

from services.infra.secretbox import (
    KEY_ID_BYTES,
    NONCE_BYTES,
    V1,
    V2,
    SecretBox,
    SecretBoxError,
    key_id,
    parse_keys,
)
from services.triage.settings import TriageSettings

OLD, NEW, OTHER = b"o" * 32, b"n" * 32, b"x" * 32
SECRET = b"12345678901234567890"
CONTEXT = b"totp:ws:user"


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def sealed_in_the_first_format(key: bytes, plain: bytes, context: bytes) -> bytes:
    """A value as the service sealed it before key ids: 01 | nonce | ciphertext."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return V1 + nonce + AESGCM(key).encrypt(nonce, plain, context)


def test_values_sealed_in_the_first_format_still_open_and_ask_to_be_resealed() -> None:
    sealed = sealed_in_the_first_format(OLD, SECRET, CONTEXT)
    same_key = SecretBox(OLD).open(sealed, CONTEXT)
    assert (same_key.plain, same_key.old_key, same_key.needs_reseal) == (SECRET, False, True)
    rotated = SecretBox(NEW, [OTHER, OLD]).open(sealed, CONTEXT)
    assert (rotated.plain, rotated.old_key, rotated.old_format) == (SECRET, True, True)
    with pytest.raises(SecretBoxError):
        SecretBox(NEW, [OTHER]).open(sealed, CONTEXT)


def test_new_values_carry_the_id_of_the_key_that_sealed_them() -> None:
    sealed = SecretBox(NEW, [OLD]).seal(SECRET, CONTEXT)
    assert sealed[:1] == V2 and sealed[1 : 1 + KEY_ID_BYTES] == key_id(NEW)
    assert SECRET not in sealed and NEW not in sealed
    opened = SecretBox(NEW).open(sealed, CONTEXT)
    assert (opened.plain, opened.needs_reseal) == (SECRET, False)


def test_after_a_rotation_an_old_key_opens_and_is_reported_and_a_reseal_needs_only_the_new() -> (
    None
):
    before = SecretBox(OLD).seal(SECRET, CONTEXT)
    rotated = SecretBox(NEW, [OLD])
    opened = rotated.open(before, CONTEXT)
    assert (opened.plain, opened.old_key, opened.old_format) == (SECRET, True, False)
    again = rotated.seal(opened.plain, CONTEXT)
    assert SecretBox(NEW).open(again, CONTEXT).plain == SECRET
    with pytest.raises(SecretBoxError):
        SecretBox(OLD).open(again, CONTEXT)


def test_the_current_key_listed_among_the_old_is_still_current() -> None:
    sealed = SecretBox(NEW).seal(SECRET, CONTEXT)
    assert SecretBox(NEW, [NEW, OLD]).open(sealed, CONTEXT).old_key is False


def test_a_value_relabelled_with_another_keys_id_does_not_open() -> None:
    """The key id is bound to the ciphertext (authenticated with the context) and picks the
    key: changing it to another configured key's id does not make the value open."""
    sealed = SecretBox(OLD).seal(SECRET, CONTEXT)
    relabelled = V2 + key_id(NEW) + sealed[1 + KEY_ID_BYTES :]
    with pytest.raises(SecretBoxError):
        SecretBox(NEW, [OLD]).open(relabelled, CONTEXT)


def test_a_value_opens_with_no_unlisted_key_and_for_no_other_user() -> None:
    sealed = SecretBox(OLD).seal(SECRET, CONTEXT)
    with pytest.raises(SecretBoxError, match="no configured key"):
        SecretBox(NEW, [OTHER]).open(sealed, CONTEXT)
    with pytest.raises(SecretBoxError):
        SecretBox(OLD).open(sealed, b"totp:ws:another-user")


@pytest.mark.parametrize("first_format", [False, True])
def test_any_altered_or_truncated_byte_is_refused(first_format: bool) -> None:
    box = SecretBox(NEW, [OLD])
    sealed = (
        sealed_in_the_first_format(OLD, SECRET, CONTEXT)
        if first_format
        else box.seal(SECRET, CONTEXT)
    )
    for position in range(len(sealed)):
        altered = bytearray(sealed)
        altered[position] ^= 0x01
        with pytest.raises(SecretBoxError):
            box.open(bytes(altered), CONTEXT)
    for length in range(len(sealed)):
        with pytest.raises(SecretBoxError):
            box.open(sealed[:length], CONTEXT)


def test_old_keys_parse_from_a_comma_separated_list() -> None:
    assert parse_keys(f" {b64(OLD)} , ,{b64(OTHER)},", "S") == [OLD, OTHER]
    assert parse_keys("", "S") == []


@pytest.mark.parametrize(
    ("entry", "problem"),
    [("not base64!", "must be base64"), (b64(b"short"), "must be 32 bytes")],
)
def test_a_malformed_old_key_is_named_by_setting_and_position_never_echoed(
    entry: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIAGE_TWO_FACTOR_KEY", b64(NEW))
    monkeypatch.setenv("TRIAGE_TWO_FACTOR_OLD_KEYS", f"{b64(OLD)},{entry}")
    with pytest.raises(ValidationError) as raised:
        TriageSettings()
    message = str(raised.value)
    assert "TRIAGE_TWO_FACTOR_OLD_KEYS, key 2" in message and problem in message
    assert entry not in message and b64(OLD) not in message and b64(NEW) not in message


def test_a_malformed_current_key_is_named_and_never_echoed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIAGE_TWO_FACTOR_KEY", "secret-but-not-base64!")
    with pytest.raises(ValidationError) as raised:
        TriageSettings()
    assert "TRIAGE_TWO_FACTOR_KEY: the two-factor key must be base64" in str(raised.value)
    assert "secret-but-not-base64" not in str(raised.value)


def test_old_keys_without_a_current_key_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIAGE_TWO_FACTOR_KEY", raising=False)
    monkeypatch.setenv("TRIAGE_TWO_FACTOR_OLD_KEYS", b64(OLD))
    with pytest.raises(ValidationError, match="needs TRIAGE_TWO_FACTOR_KEY"):
        TriageSettings()


def test_the_settings_build_a_box_that_opens_with_the_old_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = SecretBox(OLD).seal(SECRET, CONTEXT)
    monkeypatch.setenv("TRIAGE_TWO_FACTOR_KEY", b64(NEW))
    monkeypatch.setenv("TRIAGE_TWO_FACTOR_OLD_KEYS", f"{b64(OTHER)},{b64(OLD)}")
    box = TriageSettings().two_factor_box()
    assert box is not None and box.open(before, CONTEXT).old_key is True
    monkeypatch.delenv("TRIAGE_TWO_FACTOR_OLD_KEYS")
    box = TriageSettings().two_factor_box()
    assert box is not None
    with pytest.raises(SecretBoxError):
        box.open(before, CONTEXT)
