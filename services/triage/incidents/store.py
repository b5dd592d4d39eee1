"""SQL of incidents as the desk reads and changes them. Every statement names the workspace.

The detector writes the same tables (``t0006_incidents``); rows the desk changes are locked
``FOR UPDATE`` in id order first, so a merge and the detector growing an incident serialise.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.domain.incident_desk import IncidentState, Summary
from services.triage.domain.incidents import Member
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
    rows = (
        await conn.execute(
            text(
                "SELECT * FROM triage.incidents WHERE workspace_id = :ws "
                "AND id = ANY(CAST(:ids AS bigint[])) ORDER BY id FOR UPDATE"
            ),
            {"ws": workspace_id, "ids": sorted(set(ids))},
        )
    ).all()
    return {r.id: r for r in rows}


async def members(conn: AsyncConnection, workspace_id: uuid.UUID, incident_id: int) -> list[Member]:
    rows = (
        await conn.execute(
            text(
                "SELECT message_id, conversation_id, author, platform, language, at, flooding "
                "FROM triage.incident_members WHERE workspace_id = :ws AND incident_id = :id"
            ),
            {"ws": workspace_id, "id": incident_id},
        )
    ).all()
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
    rows = (
        await conn.execute(
            text(
                """
        UPDATE triage.incident_members SET incident_id = :target, added_at = :now, added_by = :me
        WHERE workspace_id = :ws AND incident_id = :source
          AND (CAST(:only AS bigint[]) IS NULL OR conversation_id = ANY(CAST(:only AS bigint[])))
        RETURNING conversation_id
        """
            ),
            {
                "ws": workspace_id,
                "source": source,
                "target": target,
                "now": now,
                "me": user_id,
                "only": None if conversation_ids is None else list(conversation_ids),
            },
        )
    ).all()
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
    rows = (
        await conn.execute(
            text(
                """
        SELECT s.terms, s.sketch FROM triage.incident_members AS im
        JOIN triage.incident_signals AS s
          ON s.workspace_id = im.workspace_id AND s.message_id = im.message_id
        WHERE im.workspace_id = :ws AND im.incident_id = :id
          AND im.conversation_id = ANY(CAST(:conversations AS bigint[]))
        ORDER BY im.at, im.message_id
        """
            ),
            {"ws": workspace_id, "id": incident_id, "conversations": conversation_ids},
        )
    ).all()
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
    rows = (
        await conn.execute(
            text(
                "SELECT DISTINCT conversation_id FROM triage.incident_members "
                "WHERE workspace_id = :ws AND incident_id = :id ORDER BY conversation_id"
            ),
            {"ws": workspace_id, "id": incident_id},
        )
    ).all()
    return [r.conversation_id for r in rows]


async def is_member(
    conn: AsyncConnection, workspace_id: uuid.UUID, incident_id: int, conversation_id: int
) -> bool:
    row = (
        await conn.execute(
            text(
                "SELECT 1 FROM triage.incident_members WHERE workspace_id = :ws "
                "AND incident_id = :id AND conversation_id = :conversation LIMIT 1"
            ),
            {"ws": workspace_id, "id": incident_id, "conversation": conversation_id},
        )
    ).first()
    return row is not None


async def status_note(
    conn: AsyncConnection, workspace_id: uuid.UUID, incident_id: int
) -> str | None:
    """The incident's status note ('' when none is written), or None for no such incident."""
    row = (
        await conn.execute(
            text("SELECT status_note FROM triage.incidents WHERE workspace_id = :ws AND id = :id"),
            {"ws": workspace_id, "id": incident_id},
        )
    ).first()
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
    rows = (
        await conn.execute(
            text(
                """
        SELECT * FROM triage.incidents
        WHERE workspace_id = :ws
          AND (CAST(:status AS text) IS NULL OR status = CAST(:status AS text))
          AND (CAST(:kind AS text) IS NULL OR kind = CAST(:kind AS text))
        ORDER BY status = 'open' DESC, last_seen DESC, id DESC
        LIMIT :limit
        """
            ),
            {"ws": workspace_id, "status": status, "kind": kind, "limit": limit},
        )
    ).all()
    return [summary_view(r) for r in rows]


async def incident_view(
    conn: AsyncConnection, workspace_id: uuid.UUID, incident_id: int, now: datetime
) -> dict[str, Any] | None:
    """An incident with its samples, its conversations in queue order, and its history."""
    params = {"ws": workspace_id, "id": incident_id}
    row = (
        await conn.execute(
            text(
                """
        SELECT i.*, u.display_name AS note_by_name, cu.display_name AS closed_by_name
        FROM triage.incidents AS i
        LEFT JOIN triage.users AS u ON u.workspace_id = i.workspace_id AND u.id = i.note_by
        LEFT JOIN triage.users AS cu ON cu.workspace_id = i.workspace_id AND cu.id = i.closed_by
        WHERE i.workspace_id = :ws AND i.id = :id
        """
            ),
            params,
        )
    ).first()
    if row is None:
        return None
    samples = (
        await conn.execute(
            text(
                """
        SELECT m.id, m.conversation_id, m.text, m.author_handle, m.author_name, m.created_at,
               im.platform, im.language, im.flooding, coalesce(d.abuse, false) AS abuse
        FROM triage.incident_members AS im
        JOIN triage.messages AS m ON m.workspace_id = im.workspace_id AND m.id = im.message_id
        LEFT JOIN triage.decisions AS d ON d.workspace_id = m.workspace_id AND d.message_id = m.id
        WHERE im.workspace_id = :ws AND im.incident_id = :id AND NOT im.flooding
        ORDER BY im.at, im.message_id
        LIMIT :samples
        """
            ),
            {**params, "samples": SAMPLES},
        )
    ).all()
    conversations = (
        await conn.execute(
            text(
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
        """
            ),
            {**params, "now": now, "limit": MEMBER_CONVERSATIONS},
        )
    ).all()
    history = (
        await conn.execute(
            text(
                """
        SELECT h.id, h.change, h.detail, h.user_id, h.at, u.display_name
        FROM triage.incident_history AS h
        LEFT JOIN triage.users AS u ON u.workspace_id = h.workspace_id AND u.id = h.user_id
        WHERE h.workspace_id = :ws AND h.incident_id = :id
        ORDER BY h.id DESC LIMIT :limit
        """
            ),
            {**params, "limit": HISTORY},
        )
    ).all()
    return {
        **summary_view(row),
        "status_note": row.status_note,
        "note_by": row.note_by,
        "note_by_name": row.note_by_name,
        "note_at": row.note_at,
        "closed_by": row.closed_by,
        "closed_by_name": row.closed_by_name,
        "samples": [
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
            for s in samples
        ],
        "conversations": [
            {
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
            for c in conversations
        ],
        "history": [
            {
                "id": h.id,
                "change": h.change,
                "detail": h.detail,
                "user_id": h.user_id,
                "user_name": h.display_name,
                "at": h.at,
            }
            for h in history
        ],
    }


async def incident_of_conversation(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int
) -> dict[str, Any] | None:
    """The conversation's incident with its status note (the reply box starts from it)."""
    row = (
        await conn.execute(
            text(
                """
        SELECT i.id, i.label, i.status, i.kind, i.status_note, i.note_at
        FROM triage.incident_members AS im
        JOIN triage.incidents AS i ON i.workspace_id = im.workspace_id AND i.id = im.incident_id
        WHERE im.workspace_id = :ws AND im.conversation_id = :id
        ORDER BY i.status = 'open' DESC, i.last_seen DESC, i.id DESC
        LIMIT 1
        """
            ),
            {"ws": workspace_id, "id": conversation_id},
        )
    ).first()
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
