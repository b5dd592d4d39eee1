"""SLA clocks in the database: load a batch's clocks and policies, save what changed.

The decisions are in ``domain.clock_rules`` and ``domain.sla``; this module only reads and
writes, set-based, inside the caller's transaction. Only the scheduler raises at-risk and
breach events: a save sets ``next_transition_at`` to the next instant a clock changes state
(or to now when it is already past one), and NOTIFY wakes the scheduler.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.domain.clock_rules import Clocks
from services.triage.domain.sla import (
    DEFAULT_POLICY,
    RANK,
    RESPONSE_KINDS,
    Clock,
    Policy,
    due_at,
    elapsed,
    next_transition,
    state,
)
from services.triage.sla.policy import parse_policy

Key = tuple[uuid.UUID, int]  # (workspace, conversation)
WAKE_SCHEDULER = "ecoute_sla"
THRESHOLDS = ("ok", "at_risk", "breached")


@dataclass(frozen=True, slots=True)
class Stored:
    """A clock as loaded: its row id and the last threshold state raised for it."""

    id: int
    clock: Clock
    raised: str


# (what happened: "started" or "stopped", the clock, business seconds it ran)
OnClock = Callable[[str, Clock, float], None]
OnStop = OnClock


async def load_policies(
    conn: AsyncConnection, workspace_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Policy]:
    """Each workspace's policy; the default one where none was set."""
    wanted = sorted(set(workspace_ids))
    rows = (
        await conn.execute(
            text(
                "SELECT workspace_id, policy FROM triage.sla_policies "
                "WHERE workspace_id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": wanted},
        )
    ).all()
    found = {r.workspace_id: parse_policy(r.policy) for r in rows}
    return {w: found.get(w, DEFAULT_POLICY) for w in wanted}


def clock_of_row(row: Any) -> Clock:
    return Clock(
        kind=row.kind,
        priority=row.priority,
        target_seconds=row.target_seconds,
        started_at=row.started_at,
        paused_seconds=row.paused_seconds,
        paused_since=row.paused_since,
        stopped_at=row.stopped_at,
        outcome=row.outcome,
    )


async def lock_running(conn: AsyncConnection, keys: Iterable[Key]) -> dict[Key, dict[str, Stored]]:
    """Running clocks of these conversations, locked (the conversations are locked first)."""
    wanted = sorted(set(keys))
    rows = (
        await conn.execute(
            text(
                """
        SELECT c.* FROM triage.sla_clocks AS c
        JOIN json_to_recordset(CAST(:keys AS json)) AS k(w uuid, c bigint)
          ON c.workspace_id = k.w AND c.conversation_id = k.c
        WHERE c.stopped_at IS NULL
        ORDER BY c.workspace_id, c.id
        FOR UPDATE OF c
        """
            ),
            {"keys": orjson.dumps([{"w": str(w), "c": c} for w, c in wanted]).decode()},
        )
    ).all()
    found: dict[Key, dict[str, Stored]] = {k: {} for k in wanted}
    for r in rows:
        found[(r.workspace_id, r.conversation_id)][r.kind] = Stored(r.id, clock_of_row(r), r.state)
    return found


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


_INSERT = text(
    """
    INSERT INTO triage.sla_clocks (workspace_id, conversation_id, kind, priority, target_seconds,
        started_at, paused_seconds, paused_since, stopped_at, outcome, state, due_at,
        next_transition_at, elapsed_seconds)
    SELECT r.w, r.c, r.kind, r.priority, r.target, r.started, r.paused_seconds, r.paused_since,
           r.stopped, r.outcome, r.state, r.due, r.next, r.elapsed
    FROM json_to_recordset(CAST(:rows AS json)) AS r(w uuid, c bigint, kind text,
        priority smallint, target integer, started timestamptz, paused_seconds float8,
        paused_since timestamptz, stopped timestamptz, outcome text, state text,
        due timestamptz, next timestamptz, elapsed float8)
    RETURNING workspace_id, conversation_id, kind, id
    """
)
_UPDATE = text(
    """
    UPDATE triage.sla_clocks AS s SET priority = r.priority, target_seconds = r.target,
        paused_seconds = r.paused_seconds, paused_since = r.paused_since, stopped_at = r.stopped,
        outcome = r.outcome, due_at = r.due, next_transition_at = r.next,
        elapsed_seconds = r.elapsed
    FROM json_to_recordset(CAST(:rows AS json)) AS r(w uuid, id bigint, priority smallint,
        target integer, paused_seconds float8, paused_since timestamptz, stopped timestamptz,
        outcome text, due timestamptz, next timestamptz, elapsed float8)
    WHERE s.workspace_id = r.w AND s.id = r.id
    """
)
_LOG = text(
    """
    INSERT INTO triage.sla_clock_log (workspace_id, clock_id, at, change, state)
    SELECT r.w, r.id, r.at, r.change, r.state
    FROM json_to_recordset(CAST(:rows AS json))
         AS r(w uuid, id bigint, at timestamptz, change text, state text)
    """
)
_QUEUE_ORDER = text(
    """
    UPDATE triage.conversations AS c SET sla_rank = r.rank, sla_due_at = r.due
    FROM json_to_recordset(CAST(:rows AS json)) AS r(w uuid, c bigint, rank smallint,
                                                     due timestamptz)
    WHERE c.workspace_id = r.w AND c.id = r.c
    """
)


def _json(rows: list[dict[str, Any]]) -> str:
    return orjson.dumps(rows, option=orjson.OPT_UTC_Z).decode()


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
                    on_stop("started", clock, 0.0)
                if clock.stopped_at is not None:
                    on_stop("stopped", clock, elapsed(clock, policy.calendar, clock.stopped_at))
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
        created = (await conn.execute(_INSERT, {"rows": _json(inserts)})).all()
        ids = {(r.workspace_id, r.conversation_id, r.kind): r.id for r in created}
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
        await conn.execute(_UPDATE, {"rows": _json(updates)})
    if logs:
        await conn.execute(_LOG, {"rows": _json(logs)})
    if order:
        await conn.execute(_QUEUE_ORDER, {"rows": _json(order)})
    if inserts or updates:
        await conn.execute(text(f"SELECT pg_notify('{WAKE_SCHEDULER}', '')"))
