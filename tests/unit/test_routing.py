"""Routing decisions on plain data: presence, skills, capacity, fairness, who may assign."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from services.triage.domain.routing import (
    Agent,
    Waiting,
    assign_refusal,
    choose,
    effective_presence,
    how_assigned,
    plan,
)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
IDLE = timedelta(minutes=15)


def agent(n: int, **kw: object) -> Agent:
    values: dict[str, object] = {
        "user_id": uuid.UUID(int=n),
        "presence": "available",
        "open_claims": 0,
        "capacity": 5,
    }
    values.update(kw)
    return Agent(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stored", "last_active", "expected"),
    [
        ("available", NOW - timedelta(minutes=1), "available"),
        ("away", NOW - timedelta(minutes=14), "away"),
        ("available", NOW - IDLE - timedelta(seconds=1), "offline"),
        ("available", None, "offline"),
        (None, NOW, "offline"),
    ],
)
def test_presence_reads_offline_after_the_idle_time(
    stored: str | None, last_active: datetime | None, expected: str
) -> None:
    assert effective_presence(stored, last_active, NOW, IDLE) == expected


def test_the_least_recently_assigned_available_agent_with_room_gets_it() -> None:
    recent = agent(1, last_assigned_at=NOW - timedelta(minutes=1))
    earlier = agent(2, last_assigned_at=NOW - timedelta(minutes=9))
    full = agent(3, open_claims=5)
    away = agent(4, presence="away")
    conversation = Waiting(1, "support")
    assert choose([recent, earlier, full, away], conversation) == earlier
    assert choose([recent, agent(5)], conversation) == agent(5), "never assigned comes first"
    assert choose([full, away], conversation) is None


def test_skills_empty_means_all() -> None:
    french = agent(1, languages=frozenset({"fr"}))
    english_dm = agent(2, languages=frozenset({"en"}), channels=frozenset({"dm"}))
    assert choose([french, english_dm], Waiting(1, "dm", "en")) == english_dm
    assert choose([french, english_dm], Waiting(2, "public", "fr")) == french
    assert choose([french, english_dm], Waiting(3, "public", "en")) is None
    assert choose([agent(3)], Waiting(4, "anything", "other")) == agent(3)


def test_a_round_spreads_work_fairly_up_to_each_capacity() -> None:
    agents = [agent(i, capacity=c) for i, c in enumerate((1, 2, 3), start=1)]
    waiting = [Waiting(i, "support") for i in range(10)]
    made = plan(agents, waiting, NOW)
    counts = Counter(p.user_id for p in made)
    assert counts == {uuid.UUID(int=1): 1, uuid.UUID(int=2): 2, uuid.UUID(int=3): 3}
    # Most urgent first, round-robin: one each before anyone gets a second.
    assert [p.conversation.conversation_id for p in made] == [0, 1, 2, 3, 4, 5]
    assert len({p.user_id for p in made[:3]}) == 3
    assert [p.at for p in made] == sorted({p.at for p in made}), "distinct, in order"


def test_only_a_lead_or_the_holder_may_assign() -> None:
    me, other = uuid.UUID(int=1), uuid.UUID(int=2)
    assert assign_refusal("agent", me, me, "open", True) is None
    assert assign_refusal("agent", me, other, "open", True) == (
        403,
        "Agents hand over only conversations they hold.",
    )
    assert assign_refusal("agent", me, None, "open", True) is not None
    assert assign_refusal("lead", me, other, "open", True) is None
    assert assign_refusal("lead", me, None, "resolved", True) is not None
    assert assign_refusal("admin", me, None, "open", False) is not None
    assert how_assigned(me, me) == "handover"
    assert how_assigned(me, other) == "lead"
