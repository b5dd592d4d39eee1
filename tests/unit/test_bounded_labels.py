"""A per-brand label that stays bounded: slugs of names for the first few, "other" after."""

from __future__ import annotations

import pytest

from services.infra.metrics import LABEL_MAX_CHARS, bounded_labels, slug


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Acme Telecom", "acme-telecom"),
        ("  Société Générale — Care ", "societe-generale-care"),
        ("ÉCOUTE/fr_FR", "ecoute-fr-fr"),
        ("株式会社", ""),
        ("---", ""),
        ("x" * 100, "x" * LABEL_MAX_CHARS),
    ],
)
def test_a_name_becomes_a_short_ascii_slug(name: str, expected: str) -> None:
    assert slug(name) == expected


def test_the_first_names_keep_theirs_and_the_rest_share_other() -> None:
    names = [(1, "Acme Telecom"), (2, "Bravo Air"), (3, "Charlie Bank"), (4, "Delta")]
    assert bounded_labels(names, 2) == {
        1: "acme-telecom",
        2: "bravo-air",
        3: "other",
        4: "other",
    }


def test_a_new_key_never_takes_an_older_keys_label() -> None:
    before = bounded_labels([(1, "Acme"), (2, "Bravo")], 2)
    after = bounded_labels([(1, "Acme"), (2, "Bravo"), (3, "Aardvark")], 2)
    assert after[1] == before[1] and after[2] == before[2] and after[3] == "other"


def test_an_empty_taken_or_reserved_slug_is_other_and_costs_no_place() -> None:
    names = [(1, "株式会社"), (2, "Acme"), (3, "ACME"), (4, "Other"), (5, "Bravo")]
    assert bounded_labels(names, 2) == {
        1: "other",
        2: "acme",
        3: "other",
        4: "other",
        5: "bravo",
    }


def test_whatever_the_number_of_keys_there_are_at_most_cap_plus_one_values() -> None:
    names = [(i, f"brand {i}") for i in range(1000)]
    assert len(set(bounded_labels(names, 10).values())) == 11
    assert set(bounded_labels(names, 0).values()) == {"other"}
