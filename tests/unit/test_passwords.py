"""Password hashes: argon2id at or above OWASP's parameters; scrypt hashes of earlier
versions still verify and come back upgraded."""

from __future__ import annotations

from argon2 import PasswordHasher, Type, extract_parameters

from services.triage.access import passwords
from tests.support.world import scrypt_hash


def test_new_hashes_are_argon2id_at_owasps_parameters_or_above() -> None:
    stored = passwords.hash_password("correct horse battery")
    params = extract_parameters(stored)
    assert stored.startswith("$argon2id$") and params.type is Type.ID
    # OWASP: m=19 MiB, t=2, p=1 (or a memory/time trade of the same cost).
    assert params.memory_cost >= 19 * 1024 and params.time_cost >= 2
    assert params.salt_len >= 16 and params.hash_len >= 32
    assert passwords.check("correct horse battery", stored) == passwords.Checked(True)
    assert passwords.check("correct horse batterY", stored) == passwords.Checked(False)


def test_a_scrypt_hash_verifies_and_comes_back_as_argon2id() -> None:
    old = scrypt_hash("correct horse battery")
    checked = passwords.check("correct horse battery", old)
    assert checked.right and checked.upgrade is not None
    assert checked.upgrade.startswith("$argon2id$")
    assert passwords.check("correct horse battery", checked.upgrade) == passwords.Checked(True)
    assert passwords.check("wrong", old) == passwords.Checked(False), "no upgrade when wrong"


def test_weaker_argon2_parameters_are_upgraded_too() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("pw")
    checked = passwords.check("pw", weak)
    assert checked.right and checked.upgrade is not None
    assert extract_parameters(checked.upgrade).memory_cost == 19 * 1024


def test_no_user_no_password_or_garbage_is_never_right() -> None:
    for stored in (None, "", "scrypt$broken", "$argon2id$nonsense", "plain-text"):
        assert passwords.check("anything", stored) == passwords.Checked(False), stored
