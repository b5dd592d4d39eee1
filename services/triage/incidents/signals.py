"""The detector's sliding window in the database: one signal per message worth watching.

The consumer writes a signal in the transaction that stores a triaged inbound message that
needs an answer or is abusive, so the window is exactly what was triaged; the detector reads
the window and the baseline from here and prunes what is older than any baseline.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.domain import incidents
from services.triage.domain.incidents import Signal

KEEP = timedelta(days=2)
BASELINE_LIMIT = 5_000  # a baseline this large already says "usual"
# A tick judges at most this many of the window's latest signals, so its CPU stays bounded
# when a workspace takes thousands of messages a minute (see README, "Incidents").
WINDOW_LIMIT = 10_000

_INSERT = text(
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


def signal_row(
    workspace_id: uuid.UUID,
    message_id: int,
    conversation_id: int,
    *,
    text_: str,
    handle: str,
    platform: str,
    language: str,
    abuse: bool,
    at: datetime,
) -> dict[str, Any]:
    """The row for one message: its sketch and terms are computed here, once."""
    words = incidents.terms(text_)
    return {
        "w": str(workspace_id),
        "m": message_id,
        "c": conversation_id,
        "author": incidents.author_key(text_, handle),
        "platform": platform,
        "language": language,
        "abuse": abuse,
        "at": at,
        "sketch": list(incidents.sketch_of_terms(words)),
        "terms": list(words[:40]),
    }


async def insert(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        payload = orjson.dumps(list(rows), option=orjson.OPT_UTC_Z).decode()
        await conn.execute(_INSERT, {"rows": payload})


_SELECT = """
    SELECT s.message_id, s.conversation_id, s.author, s.platform, s.language, s.abuse, s.at,
           s.sketch, s.terms, m.incident_id
    FROM triage.incident_signals AS s
    LEFT JOIN triage.incident_members AS m
      ON m.workspace_id = s.workspace_id AND m.message_id = s.message_id
    WHERE s.workspace_id = :ws AND s.at > :since AND s.at <= :until
"""
_WINDOW = text(_SELECT + " ORDER BY s.at DESC, s.message_id DESC LIMIT :limit")
_BASELINE = text(_SELECT + " ORDER BY s.at DESC LIMIT :limit")


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


async def window(
    conn: AsyncConnection, workspace_id: uuid.UUID, since: datetime, until: datetime
) -> list[Signal]:
    """The window's signals in time order: the latest ``WINDOW_LIMIT`` of them."""
    rows = await conn.execute(
        _WINDOW, {"ws": workspace_id, "since": since, "until": until, "limit": WINDOW_LIMIT}
    )
    return [_signal(r) for r in reversed(rows.all())]


async def baseline(
    conn: AsyncConnection, workspace_id: uuid.UUID, since: datetime, until: datetime
) -> list[Signal]:
    rows = await conn.execute(
        _BASELINE, {"ws": workspace_id, "since": since, "until": until, "limit": BASELINE_LIMIT}
    )
    return [_signal(r) for r in rows]


async def active_workspaces(conn: AsyncConnection, since: datetime) -> list[uuid.UUID]:
    """Workspaces with recent signals or open incidents: the only ones with work to do."""
    rows = await conn.execute(
        text(
            """
        SELECT DISTINCT workspace_id FROM triage.incident_signals WHERE at > :since
        UNION
        SELECT DISTINCT workspace_id FROM triage.incidents WHERE status = 'open'
        """
        ),
        {"since": since},
    )
    return sorted(r.workspace_id for r in rows)


async def prune(conn: AsyncConnection, now: datetime) -> int:
    """Forget signals older than any baseline; members keep what the desk needs."""
    result = await conn.execute(
        text("DELETE FROM triage.incident_signals WHERE at < :old"), {"old": now - KEEP}
    )
    return int(getattr(result, "rowcount", 0) or 0)
