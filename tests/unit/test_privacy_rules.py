"""Who an erasure or export names, and when retention purges: the pure rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.triage.domain.privacy import (
    Identity,
    counts_for_conversation,
    effective_retention_days,
    erasure_locks,
    identities_digest,
    normalise,
    purge_before,
)


def test_the_same_person_named_in_another_order_or_case_is_the_same_request() -> None:
    one = normalise([Identity("x", " 42 ", ""), Identity("mastodon", "", "@Marie@Piaille.fr")])
    other = normalise(
        [
            Identity("mastodon", "", "marie@piaille.fr"),
            Identity("x", "42", ""),
            Identity("x", "42"),
        ]
    )
    assert (
        one
        == other
        == (
            Identity("mastodon", "", "marie@piaille.fr"),
            Identity("x", "42", ""),
        )
    )
    assert identities_digest(one) == identities_digest(other)
    assert identities_digest(one) != identities_digest(one[:1])


def test_an_identity_with_neither_id_nor_handle_names_no_one() -> None:
    assert normalise([Identity("x", "  ", "@"), Identity("bluesky", "", " ")]) == ()


def test_a_workspace_setting_wins_over_the_default_and_null_keeps_forever() -> None:
    assert effective_retention_days(None, False, 730) == 730
    assert effective_retention_days(30, True, 730) == 30
    assert effective_retention_days(None, True, 730) == 0
    assert effective_retention_days(None, False, 0) == 0


def test_retention_purges_what_was_last_active_before_the_cut() -> None:
    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    assert purge_before(now, 30) == now - timedelta(days=30)
    assert purge_before(now, 0) is None


def test_a_late_message_the_inbox_erased_asks_for_no_answer_but_an_answer_still_counts() -> None:
    assert counts_for_conversation("in", erased=False)
    assert not counts_for_conversation("in", erased=True)
    assert counts_for_conversation("out", erased=True)
    assert counts_for_conversation("out", erased=False)


def test_erasure_news_locks_its_workspace_alone_and_messages_share_theirs_in_key_order() -> None:
    a = uuid.UUID("00000002-0000-4000-8000-000000000000")
    b = uuid.UUID("80000001-0000-4000-8000-000000000000")  # a negative key: sorts first
    c = uuid.UUID("00000002-ffff-4fff-bfff-ffffffffffff")  # the same key as a
    assert erasure_locks([a, b, a], []) == [(-(2**31) + 1, False), (2, False)]
    assert erasure_locks([a, b], [c]) == [(-(2**31) + 1, False), (2, True)]
    assert erasure_locks([], [b]) == [(-(2**31) + 1, True)]
    assert erasure_locks([], []) == []
