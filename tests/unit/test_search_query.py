"""What a search box's text asks the store for, and how a snippet's marks become offsets."""

from __future__ import annotations

from services.triage.search.store import HIGHLIGHT_START as A
from services.triage.search.store import HIGHLIGHT_STOP as Z
from services.triage.search.usecases import parse_query, split_snippet


def test_tokens_with_digits_become_prefixes_and_nothing_else_reaches_tsquery() -> None:
    query = parse_query("Booking ABX4TR & order 12345:* or 3!")
    assert query.references == "12345:* | 3 | abx4tr:*"
    assert query.words == "Booking ABX4TR & order 12345:* or 3!"
    assert query.handle == ""


def test_one_word_is_also_a_handle_with_or_without_its_at() -> None:
    assert parse_query("@Jane.Doe").handle == "jane.doe"
    assert parse_query("remboursement").handle == "remboursement"
    assert parse_query("refund please").handle == ""


def test_a_snippet_is_plain_text_with_the_offsets_of_its_matches() -> None:
    snippet = split_snippet(f"<b>Booking</b> {A}ABX4TR{Z}: never {A}confirmed{Z}")
    assert snippet.text == "<b>Booking</b> ABX4TR: never confirmed"
    assert [snippet.text[s:e] for s, e in snippet.highlights] == ["ABX4TR", "confirmed"]
