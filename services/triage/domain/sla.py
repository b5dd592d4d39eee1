"""SLA clocks: how long a person has waited in business time, and when that turns bad.

A clock measures one promise: the first response, the next response (after the customer
writes again), or the resolution. It runs in business time from ``started_at`` (the platform
time the person wrote), can pause (waiting on the customer) and stops once. It is ``at_risk``
once a share of its target has elapsed and ``breached`` at the target. Everything here is a
pure function of the clock, the calendar and ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, get_args

from services.triage.domain.calendar import Calendar, add_business_time, business_seconds

ClockKind = Literal["first_response", "next_response", "resolution"]
KINDS: tuple[str, ...] = get_args(ClockKind)
RESPONSE_KINDS = ("first_response", "next_response")
ClockState = Literal["ok", "at_risk", "breached", "paused", "met", "missed", "cancelled"]
STATES: tuple[str, ...] = get_args(ClockState)
RANK = {"breached": 0, "at_risk": 1, "ok": 2, "paused": 3}  # queue order; no clock: 4
NO_CLOCK_RANK = 4


@dataclass(frozen=True, slots=True)
class Targets:
    """Business seconds allowed for each promise at one priority."""

    first_response: int
    next_response: int
    resolution: int

    def of(self, kind: str) -> int:
        return int(getattr(self, kind))


@dataclass(frozen=True, slots=True)
class Policy:
    """A workspace's promises per priority (1 = most urgent), its hours, and its warning share."""

    targets: dict[int, Targets]
    calendar: Calendar
    at_risk_ratio: float = 0.75

    def target(self, kind: str, priority: int) -> int:
        return self.targets[priority].of(kind)


HOUR = 3600
DEFAULT_POLICY = Policy(
    targets={
        1: Targets(first_response=HOUR // 2, next_response=HOUR, resolution=8 * HOUR),
        2: Targets(first_response=2 * HOUR, next_response=2 * HOUR, resolution=24 * HOUR),
        3: Targets(first_response=8 * HOUR, next_response=8 * HOUR, resolution=72 * HOUR),
        4: Targets(first_response=24 * HOUR, next_response=24 * HOUR, resolution=168 * HOUR),
    },
    calendar=Calendar(),
)


def policy_problems(policy: Policy) -> list[tuple[str, str]]:
    """(field, problem) pairs for targets and ratio; the calendar has its own check."""
    problems: list[tuple[str, str]] = []
    if set(policy.targets) != {1, 2, 3, 4}:
        problems.append(("targets", "give targets for P1, P2, P3 and P4"))
    for priority, targets in sorted(policy.targets.items()):
        for kind in KINDS:
            value = targets.of(kind)
            if value <= 0:
                problems.append((f"targets/P{priority}/{kind}_seconds", "must be positive"))
            elif value > 365 * 24 * HOUR:
                problems.append((f"targets/P{priority}/{kind}_seconds", "must be under a year"))
    if not 0 < policy.at_risk_ratio < 1:
        problems.append(("at_risk_ratio", "must be between 0 and 1, exclusive"))
    return problems


@dataclass(frozen=True, slots=True)
class Clock:
    kind: str
    priority: int
    target_seconds: int
    started_at: datetime
    paused_seconds: float = 0.0  # business time spent paused in finished pauses
    paused_since: datetime | None = None
    stopped_at: datetime | None = None
    outcome: str | None = None  # met | missed | cancelled, once stopped


def start(kind: str, priority: int, started_at: datetime, policy: Policy) -> Clock:
    return Clock(kind, priority, policy.target(kind, priority), started_at)


def elapsed(clock: Clock, calendar: Calendar, now: datetime) -> float:
    """Business seconds the clock has run (pauses excluded), up to ``now`` or its stop."""
    end = clock.stopped_at or now
    run = business_seconds(calendar, clock.started_at, end) - clock.paused_seconds
    if clock.paused_since is not None:
        run -= business_seconds(calendar, clock.paused_since, end)
    return max(0.0, run)


def due_at(clock: Clock, calendar: Calendar) -> datetime | None:
    """When the target is reached; None while paused or once stopped."""
    if clock.paused_since is not None or clock.stopped_at is not None:
        return None
    return add_business_time(
        calendar, clock.started_at, clock.target_seconds + clock.paused_seconds
    )


def at_risk_at(clock: Clock, calendar: Calendar, ratio: float) -> datetime | None:
    if clock.paused_since is not None or clock.stopped_at is not None:
        return None
    return add_business_time(
        calendar, clock.started_at, clock.target_seconds * ratio + clock.paused_seconds
    )


def state(clock: Clock, calendar: Calendar, ratio: float, now: datetime) -> str:
    """ok, at_risk or breached while running; paused; met, missed or cancelled once stopped."""
    if clock.stopped_at is not None:
        return clock.outcome or "cancelled"
    if clock.paused_since is not None:
        return "paused"
    ran = elapsed(clock, calendar, now)
    if ran >= clock.target_seconds:
        return "breached"
    if ran >= clock.target_seconds * ratio:
        return "at_risk"
    return "ok"


def next_transition(
    clock: Clock, calendar: Calendar, ratio: float, now: datetime
) -> datetime | None:
    """The next instant the state changes by itself (to at_risk, then breached), if any."""
    current = state(clock, calendar, ratio, now)
    if current == "ok":
        return at_risk_at(clock, calendar, ratio)
    if current == "at_risk":
        return due_at(clock, calendar)
    return None


def time_left(clock: Clock, calendar: Calendar, now: datetime) -> float:
    """Business seconds until the target; negative once breached (how late it is)."""
    return clock.target_seconds - elapsed(clock, calendar, now)


def pause(clock: Clock, now: datetime) -> Clock:
    if clock.stopped_at is not None or clock.paused_since is not None:
        return clock
    return replace(clock, paused_since=max(now, clock.started_at))


def resume(clock: Clock, calendar: Calendar, now: datetime) -> Clock:
    if clock.paused_since is None or clock.stopped_at is not None:
        return clock
    paused = business_seconds(calendar, clock.paused_since, max(now, clock.paused_since))
    return replace(clock, paused_since=None, paused_seconds=clock.paused_seconds + paused)


def stop(clock: Clock, calendar: Calendar, now: datetime, *, answered: bool = True) -> Clock:
    """Stop once: met or missed when the promise was kept or not, cancelled otherwise."""
    if clock.stopped_at is not None:
        return clock
    at = max(now, clock.started_at)
    running = resume(clock, calendar, at)
    if not answered:
        return replace(running, stopped_at=at, outcome="cancelled")
    late = elapsed(replace(running, stopped_at=at), calendar, at) > clock.target_seconds
    return replace(running, stopped_at=at, outcome="missed" if late else "met")


def retarget(clock: Clock, priority: int, policy: Policy) -> Clock:
    """A running clock follows its conversation's new priority (same start, new target)."""
    if clock.stopped_at is not None:
        return clock
    return replace(clock, priority=priority, target_seconds=policy.target(clock.kind, priority))


QueueState = Literal["breached", "at_risk", "ok", "paused", "none"]
"""A queued conversation's most urgent running clock (``none``: no clock runs)."""
# The queue's ``sla_rank`` values, most urgent first.
SLA_STATES = dict(enumerate(get_args(QueueState)))
