"""What saving a batch's clocks writes: the rows that changed, their history, the queue order.

The decisions are in ``domain.clock_rules`` and ``domain.sla``; the statements in
``sla.store``. Only the scheduler raises at-risk and breach events: a save sets
``next_transition_at`` to the next instant a clock changes state (or to now when it is
already past one), and NOTIFY wakes the scheduler.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.domain.clock_rules import Clocks
from services.triage.domain.sla import (
    RANK,
    RESPONSE_KINDS,
    Clock,
    Policy,
    due_at,
    elapsed,
    next_transition,
    state,
)
from services.triage.sla import store
from services.triage.sla.store import Key, Stored

THRESHOLDS = ("ok", "at_risk", "breached")

# (the workspace, what happened: "started" or "stopped", the clock, business seconds it ran)
OnClock = Callable[[uuid.UUID, str, Clock, float], None]
OnStop = OnClock


def _changes(before: Clock | None, after: Clock) -> list[str]:
    if before is None:
        return ["started"] + ([after.outcome or "cancelled"] if after.stopped_at else [])
    notes = []
    if after.target_seconds != before.target_seconds:
        notes.append("retargeted")
    if after.paused_since is not None and before.paused_since is None:
        notes.append("paused")
    if after.paused_since is None and before.paused_since is not None:
        notes.append("resumed")
    if after.stopped_at is not None and before.stopped_at is None:
        notes.append(after.outcome or "cancelled")
    return notes


def _row(key: Key, clock: Clock, raised: str, policy: Policy, now: datetime) -> dict[str, Any]:
    calendar, ratio = policy.calendar, policy.at_risk_ratio
    current = state(clock, calendar, ratio, now)
    if clock.stopped_at is not None or clock.paused_since is not None:
        transition = None
    elif current in THRESHOLDS and THRESHOLDS.index(current) > THRESHOLDS.index(raised):
        transition = now  # already past a threshold: the scheduler raises it at once
    else:
        transition = next_transition(clock, calendar, ratio, now)
    return {
        "w": str(key[0]),
        "c": key[1],
        "kind": clock.kind,
        "priority": clock.priority,
        "target": clock.target_seconds,
        "started": clock.started_at,
        "paused_seconds": clock.paused_seconds,
        "paused_since": clock.paused_since,
        "stopped": clock.stopped_at,
        "outcome": clock.outcome,
        "state": raised,
        "due": due_at(clock, calendar),
        "next": transition,
        "elapsed": None if clock.stopped_at is None else elapsed(clock, calendar, clock.stopped_at),
    }


def queue_order(clocks: Clocks, policy: Policy, now: datetime) -> tuple[int, datetime | None]:
    """(rank, deadline) of a conversation in the queue, from its running response clock."""
    for kind in RESPONSE_KINDS:
        clock = clocks.get(kind)
        if clock is not None and clock.stopped_at is None:
            current = state(clock, policy.calendar, policy.at_risk_ratio, now)
            return RANK.get(current, 4), due_at(clock, policy.calendar)
    return 4, None


async def save(
    conn: AsyncConnection,
    before: dict[Key, dict[str, Stored]],
    after: dict[Key, Clocks],
    policies: dict[uuid.UUID, Policy],
    now: datetime,
    on_stop: OnStop | None = None,
) -> None:
    """Write the clocks that changed, their history, and the conversations' queue order."""
    inserts: list[dict[str, Any]] = []
    insert_notes: list[tuple[Key, str, list[str], datetime]] = []
    updates: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    order: list[dict[str, Any]] = []
    for key, clocks in after.items():
        policy = policies[key[0]]
        old = before.get(key, {})
        for kind, clock in clocks.items():
            stored = old.get(kind)
            notes = _changes(stored.clock if stored else None, clock)
            if not notes:
                continue
            if on_stop is not None:
                if stored is None:
                    on_stop(key[0], "started", clock, 0.0)
                if clock.stopped_at is not None:
                    ran = elapsed(clock, policy.calendar, clock.stopped_at)
                    on_stop(key[0], "stopped", clock, ran)
            row = _row(key, clock, stored.raised if stored else "ok", policy, now)
            at = clock.stopped_at or clock.paused_since or now
            if stored is None:
                inserts.append(row)
                insert_notes.append((key, kind, notes, at))
            else:
                updates.append({**row, "id": stored.id})
                logs += [
                    {
                        "w": str(key[0]),
                        "id": stored.id,
                        "at": at,
                        "change": n,
                        "state": state(clock, policy.calendar, policy.at_risk_ratio, now),
                    }
                    for n in notes
                ]
        rank, due = queue_order(clocks, policy, now)
        order.append({"w": str(key[0]), "c": key[1], "rank": rank, "due": due})
    if inserts:
        ids = await store.insert_clocks(conn, inserts)
        for (w, c), kind, notes, at in insert_notes:
            clock = after[(w, c)][kind]
            policy = policies[w]
            current = state(clock, policy.calendar, policy.at_risk_ratio, now)
            logs += [
                {
                    "w": str(w),
                    "id": ids[(w, c, kind)],
                    "at": clock.started_at if n == "started" else at,
                    "change": n,
                    "state": current,
                }
                for n in notes
            ]
    if updates:
        await store.update_clocks(conn, updates)
    if logs:
        await store.log_clock_changes(conn, logs)
    if order:
        await store.set_queue_order(conn, order)
    if inserts or updates:
        await store.wake_scheduler(conn)
