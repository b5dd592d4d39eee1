"""People's pure rules: which identities are the same account, and a conversation's first
line as the person's history shows it."""

from __future__ import annotations

import pytest

from services.triage.domain.people import PersonKey, first_line


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (PersonKey.of("x", "42", "@Marie"), PersonKey.of("x", "", "marie"), True),
        (PersonKey.of("x", "42"), PersonKey.of("x", "42", "other"), True),
        (PersonKey.of("x", "42", "marie"), PersonKey.of("x", "43", "marie"), False),
        (PersonKey.of("x", "42"), PersonKey.of("mastodon", "42"), False),
        (PersonKey.of("x", "42"), PersonKey.of("x", "", "marie"), False),
    ],
)
def test_the_same_account_by_id_or_by_handle(a: PersonKey, b: PersonKey, same: bool) -> None:
    assert a.same_as(b) is same


def test_handles_are_kept_without_case_or_at_sign() -> None:
    assert PersonKey.of("x", " 42 ", " @Marie ").as_dict() == {
        "platform": "x",
        "author_id": "42",
        "handle": "marie",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Where is my order?\nIt is late.", "Where is my order?"),
        ("\n\n  hello  \nworld", "hello"),
        ("", ""),
        ("word " * 40, ("word " * 23).strip() + "…"),
        ("x" * 130, "x" * 119 + "…"),
    ],
)
def test_the_first_line_is_cut_at_a_word(text: str, expected: str) -> None:
    assert first_line(text) == expected


def test_a_withheld_author_is_no_one() -> None:
    assert not PersonKey.of("instagram", "unknown").someone
    assert not PersonKey.of("x", "").someone
    assert PersonKey.of("x", "", "@marie").someone
    assert PersonKey.of("x", "42").someone
