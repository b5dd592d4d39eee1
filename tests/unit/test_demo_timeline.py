"""The demo's first five minutes, decided by the real triage, detector plan and SLA rules.

``make run`` promises an incident forming from the Lyon outage, a P1 clock going at risk then
breached, and a moderation incident from a pile-on, all within five minutes of the start.
Here the corpus's timeline is replayed on a fixed clock (each message seen 5 s after it is
written, as the 5-second polls do) through ``Triage.decide`` and the detector's ``plan``,
ticking every 5 s: the pure decisions the services make, without the services.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from demo.feed import BACKLOG, LIVE, load_corpus, timeline, written_at
from demo.scenes import ANSWERS, DEMO_POLICY, plan
from services.triage.domain import sla
from services.triage.domain.incidents import (
    OpenIncident,
    Signal,
    author_key,
    sketch_of_terms,
    terms,
)
from services.triage.domain.incidents import plan as incident_plan
from services.triage.domain.triage import Triage, default_triage
from services.triage.sla.policy import parse_policy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SEEN_AFTER = timedelta(seconds=5)  # a poll's delay
FIVE_MINUTES = T0 + timedelta(minutes=5)
BURST = ("d-0160", "d-0161", "d-0162", "d-0163", "d-0164", "d-0165")
PILE_ON = tuple(f"d-{n:04d}" for n in range(188, 194))


@pytest.fixture(scope="module")
def triage() -> Triage:
    return default_triage()


def _arrivals() -> list[tuple[datetime, datetime, dict[str, Any]]]:
    """(when written, when the services see it, item) for the corpus's inbound messages."""
    found = []
    for due, item in timeline(load_corpus()):
        now = T0 + timedelta(seconds=due)
        if (item.get("direction") or "in") == "in":
            found.append((written_at(item, T0, now), now + SEEN_AFTER, item))
    return found


@pytest.mark.parametrize("interval", [1.5, 0.0])
def test_the_timeline_writes_what_is_answered_before_the_answer(interval: float) -> None:
    """At the demo's pace and in a test's instant replay alike."""
    corpus = load_corpus()
    arrivals = timeline(corpus, interval=interval)
    order = {item["external_id"]: n for n, (_, item) in enumerate(arrivals)}
    for item in corpus:
        if item.get("in_reply_to"):
            assert order[item["in_reply_to"]] < order[item["external_id"]], item["external_id"]
    first = {item["external_id"] for _, item in arrivals[:BACKLOG]}
    assert {a.answers for a in ANSWERS} <= first  # the lead answers what is already there
    live = [item for item in corpus if LIVE in item]
    assert {item["external_id"] for item in live} >= set(BURST) | set(PILE_ON)
    assert all(0 < item[LIVE] < 300 for item in live)


def test_the_burst_and_the_pile_on_become_incidents_within_five_minutes(
    triage: Triage,
) -> None:
    signals: list[tuple[datetime, Signal]] = []  # (seen, signal)
    ids = {}
    for n, (at, seen, item) in enumerate(_arrivals(), start=1):
        decision = triage.decide(item["text"], kind=item["kind"])
        ids[n] = item["external_id"]
        if decision.needs_answer or decision.abuse:
            words = terms(item["text"])
            signal = Signal(
                message_id=n,
                conversation_id=n,
                author=author_key(item["text"], item["author"]["handle"]),
                platform=item["platform"],
                language=decision.language,
                abuse=decision.abuse,
                at=at,
                sketch=sketch_of_terms(words),
                terms=tuple(words[:40]),
            )
            signals.append((seen, signal))

    open_incidents: list[OpenIncident] = []
    member_of: dict[int, int] = {}
    opened_at: dict[int, datetime] = {}
    now = T0
    while now <= FIVE_MINUTES:
        visible = [
            replace(s, incident_id=member_of.get(s.message_id)) for t, s in signals if t <= now
        ]
        window = [s for s in visible if s.at > now - timedelta(minutes=15)]
        baseline = [
            s for s in visible if now - timedelta(hours=24) < s.at <= now - timedelta(minutes=15)
        ]
        decided = incident_plan(window, baseline, open_incidents, now)
        for opened in decided.opened:
            number = len(opened_at) + 1
            opened_at[number] = now
            open_incidents.append(
                OpenIncident(
                    number,
                    opened.kind,
                    opened.sketch,
                    opened.first_seen,
                    opened.last_seen,
                    opened.members,
                )
            )
            member_of |= {m.message_id: number for m in opened.members}
        for grown in decided.grown:
            member_of |= {m.message_id: grown.incident_id for m in grown.added}
            open_incidents = [
                replace(i, members=i.members + grown.added, last_seen=grown.last_seen)
                if i.id == grown.incident_id
                else i
                for i in open_incidents
            ]
        now += timedelta(seconds=5)

    members: dict[int, set[str]] = {}
    for message, incident in member_of.items():
        members.setdefault(incident, set()).add(ids[message])
    kinds = {i.id: i.kind for i in open_incidents}
    assert sorted(kinds.values()) == ["customer", "moderation"], members
    customer = next(i for i, kind in kinds.items() if kind == "customer")
    moderation = next(i for i, kind in kinds.items() if kind == "moderation")
    assert len(members[customer] & set(BURST)) >= 5
    assert members[moderation] <= set(PILE_ON) and len(members[moderation]) >= 5
    # Live: nothing before the burst began, both within five minutes.
    assert T0 + timedelta(seconds=60) < opened_at[customer] < T0 + timedelta(minutes=3)
    assert opened_at[moderation] < FIVE_MINUTES


def test_the_p1_report_goes_at_risk_then_breaches_within_five_minutes(triage: Triage) -> None:
    policy = parse_policy(DEMO_POLICY)
    p1 = [
        (at, item)
        for at, _, item in _arrivals()
        if LIVE in item and triage.decide(item["text"], kind=item["kind"]).priority == 1
    ]
    assert [item["external_id"] for _, item in p1] == ["d-0186"]
    at, _ = p1[0]
    clock = sla.start("first_response", 1, at, policy)
    state = lambda seconds: sla.state(  # noqa: E731
        clock, policy.calendar, policy.at_risk_ratio, T0 + timedelta(seconds=seconds)
    )
    assert state(200) == "ok"
    assert state(220) == "at_risk"
    assert state(280) == "breached"


def test_without_the_lead_the_plan_promises_only_what_the_corpus_does() -> None:
    assert [line.strip()[:4] for line in plan(with_lead=False)[1:]] == ["1:00", "3:15"]
