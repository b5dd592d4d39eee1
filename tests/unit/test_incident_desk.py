"""What a lead may do to incidents by hand, decided on plain data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.triage.domain.incident_desk import (
    IncidentState,
    close_refusal,
    merge_refusal,
    reopen_refusal,
    split_label,
    split_refusal,
    summarise,
)
from services.triage.domain.incidents import Member

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
OPEN_A = IncidentState(1, "customer", "open")
OPEN_B = IncidentState(2, "customer", "open")


def member(i: int, author: str, *, minutes: int = 0, flooding: bool = False, **kw: str) -> Member:
    return Member(
        message_id=i,
        conversation_id=100 + i,
        author=author,
        platform=kw.get("platform", "x"),
        language=kw.get("language", "en"),
        at=T0 + timedelta(minutes=minutes),
        flooding=flooding,
    )


def test_a_summary_counts_people_platforms_languages_and_the_span() -> None:
    summary = summarise(
        [
            member(1, "ana", minutes=5),
            member(2, "bo", minutes=1, platform="facebook", language="fr"),
            member(3, "cy", minutes=9),
        ]
    )
    assert summary.message_count == 3 and summary.author_count == 3
    assert summary.platforms == ("facebook", "x") and summary.languages == ("en", "fr")
    assert summary.first_seen == T0 + timedelta(minutes=1)
    assert summary.last_seen == T0 + timedelta(minutes=9)


def test_a_flooding_author_is_one_person() -> None:
    flood = [member(i, "spammy", minutes=i, flooding=True) for i in range(20)]
    summary = summarise([*flood, member(99, "ana")])
    assert summary.message_count == 21 and summary.author_count == 2


def test_an_empty_incident_has_no_span() -> None:
    summary = summarise([])
    assert summary.message_count == 0 and summary.first_seen is None


def test_merging_refuses_itself_a_closed_target_a_merged_source_and_another_kind() -> None:
    assert merge_refusal(OPEN_A, OPEN_B) is None
    itself = merge_refusal(OPEN_A, OPEN_A)
    assert itself is not None and itself.status == 422 and itself.pointer == "/incident_id"
    closed = merge_refusal(IncidentState(1, "customer", "closed", "manual"), OPEN_B)
    assert closed is not None and closed.status == 409
    merged = merge_refusal(OPEN_A, IncidentState(2, "customer", "closed", "merged"))
    assert merged is not None and merged.status == 409
    quiet = IncidentState(2, "customer", "closed", "quiet")
    assert merge_refusal(OPEN_A, quiet) is None  # an earlier wave joins the ongoing one
    kind = merge_refusal(OPEN_A, IncidentState(2, "moderation", "open"))
    assert kind is not None and kind.status == 409 and "moderation" in kind.detail


def test_splitting_needs_some_but_not_all_of_the_incidents_conversations() -> None:
    inside = [10, 11, 12]
    assert split_refusal(OPEN_A, inside, [12]) is None
    none = split_refusal(OPEN_A, inside, [])
    assert none is not None and none.status == 422
    every = split_refusal(OPEN_A, inside, [10, 11, 12])
    assert every is not None and every.status == 409
    stranger = split_refusal(OPEN_A, inside, [12, 99])
    assert stranger is not None and stranger.status == 422 and "99" in stranger.detail
    closed = split_refusal(IncidentState(1, "customer", "closed", "quiet"), inside, [12])
    assert closed is not None and closed.status == 409


def test_close_and_reopen_follow_the_status() -> None:
    closed = IncidentState(1, "customer", "closed", "manual")
    assert close_refusal(OPEN_A) is None
    assert close_refusal(closed) is not None
    assert reopen_refusal(closed) is None
    assert reopen_refusal(OPEN_A) is not None
    merged = reopen_refusal(IncidentState(1, "customer", "closed", "merged"))
    assert merged is not None and "merged" in merged.detail


def test_a_split_off_part_gets_a_readable_default_label() -> None:
    assert split_label("wifi down", 1) == "wifi down (split, 1 conversation)"
    assert split_label("wifi down", 3) == "wifi down (split, 3 conversations)"
