"""TOTP as authenticator apps compute it (RFC 6238's own vectors), drift, replay, recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.infra.secretbox import SecretBox, SecretBoxError, parse_key
from services.triage.domain.two_factor import (
    code_at,
    code_at_step,
    matching_step,
    new_recovery_codes,
    new_secret,
    normalise_recovery_code,
    otpauth_uri,
    recovery_digest,
    secret_from_text,
    secret_text,
    step_at,
    two_factor_required,
)
from tools.dev import dev_two_factor_key

RFC_SECRET = b"12345678901234567890"  # RFC 6238 appendix B, SHA-1 seed

# (Unix time, 8-digit TOTP) from RFC 6238 appendix B, SHA-1 column.
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("seconds", "expected"), RFC_VECTORS)
def test_rfc_6238_vectors(seconds: int, expected: str) -> None:
    now = datetime.fromtimestamp(seconds, UTC)
    assert code_at_step(RFC_SECRET, step_at(now), digits=8) == expected
    assert code_at(RFC_SECRET, now) == expected[-6:]  # the six digits apps show


def test_rfc_4226_hotp_vectors() -> None:
    expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922"]
    assert [code_at_step(RFC_SECRET, i) for i in range(7)] == expected


NOW = datetime(2026, 11, 21, 9, 0, 10, tzinfo=UTC)


def test_a_code_is_accepted_one_step_either_side_and_not_two() -> None:
    secret = new_secret()
    step = step_at(NOW)
    for delta in (-1, 0, 1):
        code = code_at(secret, NOW + timedelta(seconds=30 * delta))
        assert matching_step(secret, code, NOW, None) == step + delta
    for delta in (-2, 2):
        code = code_at(secret, NOW + timedelta(seconds=30 * delta))
        assert matching_step(secret, code, NOW, None) is None


def test_a_code_is_refused_for_a_step_not_later_than_the_last_accepted() -> None:
    secret = new_secret()
    step = step_at(NOW)
    code = code_at(secret, NOW)
    assert matching_step(secret, code, NOW, step) is None  # replayed
    assert matching_step(secret, code, NOW, step + 1) is None  # a later code was used
    assert matching_step(secret, code, NOW, step - 1) == step
    later = code_at(secret, NOW + timedelta(seconds=30))
    assert matching_step(secret, later, NOW, step) == step + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", "abcdef"])
def test_malformed_codes_match_nothing(code: str) -> None:
    assert matching_step(RFC_SECRET, code, NOW, None) is None


def test_the_key_text_round_trips_as_apps_type_it() -> None:
    secret = new_secret()
    text = secret_text(secret)
    assert len(text) == 32 and "=" not in text
    assert secret_from_text(" ".join(text[i : i + 4] for i in range(0, 32, 4)).lower()) == secret


def test_the_otpauth_uri_carries_what_apps_need() -> None:
    uri = otpauth_uri(RFC_SECRET, "ana@acme.test")
    assert uri.startswith("otpauth://totp/%C3%89coute:ana@acme.test?")
    assert f"secret={secret_text(RFC_SECRET)}" in uri
    assert "issuer=%C3%89coute" in uri and "digits=6" in uri and "period=30" in uri


def test_recovery_codes_are_ten_distinct_and_read_back_in_any_case() -> None:
    codes = new_recovery_codes()
    assert len(set(codes)) == 10
    for code in codes:
        stored = normalise_recovery_code(code.upper().replace("-", " "))
        assert stored == code.replace("-", "")
        assert recovery_digest(stored) != recovery_digest(stored[::-1])
    assert normalise_recovery_code("123456") is None
    assert normalise_recovery_code("abcd-efgh-ijkl-mno1") is None


@pytest.mark.parametrize(
    ("policy", "role", "required"),
    [
        ("off", "admin", False),
        ("leads_and_admins", "agent", False),
        ("leads_and_admins", "lead", True),
        ("leads_and_admins", "admin", True),
        ("everyone", "agent", True),
    ],
)
def test_who_must_enrol(policy: str, role: str, required: bool) -> None:
    assert two_factor_required(policy, role) is required


def test_the_development_key_is_made_once_private_and_valid(tmp_path: Path) -> None:
    first = dev_two_factor_key(tmp_path / "pgdata")
    assert dev_two_factor_key(tmp_path / "pgdata") == first
    assert len(parse_key(first)) == 32
    assert (tmp_path / "pgdata" / "two-factor.key").stat().st_mode & 0o777 == 0o600


def test_a_sealed_secret_opens_only_with_its_key_and_for_its_user() -> None:
    box = SecretBox(b"k" * 32)
    sealed = box.seal(RFC_SECRET, b"user-1")
    assert RFC_SECRET not in sealed
    assert box.open(sealed, b"user-1").plain == RFC_SECRET
    with pytest.raises(SecretBoxError):
        box.open(sealed, b"user-2")
    with pytest.raises(SecretBoxError):
        SecretBox(b"x" * 32).open(sealed, b"user-1")
    with pytest.raises(ValueError, match="32 bytes"):
        parse_key("c2hvcnQ=")
