"""SQL of incidents: as the desk reads and changes them, as the detector opens, grows and
closes them, and the detector's window of signals. Every statement names the workspace
(except the detector's cross-workspace look for work and its pruning).

Both write the same tables (``t0006_incidents``); rows the desk changes are locked
``FOR UPDATE`` in id order first, so a merge and the detector growing an incident serialise.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.db import all_rows, first_row, returns_row
from services.triage.domain.incident_desk import IncidentState, Summary
from services.triage.domain.incidents import Grown, Member, Opened, OpenIncident, Signal
from services.triage.domain.sla import SLA_STATES
from services.triage.sla.store import queue_order_by

SAMPLES = 5
HISTORY = 100
MEMBER_CONVERSATIONS = 500


def state_of(row: Any) -> IncidentState:
    return IncidentState(id=row.id, kind=row.kind, status=row.status, close_reason=row.close_reason)


async def lock_incidents(
    conn: AsyncConnection, workspace_id: uuid.UUID, ids: Iterable[int]
) -> dict[int, Any]:
    """The incidents with these ids (those that exist in the workspace), locked in id order."""
    rows = await all_rows(
        conn,
        "SELECT * FROM triage.incidents WHERE workspace_id = :ws "
        "AND id = ANY(CAST(:ids AS bigint[])) ORDER BY id FOR UPDATE",
        {"ws": workspace_id, "ids": sorted(set(ids))},
    )
    return {r.id: r for r in rows}


async def members(conn: AsyncConnection, workspace_id: uuid.UUID, incident_id: int) -> list[Member]:
    rows = await all_rows(
        conn,
        "SELECT message_id, conversation_id, author, platform, language, at, flooding "
        "FROM triage.incident_members WHERE workspace_id = :ws AND incident_id = :id",
        {"ws": workspace_id, "id": incident_id},
    )
    return [
        Member(r.message_id, r.conversation_id, r.author, r.platform, r.language, r.at, r.flooding)
        for r in rows
    ]


async def move_members(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    source: int,
    target: int,
    user_id: uuid.UUID,
    now: datetime,
    conversation_ids: Sequence[int] | None = None,
) -> list[int]:
    """Move the source's members (or only those of these conversations) to the target;
    returns the conversations moved."""
    rows = await all_rows(
        conn,
        """
        UPDATE triage.incident_members SET incident_id = :target, added_at = :now, added_by = :me
        WHERE workspace_id = :ws AND incident_id = :source
          AND (CAST(:only AS bigint[]) IS NULL OR conversation_id = ANY(CAST(:only AS bigint[])))
        RETURNING conversation_id
        """,
        {
            "ws": workspace_id,
            "source": source,
            "target": target,
            "now": now,
            "me": user_id,
            "only": None if conversation_ids is None else list(conversation_ids),
        },
    )
    return sorted({r.conversation_id for r in rows})


async def save_summary(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    incident_id: int,
    summary: Summary,
    now: datetime,
) -> None:
    """Store recomputed figures; spans stay as they were when the incident has no member left."""
    await conn.execute(
        text(
            """
        UPDATE triage.incidents SET message_count = :messages, author_count = :authors,
               platforms = :platforms, languages = :languages,
               first_seen = coalesce(:first, first_seen), last_seen = coalesce(:last, last_seen),
               updated_at = :now
        WHERE workspace_id = :ws AND id = :id
        """
        ),
        {
            "ws": workspace_id,
            "id": incident_id,
            "messages": summary.message_count,
            "authors": summary.author_count,
            "platforms": list(summary.platforms),
            "languages": list(summary.languages),
            "first": summary.first_seen,
            "last": summary.last_seen,
            "now": now,
        },
    )


async def signals_of(
    conn: AsyncConnection, workspace_id: uuid.UUID, incident_id: int, conversation_ids: list[int]
) -> list[tuple[tuple[str, ...], tuple[int, ...]]]:
    """(terms, sketch) the detector kept for the incident's messages in these conversations."""
    rows = await all_rows(
        conn,
        """
        SELECT s.terms, s.sketch FROM triage.incident_members AS im
        JOIN triage.incident_signals AS s
          ON s.workspace_id = im.workspace_id AND s.message_id = im.message_id
        WHERE im.workspace_id = :ws AND im.incident_id = :id
          AND im.conversation_id = ANY(CAST(:conversations AS bigint[]))
        ORDER BY im.at, im.message_id
        """,
        {"ws": workspace_id, "id": incident_id, "conversations": conversation_ids},
    )
    return [(tuple(r.terms), tuple(r.sketch)) for r in rows]


async def create_split(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    kind: str,
    label: str,
    terms: Sequence[str],
    sketch: Sequence[int],
    now: datetime,
) -> int:
    """A new open incident; its figures are set once its members have moved."""
    row = (
        await conn.execute(
            text(
                """
        INSERT INTO triage.incidents (workspace_id, kind, label, terms, sketch, first_seen,
                                      opened_at, last_seen, updated_at)
        VALUES (:ws, :kind, :label, :terms, :sketch, :now, :now, :now, :now)
        RETURNING id
        """
            ),
            {
                "ws": workspace_id,
                "kind": kind,
                "label": label,
                "terms": list(terms),
                "sketch": list(sketch),
                "now": now,
            },
        )
    ).one()
    return int(row.id)


async def close(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    incident_id: int,
    user_id: uuid.UUID,
    reason: str,
    now: datetime,
    merged_into: int | None = None,
) -> None:
    await conn.execute(
        text(
            """
        UPDATE triage.incidents SET status = 'closed', closed_at = :now, closed_by = :me,
               close_reason = :reason, merged_into = :into, updated_at = :now
        WHERE workspace_id = :ws AND id = :id
        """
        ),
        {
            "ws": workspace_id,
            "id": incident_id,
            "me": user_id,
            "reason": reason,
            "into": merged_into,
            "now": now,
        },
    )


async def reopen(
    conn: AsyncConnection, workspace_id: uuid.UUID, incident_id: int, now: datetime
) -> None:
    """Open again. ``last_seen`` moves to now, so the detector's quiet period counts from the
    reopening (else an incident quiet for an hour would close again at its next pass)."""
    await conn.execute(
        text(
            """
        UPDATE triage.incidents SET status = 'open', closed_at = NULL, closed_by = NULL,
               close_reason = NULL, merged_into = NULL, updated_at = :now,
               last_seen = greatest(last_seen, :now)
        WHERE workspace_id = :ws AND id = :id
        """
        ),
        {"ws": workspace_id, "id": incident_id, "now": now},
    )


async def set_note(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    incident_id: int,
    body: str,
    user_id: uuid.UUID,
    now: datetime,
) -> None:
    await conn.execute(
        text(
            "UPDATE triage.incidents SET status_note = :note, note_by = :me, note_at = :now, "
            "updated_at = :now WHERE workspace_id = :ws AND id = :id"
        ),
        {"ws": workspace_id, "id": incident_id, "note": body, "me": user_id, "now": now},
    )


async def add_history(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    incident_id: int,
    change: str,
    detail: dict[str, Any],
    user_id: uuid.UUID | None,
) -> None:
    await conn.execute(
        text(
            "INSERT INTO triage.incident_history (workspace_id, incident_id, change, detail, "
            "user_id) VALUES (:ws, :id, :change, CAST(:detail AS jsonb), :me)"
        ),
        {
            "ws": workspace_id,
            "id": incident_id,
            "change": change,
            "detail": orjson.dumps(detail).decode(),
            "me": user_id,
        },
    )


async def member_conversations(
    conn: AsyncConnection, workspace_id: uuid.UUID, incident_id: int
) -> list[int]:
    rows = await all_rows(
        conn,
        "SELECT DISTINCT conversation_id FROM triage.incident_members "
        "WHERE workspace_id = :ws AND incident_id = :id ORDER BY conversation_id",
        {"ws": workspace_id, "id": incident_id},
    )
    return [r.conversation_id for r in rows]


async def is_member(
    conn: AsyncConnection, workspace_id: uuid.UUID, incident_id: int, conversation_id: int
) -> bool:
    return await returns_row(
        conn,
        "SELECT 1 FROM triage.incident_members WHERE workspace_id = :ws "
        "AND incident_id = :id AND conversation_id = :conversation LIMIT 1",
        {"ws": workspace_id, "id": incident_id, "conversation": conversation_id},
    )


async def status_note(
    conn: AsyncConnection, workspace_id: uuid.UUID, incident_id: int
) -> str | None:
    """The incident's status note ('' when none is written), or None for no such incident."""
    row = await first_row(
        conn,
        "SELECT status_note FROM triage.incidents WHERE workspace_id = :ws AND id = :id",
        {"ws": workspace_id, "id": incident_id},
    )
    return None if row is None else str(row.status_note)


def summary_view(row: Any) -> dict[str, Any]:
    """An incident as lists show it."""
    return {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "label": row.label,
        "terms": list(row.terms),
        "first_seen": row.first_seen,
        "opened_at": row.opened_at,
        "last_seen": row.last_seen,
        "message_count": row.message_count,
        "author_count": row.author_count,
        "platforms": list(row.platforms),
        "languages": list(row.languages),
        "has_status_note": bool(row.status_note),
        "closed_at": row.closed_at,
        "close_reason": row.close_reason,
        "merged_into": row.merged_into,
    }


async def list_incidents(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    status: str | None,
    kind: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Open incidents first, then by latest activity."""
    rows = await all_rows(
        conn,
        """
        SELECT * FROM triage.incidents
        WHERE workspace_id = :ws
          AND (CAST(:status AS text) IS NULL OR status = CAST(:status AS text))
          AND (CAST(:kind AS text) IS NULL OR kind = CAST(:kind AS text))
        ORDER BY status = 'open' DESC, last_seen DESC, id DESC
        LIMIT :limit
        """,
        {"ws": workspace_id, "status": status, "kind": kind, "limit": limit},
    )
    return [summary_view(r) for r in rows]


async def incident_view(
    conn: AsyncConnection, workspace_id: uuid.UUID, incident_id: int, now: datetime
) -> dict[str, Any] | None:
    """An incident with its samples, its conversations in queue order, and its history."""
    params = {"ws": workspace_id, "id": incident_id}
    row = await first_row(
        conn,
        """
        SELECT i.*, u.display_name AS note_by_name, cu.display_name AS closed_by_name
        FROM triage.incidents AS i
        LEFT JOIN triage.users AS u ON u.workspace_id = i.workspace_id AND u.id = i.note_by
        LEFT JOIN triage.users AS cu ON cu.workspace_id = i.workspace_id AND cu.id = i.closed_by
        WHERE i.workspace_id = :ws AND i.id = :id
        """,
        params,
    )
    if row is None:
        return None
    samples = await _samples(conn, params)
    conversations = await _conversations(conn, params, now)
    history = await _history(conn, params)
    return {
        **summary_view(row),
        "status_note": row.status_note,
        "note_by": row.note_by,
        "note_by_name": row.note_by_name,
        "note_at": row.note_at,
        "closed_by": row.closed_by,
        "closed_by_name": row.closed_by_name,
        "samples": samples,
        "conversations": conversations,
        "history": history,
    }


async def _samples(conn: AsyncConnection, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The incident's first few messages that are not flooding, with their authors."""
    rows = await all_rows(
        conn,
        """
        SELECT m.id, m.conversation_id, m.text, m.author_handle, m.author_name, m.created_at,
               im.platform, im.language, im.flooding, coalesce(d.abuse, false) AS abuse
        FROM triage.incident_members AS im
        JOIN triage.messages AS m ON m.workspace_id = im.workspace_id AND m.id = im.message_id
        LEFT JOIN triage.decisions AS d ON d.workspace_id = m.workspace_id AND d.message_id = m.id
        WHERE im.workspace_id = :ws AND im.incident_id = :id AND NOT im.flooding
        ORDER BY im.at, im.message_id
        LIMIT :samples
        """,
        {**params, "samples": SAMPLES},
    )
    return [
        {
            "message_id": s.id,
            "conversation_id": s.conversation_id,
            "text": s.text,
            "author": {"handle": s.author_handle, "display_name": s.author_name},
            "platform": s.platform,
            "language": s.language,
            "abuse": s.abuse,
            "created_at": s.created_at,
        }
        for s in rows
    ]


async def _conversations(
    conn: AsyncConnection, params: dict[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """The incident's conversations, those waiting for an answer first, in queue order."""
    rows = await all_rows(
        conn,
        f"""
        SELECT c.id, c.platform, c.channel, c.status, c.needs_answer, c.priority, c.intent,
               c.abuse, c.sla_rank, c.sla_due_at, c.waiting_since,
               CASE WHEN c.claim_expires_at > :now THEN c.assignee_id END AS assignee_id,
               CASE WHEN c.claim_expires_at > :now THEN u.display_name END AS assignee_name,
               lm.text, lm.author_handle, lm.author_name, lm.id AS message_id,
               im.messages, im.flooding, im.joined_at
        FROM (
            SELECT conversation_id, count(*) AS messages, bool_or(flooding) AS flooding,
                   min(at) AS joined_at
            FROM triage.incident_members WHERE workspace_id = :ws AND incident_id = :id
            GROUP BY conversation_id
        ) AS im
        JOIN triage.conversations AS c ON c.workspace_id = :ws AND c.id = im.conversation_id
        LEFT JOIN triage.messages AS lm
          ON lm.workspace_id = c.workspace_id AND lm.id = c.last_message_id
        LEFT JOIN triage.users AS u ON u.workspace_id = c.workspace_id AND u.id = c.assignee_id
        ORDER BY (c.status = 'open' AND c.needs_answer) DESC, {queue_order_by("c")}
        LIMIT :limit
        """,
        {**params, "now": now, "limit": MEMBER_CONVERSATIONS},
    )
    return [_conversation_view(c) for c in rows]


def _conversation_view(c: Any) -> dict[str, Any]:
    return {
        "conversation_id": c.id,
        "platform": c.platform,
        "channel": c.channel,
        "status": c.status,
        "in_queue": c.status == "open" and c.needs_answer,
        "priority": f"P{c.priority}",
        "intent": c.intent,
        "abuse": c.abuse,
        "sla": {"state": SLA_STATES[c.sla_rank], "due_at": c.sla_due_at},
        "waiting_since": c.waiting_since,
        "assignee_id": c.assignee_id,
        "assignee_name": c.assignee_name,
        "incident_messages": c.messages,
        "flooding": c.flooding,
        "joined_at": c.joined_at,
        "latest_message": None
        if c.message_id is None
        else {
            "id": c.message_id,
            "text": c.text,
            "author": {"handle": c.author_handle, "display_name": c.author_name},
        },
    }


async def _history(conn: AsyncConnection, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The incident's latest changes, newest first, with who made them."""
    rows = await all_rows(
        conn,
        """
        SELECT h.id, h.change, h.detail, h.user_id, h.at, u.display_name
        FROM triage.incident_history AS h
        LEFT JOIN triage.users AS u ON u.workspace_id = h.workspace_id AND u.id = h.user_id
        WHERE h.workspace_id = :ws AND h.incident_id = :id
        ORDER BY h.id DESC LIMIT :limit
        """,
        {**params, "limit": HISTORY},
    )
    return [
        {
            "id": h.id,
            "change": h.change,
            "detail": h.detail,
            "user_id": h.user_id,
            "user_name": h.display_name,
            "at": h.at,
        }
        for h in rows
    ]


async def incident_of_conversation(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int
) -> dict[str, Any] | None:
    """The conversation's incident with its status note (the reply box starts from it)."""
    row = await first_row(
        conn,
        """
        SELECT i.id, i.label, i.status, i.kind, i.status_note, i.note_at
        FROM triage.incident_members AS im
        JOIN triage.incidents AS i ON i.workspace_id = im.workspace_id AND i.id = im.incident_id
        WHERE im.workspace_id = :ws AND im.conversation_id = :id
        ORDER BY i.status = 'open' DESC, i.last_seen DESC, i.id DESC
        LIMIT 1
        """,
        {"ws": workspace_id, "id": conversation_id},
    )
    if row is None:
        return None
    return {
        "id": row.id,
        "label": row.label,
        "status": row.status,
        "kind": row.kind,
        "status_note": row.status_note,
        "note_at": row.note_at,
    }


# The detector: its per-workspace lock, the incidents it opens, grows and closes ----------

_DETECTOR_LOCK_SPACE = 0x1C1D  # advisory-lock namespace of the detector


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_UTC_Z).decode()


async def try_lock_workspace(conn: AsyncConnection, workspace_id: uuid.UUID) -> bool:
    """The detector's lock on one workspace until the transaction ends; tried, never waited
    for (False: another replica decides it)."""
    return bool(
        await conn.scalar(
            text("SELECT pg_try_advisory_xact_lock(:space, hashtext(:ws))"),
            {"space": _DETECTOR_LOCK_SPACE, "ws": str(workspace_id)},
        )
    )


_OPEN_INCIDENTS = text(
    """
    SELECT id, kind, sketch, first_seen, last_seen FROM triage.incidents
    WHERE workspace_id = :ws AND status = 'open' ORDER BY id FOR UPDATE
    """
)
_MEMBERS = text(
    """
    SELECT incident_id, message_id, conversation_id, author, platform, language, at, flooding
    FROM triage.incident_members
    WHERE workspace_id = :ws AND incident_id = ANY(CAST(:ids AS bigint[]))
    ORDER BY at, message_id
    """
)


async def load_open(conn: AsyncConnection, workspace_id: uuid.UUID) -> list[OpenIncident]:
    """The workspace's open incidents with their members, locked for this transaction."""
    rows = (await conn.execute(_OPEN_INCIDENTS, {"ws": workspace_id})).all()
    if not rows:
        return []
    members: dict[int, list[Member]] = {r.id: [] for r in rows}
    for m in await conn.execute(_MEMBERS, {"ws": workspace_id, "ids": list(members)}):
        members[m.incident_id].append(
            Member(
                m.message_id, m.conversation_id, m.author, m.platform, m.language, m.at, m.flooding
            )
        )
    return [
        OpenIncident(r.id, r.kind, tuple(r.sketch), r.first_seen, r.last_seen, tuple(members[r.id]))
        for r in rows
    ]


_INSERT_INCIDENT = text(
    """
    INSERT INTO triage.incidents (workspace_id, kind, label, terms, sketch, first_seen, opened_at,
        last_seen, message_count, author_count, platforms, languages, updated_at)
    VALUES (:ws, :kind, :label, CAST(:terms AS text[]), CAST(:sketch AS bigint[]), :first_seen,
        :now, :last_seen, :messages, :authors, CAST(:platforms AS text[]),
        CAST(:languages AS text[]), :now)
    RETURNING id
    """
)


async def insert_incident(
    conn: AsyncConnection, workspace_id: uuid.UUID, opened: Opened, now: datetime
) -> int:
    """A detected incident (its members are added next); returns its id."""
    return int(
        (
            await conn.execute(
                _INSERT_INCIDENT,
                {
                    "ws": workspace_id,
                    "kind": opened.kind,
                    "label": opened.label,
                    "terms": list(opened.terms),
                    "sketch": list(opened.sketch),
                    "first_seen": opened.first_seen,
                    "last_seen": opened.last_seen,
                    "messages": len(opened.members),
                    "authors": opened.author_count,
                    "platforms": list(opened.platforms),
                    "languages": list(opened.languages),
                    "now": now,
                },
            )
        ).scalar_one()
    )


_INSERT_MEMBERS = text(
    """
    INSERT INTO triage.incident_members (workspace_id, incident_id, message_id, conversation_id,
        author, platform, language, at, flooding, added_at)
    SELECT :ws, :incident, r.m, r.c, r.author, r.platform, r.language, r.at, r.flooding, :now
    FROM json_to_recordset(CAST(:rows AS json)) AS r(m bigint, c bigint, author text,
        platform text, language text, at timestamptz, flooding boolean)
    ON CONFLICT DO NOTHING
    RETURNING message_id, conversation_id
    """
)


def _members_json(members: Sequence[Member]) -> str:
    return _json(
        [
            {
                "m": m.message_id,
                "c": m.conversation_id,
                "author": m.author,
                "platform": m.platform,
                "language": m.language,
                "at": m.at,
                "flooding": m.flooding,
            }
            for m in members
        ]
    )


async def insert_members(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    incident_id: int,
    new_members: Sequence[Member],
    now: datetime,
) -> list[int]:
    """Add members (a message already in an incident is skipped); returns the conversation
    of each member added."""
    rows = await conn.execute(
        _INSERT_MEMBERS,
        {
            "ws": workspace_id,
            "incident": incident_id,
            "rows": _members_json(new_members),
            "now": now,
        },
    )
    return [r.conversation_id for r in rows]


_GROW = text(
    """
    UPDATE triage.incidents SET message_count = :messages, author_count = :authors,
        last_seen = GREATEST(last_seen, :last_seen), platforms = CAST(:platforms AS text[]),
        languages = CAST(:languages AS text[]), updated_at = :now
    WHERE workspace_id = :ws AND id = :id
    """
)
_FLOODING = text(
    """
    UPDATE triage.incident_members SET flooding = true
    WHERE workspace_id = :ws AND incident_id = :id AND message_id = ANY(CAST(:ids AS bigint[]))
    """
)


async def save_growth(
    conn: AsyncConnection, workspace_id: uuid.UUID, grown: Grown, now: datetime
) -> None:
    """An incident's new figures, and its members found flooding."""
    if grown.flooding:
        await conn.execute(
            _FLOODING,
            {"ws": workspace_id, "id": grown.incident_id, "ids": list(grown.flooding)},
        )
    await conn.execute(
        _GROW,
        {
            "ws": workspace_id,
            "id": grown.incident_id,
            "messages": grown.message_count,
            "authors": grown.author_count,
            "last_seen": grown.last_seen,
            "platforms": list(grown.platforms),
            "languages": list(grown.languages),
            "now": now,
        },
    )


_CLOSE_QUIET = text(
    """
    UPDATE triage.incidents SET status = 'closed', closed_at = :now, close_reason = 'quiet',
        updated_at = :now
    WHERE workspace_id = :ws AND id = :id AND status = 'open'
    RETURNING kind, message_count
    """
)


async def close_quiet(
    conn: AsyncConnection, workspace_id: uuid.UUID, incident_id: int, now: datetime
) -> Any | None:
    """Close an open incident gone quiet; its (kind, message_count), or None if it was not
    open."""
    return (
        await conn.execute(_CLOSE_QUIET, {"ws": workspace_id, "id": incident_id, "now": now})
    ).one_or_none()


_DETECTED_HISTORY = text(
    """
    INSERT INTO triage.incident_history (workspace_id, incident_id, change, detail, at)
    VALUES (:ws, :id, :change, CAST(:detail AS jsonb), :now)
    """
)


async def add_detected_history(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    incident_id: int,
    change: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    """A history row of the detector's, at its clock's time (a replay clock in replays)."""
    await conn.execute(
        _DETECTED_HISTORY,
        {
            "ws": workspace_id,
            "id": incident_id,
            "change": change,
            "detail": _json(detail),
            "now": now,
        },
    )


# Signals: the detector's sliding window, one row per message worth watching -------------

SIGNALS_KEEP = timedelta(days=2)
BASELINE_LIMIT = 5_000  # a baseline this large already says "usual"
# A tick judges at most this many of the window's latest signals, so its CPU stays bounded
# when a workspace takes thousands of messages a minute (see README, "Incidents").
WINDOW_LIMIT = 10_000

_INSERT_SIGNALS = text(
    """
    INSERT INTO triage.incident_signals
        (workspace_id, message_id, conversation_id, author, platform, language, abuse, at,
         sketch, terms)
    SELECT r.w, r.m, r.c, r.author, r.platform, r.language, r.abuse, r.at,
           ARRAY(SELECT jsonb_array_elements_text(r.sketch)::bigint),
           ARRAY(SELECT jsonb_array_elements_text(r.terms))
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(w uuid, m bigint, c bigint, author text,
        platform text, language text, abuse boolean, at timestamptz, sketch jsonb, terms jsonb)
    ON CONFLICT (workspace_id, message_id) DO NOTHING
    """
)


async def insert_signals(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Store signals built by ``signals.signal_row`` (a message seen twice is kept once)."""
    if rows:
        await conn.execute(_INSERT_SIGNALS, {"rows": _json(list(rows))})


_SELECT_SIGNALS = """
    SELECT s.message_id, s.conversation_id, s.author, s.platform, s.language, s.abuse, s.at,
           s.sketch, s.terms, m.incident_id
    FROM triage.incident_signals AS s
    LEFT JOIN triage.incident_members AS m
      ON m.workspace_id = s.workspace_id AND m.message_id = s.message_id
    WHERE s.workspace_id = :ws AND s.at > :since AND s.at <= :until
"""
_WINDOW = text(_SELECT_SIGNALS + " ORDER BY s.at DESC, s.message_id DESC LIMIT :limit")
_BASELINE = text(_SELECT_SIGNALS + " ORDER BY s.at DESC LIMIT :limit")


def _signal(row: Any) -> Signal:
    return Signal(
        message_id=row.message_id,
        conversation_id=row.conversation_id,
        author=row.author,
        platform=row.platform,
        language=row.language,
        abuse=row.abuse,
        at=row.at,
        sketch=tuple(row.sketch),
        terms=tuple(row.terms),
        incident_id=row.incident_id,
    )


async def signal_window(
    conn: AsyncConnection, workspace_id: uuid.UUID, since: datetime, until: datetime
) -> list[Signal]:
    """The window's signals in time order: the latest ``WINDOW_LIMIT`` of them."""
    rows = await conn.execute(
        _WINDOW, {"ws": workspace_id, "since": since, "until": until, "limit": WINDOW_LIMIT}
    )
    return [_signal(r) for r in reversed(rows.all())]


async def signal_baseline(
    conn: AsyncConnection, workspace_id: uuid.UUID, since: datetime, until: datetime
) -> list[Signal]:
    """The signals before the window (the latest ``BASELINE_LIMIT``), newest first."""
    rows = await conn.execute(
        _BASELINE, {"ws": workspace_id, "since": since, "until": until, "limit": BASELINE_LIMIT}
    )
    return [_signal(r) for r in rows]


ACTIVE_WORKSPACES = text(
    """
    SELECT DISTINCT workspace_id FROM triage.incident_signals WHERE at > :since
    UNION
    SELECT DISTINCT workspace_id FROM triage.incidents WHERE status = 'open'
    """
)


async def active_workspaces(conn: AsyncConnection, since: datetime) -> list[uuid.UUID]:
    """Workspaces with recent signals or open incidents: the only ones with work to do."""
    rows = await conn.execute(ACTIVE_WORKSPACES, {"since": since})
    return sorted(r.workspace_id for r in rows)


async def prune_signals(conn: AsyncConnection, now: datetime) -> int:
    """Forget signals older than any baseline; members keep what the desk needs."""
    result = await conn.execute(
        text("DELETE FROM triage.incident_signals WHERE at < :old"), {"old": now - SIGNALS_KEEP}
    )
    return int(getattr(result, "rowcount", 0) or 0)
