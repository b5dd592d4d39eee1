"""Saved replies' placeholders, the rule against one saved reply sent word for word to many
people, and the move to private messages (pure functions of the composer)."""

from __future__ import annotations

import pytest

from services.triage.domain.composer import (
    closest,
    fill,
    first_name,
    generalise,
    invitation,
    latest_reference,
    references,
    same_text,
    unchanged_to_many,
    unfilled,
)

TEMPLATE = "Hi {name}, we are checking booking {reference} now."


def test_known_placeholders_are_filled_and_the_unknown_stay_visible() -> None:
    filled = fill(TEMPLATE, {"name": "Sam", "reference": ""})
    assert filled.text == "Hi Sam, we are checking booking {reference} now."
    assert filled.unfilled == ("reference",)
    assert fill(TEMPLATE, {"name": "Sam", "reference": "KD29XF"}).unfilled == ()
    assert fill("Dear {customer}", {"name": "Sam"}).text == "Dear {customer}"


def test_unfilled_names_each_placeholder_once_and_ignores_other_braces() -> None:
    assert unfilled("{name} {reference} {name}") == ("name", "reference")
    assert unfilled("a set {1, 2} and {Name} and {} are no placeholders") == ()


@pytest.mark.parametrize(
    ("display", "expected"),
    [("Sam A.", "Sam"), ("Marc-Antoine B.", "Marc-Antoine"), ("J.", ""), ("", ""), ("  ", "")],
)
def test_a_reply_greets_the_first_name(display: str, expected: str) -> None:
    assert first_name(display) == expected


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["refund for booking KD29XF please"], "KD29XF"),
        (["File ref BOS-20417. Tracker says located"], "BOS-20417"),
        (["booking QX7M2L", "still nothing, flight 482 LHR→DUB"], "QX7M2L"),
        (["first AB12CD", "now it is ZZ98YY"], "ZZ98YY"),
        (["flight 482 LHR to DUB, 4G down, 34,99€"], ""),
        ([], ""),
    ],
)
def test_the_reference_is_the_latest_one_the_customer_wrote(
    texts: list[str], expected: str
) -> None:
    assert latest_reference(texts) == expected


def test_spacing_is_not_an_edit() -> None:
    assert same_text("Hi Sam,\n\nwe are on it. ", "Hi Sam, we are on it.")
    assert not same_text("Hi Sam, we are on it.", "Hi Sam, we are on it!")


@pytest.mark.parametrize(
    ("earlier", "refused"),
    [
        (set(), False),  # nobody got it yet: the first person may
        ({"x:1"}, False),  # the same person again
        ({"x:2"}, True),  # someone else got it word for word: edit it
        ({"x:1", "x:2"}, True),
    ],
)
def test_a_saved_reply_reaches_one_person_unchanged_at_most(
    earlier: set[str], refused: bool
) -> None:
    assert unchanged_to_many("x:1", earlier) is refused


def test_x_invites_to_a_direct_message_with_the_deep_link_when_the_account_is_known() -> None:
    move = invitation("x", "mention", "Sam", "SkylarkAir", "3805104374")
    assert move.offered
    assert "https://x.com/messages/compose?recipient_id=3805104374" in move.text
    assert move.text.startswith("Hi Sam,")
    assert "@SkylarkAir" in invitation("x", "mention", "", "SkylarkAir", "").text


@pytest.mark.parametrize(
    ("platform", "kind", "offered"),
    [
        ("facebook", "comment", True),
        ("instagram", "comment", True),
        ("mastodon", "mention", True),
        ("bluesky", "mention", False),
        ("x", "dm", False),
        ("messenger", "dm", False),
    ],
)
def test_the_move_is_offered_only_where_the_platform_allows_it(
    platform: str, kind: str, offered: bool
) -> None:
    move = invitation(platform, kind, "Ana", "brand", "")
    assert move.offered is offered
    assert bool(move.text) is offered and bool(move.reason) is not offered


def test_the_closest_texts_come_first_and_the_unrelated_not_at_all() -> None:
    candidates = [
        ("wifi", "The wifi on board did not work at all during the whole trip"),
        ("refund", "My refund for the cancelled Faro flight never arrived, booking QX7M2L"),
        ("fibre", "Panne fibre à Lyon 3e, box en rouge depuis ce matin"),
    ]
    found = closest("Still waiting for my refund, the flight was cancelled", candidates, 0.2, 3)
    assert [key for key, _ in found] == ["refund"]
    assert closest("Box en rouge, panne de fibre Lyon", candidates, 0.2, 3)[0][0] == "fibre"
    assert closest("thanks a lot, all good", candidates, 0.2, 3) == []


def test_another_customers_answer_loses_their_name_and_references() -> None:
    answer = "Sorry Graham, booking QX7M2L (and QX7M2LB) is refunded, @graham_w. Grahamstown!"
    earlier = {"name": "Graham", "handle": "@graham_w", "reference": "QX7M2L"}
    template = generalise(answer, earlier, references(["ref QX7M2L", "and QX7M2LB"]))
    assert template == (
        "Sorry {name}, booking {reference} (and {reference}) is refunded, {handle}. Grahamstown!"
    )
    assert fill(template, {"name": "Sam", "reference": "KD29XF"}).unfilled == ("handle",)
    assert generalise("No details here.", {"name": ""}, ()) == "No details here."
