"""Every SQL statement of the SLA area: policies, clocks, their history, the scheduler's claims.

Statements run inside the caller's transaction and are set-based (one ``json_to_recordset``
per batch). The decisions are in ``domain.clock_rules`` and ``domain.sla``; what a save
writes is worked out in ``sla.clocks``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.db import all_rows
from services.infra.worker import workspace_after
from services.triage.domain.sla import DEFAULT_POLICY, Clock, Policy
from services.triage.sla.policy import parse_policy

Key = tuple[uuid.UUID, int]  # (workspace, conversation)
WAKE_SCHEDULER = "ecoute_sla"


@dataclass(frozen=True, slots=True)
class Stored:
    """A clock as loaded: its row id and the last threshold state raised for it."""

    id: int
    clock: Clock
    raised: str


def _json(rows: list[dict[str, Any]]) -> str:
    return orjson.dumps(rows, option=orjson.OPT_UTC_Z).decode()


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


# --- Policies ---------------------------------------------------------------------------


async def load_policies(
    conn: AsyncConnection, workspace_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Policy]:
    """Each workspace's policy; the default one where none was set."""
    wanted = sorted(set(workspace_ids))
    rows = await all_rows(
        conn,
        "SELECT workspace_id, policy FROM triage.sla_policies "
        "WHERE workspace_id = ANY(CAST(:ids AS uuid[]))",
        {"ids": wanted},
    )
    found = {r.workspace_id: parse_policy(r.policy) for r in rows}
    return {w: found.get(w, DEFAULT_POLICY) for w in wanted}


async def save_policy(
    conn: AsyncConnection, workspace_id: uuid.UUID, document: dict[str, Any], user_id: uuid.UUID
) -> None:
    """Replace the workspace's policy (its JSON document), noting who changed it."""
    await conn.execute(
        text(
            """
        INSERT INTO triage.sla_policies (workspace_id, policy, updated_by)
        VALUES (:ws, CAST(:policy AS jsonb), :user)
        ON CONFLICT (workspace_id) DO UPDATE
        SET policy = EXCLUDED.policy, updated_by = EXCLUDED.updated_by, updated_at = now()
        """
        ),
        {"ws": workspace_id, "policy": orjson.dumps(document).decode(), "user": user_id},
    )


async def lock_conversations_with_running_clocks(
    conn: AsyncConnection, workspace_id: uuid.UUID
) -> list[int]:
    """The workspace's conversations that have a running clock, locked in key order: the
    conversations are locked before their clocks, on every path (see ``lock_running``)."""
    rows = await conn.execute(
        text(
            """
        SELECT c.id FROM triage.conversations AS c
        WHERE c.workspace_id = :ws AND c.id IN (
            SELECT conversation_id FROM triage.sla_clocks
            WHERE workspace_id = :ws AND stopped_at IS NULL)
        ORDER BY c.id
        FOR UPDATE OF c
        """
        ),
        {"ws": workspace_id},
    )
    return [r.id for r in rows]


# --- Clocks -----------------------------------------------------------------------------


async def lock_running(conn: AsyncConnection, keys: Iterable[Key]) -> dict[Key, dict[str, Stored]]:
    """Running clocks of these conversations, locked.

    The one lock order, on every path that takes both: the conversations first (in key
    order), then their clocks; so whoever holds a conversation never waits for its clocks
    behind someone who waits for that conversation (deadlock, SQLSTATE 40P01).
    """
    wanted = sorted(set(keys))
    rows = await all_rows(
        conn,
        """
        SELECT c.* FROM triage.sla_clocks AS c
        JOIN json_to_recordset(CAST(:keys AS json)) AS k(w uuid, c bigint)
          ON c.workspace_id = k.w AND c.conversation_id = k.c
        WHERE c.stopped_at IS NULL
        ORDER BY c.workspace_id, c.id
        FOR UPDATE OF c
        """,
        {"keys": orjson.dumps([{"w": str(w), "c": c} for w, c in wanted]).decode()},
    )
    found: dict[Key, dict[str, Stored]] = {k: {} for k in wanted}
    for r in rows:
        found[(r.workspace_id, r.conversation_id)][r.kind] = Stored(r.id, clock_of_row(r), r.state)
    return found


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


async def insert_clocks(
    conn: AsyncConnection, rows: list[dict[str, Any]]
) -> dict[tuple[uuid.UUID, int, str], int]:
    """New clocks; returns their ids by (workspace, conversation, kind)."""
    created = (await conn.execute(_INSERT, {"rows": _json(rows)})).all()
    return {(r.workspace_id, r.conversation_id, r.kind): r.id for r in created}


async def update_clocks(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await conn.execute(_UPDATE, {"rows": _json(rows)})


async def log_clock_changes(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """History lines: (workspace, clock id, at, change, state at that moment)."""
    await conn.execute(_LOG, {"rows": _json(rows)})


async def set_queue_order(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Each conversation's SLA rank and deadline in the queue."""
    await conn.execute(_QUEUE_ORDER, {"rows": _json(rows)})


async def wake_scheduler(conn: AsyncConnection) -> None:
    """A transition may have come closer: the scheduler re-reads its next instant."""
    await conn.execute(text(f"SELECT pg_notify('{WAKE_SCHEDULER}', '')"))


async def conversation_clocks(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int
) -> Sequence[Row[Any]]:
    """Every clock of a conversation, running or stopped, oldest first."""
    return (
        await conn.execute(
            text(
                "SELECT * FROM triage.sla_clocks WHERE workspace_id = :ws "
                "AND conversation_id = :id ORDER BY id"
            ),
            {"ws": workspace_id, "id": conversation_id},
        )
    ).all()


async def clock_history(
    conn: AsyncConnection, workspace_id: uuid.UUID, clock_ids: list[int]
) -> Sequence[Row[Any]]:
    return (
        await conn.execute(
            text(
                "SELECT clock_id, at, change, state FROM triage.sla_clock_log "
                "WHERE workspace_id = :ws AND clock_id = ANY(CAST(:ids AS bigint[])) "
                "ORDER BY at, id"
            ),
            {"ws": workspace_id, "ids": clock_ids},
        )
    ).all()


# --- The scheduler ----------------------------------------------------------------------

# One workspace at a time (``Rotation``): the workspace above the last one served with a
# due clock, then the conversations of its earliest due clocks, then those conversations'
# due clocks: the one lock order (conversations, then clocks). Both skip what another holds,
# so the scheduler never waits for a lock: a busy conversation's clocks are raised at the
# next tick. Every claim names the workspace, as Citus needs to lock rows.
_NEXT_WORKSPACE = text(
    """
    SELECT workspace_id FROM triage.sla_clocks
    WHERE next_transition_at <= :now AND workspace_id > :after
    ORDER BY workspace_id LIMIT 1
    """
)
_DUE_CONVERSATIONS = text(
    """
    SELECT c.workspace_id, c.id FROM triage.conversations AS c
    WHERE (c.workspace_id, c.id) IN (
        SELECT workspace_id, conversation_id FROM triage.sla_clocks
        WHERE workspace_id = :ws AND next_transition_at <= :now
        ORDER BY next_transition_at
        LIMIT :limit)
      AND c.workspace_id = :ws
    ORDER BY c.workspace_id, c.id
    FOR UPDATE OF c SKIP LOCKED
    """
)
_DUE = text(
    """
    SELECT s.* FROM triage.sla_clocks AS s
    JOIN json_to_recordset(CAST(:keys AS json)) AS k(w uuid, c bigint)
      ON s.workspace_id = k.w AND s.conversation_id = k.c
    WHERE s.workspace_id = :ws AND s.next_transition_at <= :now
    ORDER BY s.workspace_id, s.id
    FOR UPDATE OF s SKIP LOCKED
    """
)
_RAISED = text(
    """
    UPDATE triage.sla_clocks AS s SET state = r.state, next_transition_at = r.next
    FROM json_to_recordset(CAST(:rows AS json)) AS r(w uuid, id bigint, state text,
                                                     next timestamptz)
    WHERE s.workspace_id = :ws AND s.workspace_id = r.w AND s.id = r.id
    """
)
_LOG_CROSSED = text(
    """
    INSERT INTO triage.sla_clock_log (workspace_id, clock_id, at, change, state)
    SELECT r.w, r.id, r.at, r.state, r.state
    FROM json_to_recordset(CAST(:rows AS json)) AS r(w uuid, id bigint, at timestamptz,
                                                     state text)
    WHERE r.w = :ws
    """
)
_RANK = text(
    """
    UPDATE triage.conversations AS c SET sla_rank = r.rank
    FROM json_to_recordset(CAST(:rows AS json)) AS r(w uuid, c bigint, rank smallint)
    WHERE c.workspace_id = :ws AND c.workspace_id = r.w AND c.id = r.c
    """
)
_NEXT = text(
    "SELECT min(next_transition_at) FROM triage.sla_clocks WHERE next_transition_at IS NOT NULL"
)


async def next_workspace_due(
    conn: AsyncConnection, now: datetime, after: uuid.UUID
) -> uuid.UUID | None:
    """The first workspace above ``after`` with a clock due (a read: it locks nothing)."""
    return await workspace_after(conn, _NEXT_WORKSPACE, {"now": now, "after": after})


async def claim_due(
    conn: AsyncConnection, workspace_id: uuid.UUID, now: datetime, limit: int
) -> Sequence[Row[Any]]:
    """The workspace's clocks whose next transition is due, locked with their conversations
    (conversations first); a conversation or clock another replica or a writer holds is
    skipped."""
    at = {"ws": workspace_id, "now": now}
    keys = (await conn.execute(_DUE_CONVERSATIONS, {**at, "limit": limit})).all()
    if not keys:
        return []
    wanted = orjson.dumps([{"w": str(k.workspace_id), "c": k.id} for k in keys]).decode()
    return (await conn.execute(_DUE, {**at, "keys": wanted})).all()


async def set_raised(
    conn: AsyncConnection, workspace_id: uuid.UUID, rows: list[dict[str, Any]]
) -> None:
    """Each claimed clock's raised state and next transition instant."""
    await conn.execute(_RAISED, {"ws": workspace_id, "rows": _json(rows)})


async def log_crossings(
    conn: AsyncConnection, workspace_id: uuid.UUID, rows: list[dict[str, Any]]
) -> None:
    """History lines of thresholds crossed (the change is the state reached)."""
    await conn.execute(_LOG_CROSSED, {"ws": workspace_id, "rows": _json(rows)})


async def set_queue_rank(
    conn: AsyncConnection, workspace_id: uuid.UUID, rows: list[dict[str, Any]]
) -> None:
    await conn.execute(_RANK, {"ws": workspace_id, "rows": _json(rows)})


async def next_transition_at(conn: AsyncConnection) -> datetime | None:
    """The earliest instant any clock changes state (None: no clock is running)."""
    nearest: datetime | None = (await conn.execute(_NEXT)).scalar_one_or_none()
    return nearest


def queue_order_by(alias: str = "") -> str:
    """The queue's order as an SQL ORDER BY list: P1 (danger) first whatever the clocks
    say; then earliest deadline first, so an overdue conversation comes before any running
    one and the most overdue is on top; priority breaks ties, then the longest wait. The
    queue, claim-next and an incident's conversations share it; the partial index
    ``conversations_queue_due`` (migration t0010) serves it."""
    p = f"{alias}." if alias else ""
    return f"({p}priority <> 1), {p}sla_due_at NULLS LAST, {p}priority, {p}waiting_since, {p}id"
