"""SLA clocks: states, pauses, stops and retargeting, with fixed instants."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.triage.domain.calendar import Calendar, Opening
from services.triage.domain.sla import (
    DEFAULT_POLICY,
    Policy,
    Targets,
    due_at,
    next_transition,
    pause,
    policy_problems,
    resume,
    retarget,
    start,
    state,
    stop,
    time_left,
)

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
ALWAYS = DEFAULT_POLICY.calendar
PARIS = ZoneInfo("Europe/Paris")
OFFICE = Calendar(
    timezone="Europe/Paris",
    always_open=False,
    openings=tuple(Opening(d, time(9), time(18)) for d in range(5)),
)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_p1_first_response_goes_ok_at_risk_breached_at_75_and_100_percent() -> None:
    clock = start("first_response", 1, T0, DEFAULT_POLICY)  # 30 min
    assert state(clock, ALWAYS, 0.75, at(10)) == "ok"
    assert next_transition(clock, ALWAYS, 0.75, at(10)) == at(22.5)
    assert state(clock, ALWAYS, 0.75, at(22.5)) == "at_risk"
    assert next_transition(clock, ALWAYS, 0.75, at(23)) == at(30)
    assert state(clock, ALWAYS, 0.75, at(30)) == "breached"
    assert next_transition(clock, ALWAYS, 0.75, at(31)) is None
    assert time_left(clock, ALWAYS, at(40)) == -600


def test_an_answer_in_time_is_met_and_a_late_one_missed() -> None:
    clock = start("first_response", 1, T0, DEFAULT_POLICY)
    assert stop(clock, ALWAYS, at(29)).outcome == "met"
    assert stop(clock, ALWAYS, at(31)).outcome == "missed"
    assert stop(stop(clock, ALWAYS, at(5)), ALWAYS, at(50)).stopped_at == at(5)


def test_waiting_on_the_customer_pauses_the_clock() -> None:
    clock = start("resolution", 2, T0, DEFAULT_POLICY)  # 24 h
    paused = pause(clock, at(60))
    assert state(paused, ALWAYS, 0.75, at(60 * 30)) == "paused"
    assert due_at(paused, ALWAYS) is None
    resumed = resume(paused, ALWAYS, at(60 + 600))
    assert due_at(resumed, ALWAYS) == T0 + timedelta(hours=24, minutes=600)


def test_a_closed_team_does_not_burn_the_clock() -> None:
    friday_5pm = datetime(2026, 11, 20, 17, 0, tzinfo=PARIS)
    policy = replace(DEFAULT_POLICY, calendar=OFFICE)
    clock = start("first_response", 2, friday_5pm, policy)  # 2 h
    assert due_at(clock, OFFICE) == datetime(2026, 11, 23, 10, 0, tzinfo=PARIS)
    saturday = datetime(2026, 11, 21, 12, 0, tzinfo=PARIS)
    assert state(clock, OFFICE, 0.75, saturday) == "ok"
    assert time_left(clock, OFFICE, saturday) == 3600


def test_a_raised_priority_brings_the_deadline_closer() -> None:
    clock = start("first_response", 3, T0, DEFAULT_POLICY)
    assert due_at(retarget(clock, 1, DEFAULT_POLICY), ALWAYS) == at(30)


def test_a_clock_stopped_unanswered_is_cancelled_not_met() -> None:
    clock = start("first_response", 2, T0, DEFAULT_POLICY)
    assert stop(clock, ALWAYS, at(5), answered=False).outcome == "cancelled"


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (replace(DEFAULT_POLICY, at_risk_ratio=1.0), "at_risk_ratio"),
        (
            replace(DEFAULT_POLICY, targets={**DEFAULT_POLICY.targets, 2: Targets(0, 60, 60)}),
            "targets/P2/first_response_seconds",
        ),
        (
            replace(DEFAULT_POLICY, targets={**DEFAULT_POLICY.targets, 4: Targets(60, -1, 60)}),
            "targets/P4/next_response_seconds",
        ),
        (Policy(targets={1: Targets(1, 1, 1)}, calendar=ALWAYS), "targets"),
    ],
)
def test_impossible_policies_name_the_field(policy: Policy, field: str) -> None:
    assert field in [f for f, _ in policy_problems(policy)]


def test_the_default_policy_is_valid() -> None:
    assert policy_problems(DEFAULT_POLICY) == []
