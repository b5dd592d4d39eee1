"""SQL of what the consumer writes: messages and their decisions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.desk.store import StateKey

_INSERT_MESSAGES = text(
    """
    INSERT INTO triage.messages (workspace_id, id, conversation_id, direction, kind,
                                 author_handle, author_external_id, author_name, text,
                                 created_at, received_at, erased_at, held)
    SELECT * FROM unnest(CAST(:ws AS uuid[]), CAST(:ids AS bigint[]),
                         CAST(:conversation_ids AS bigint[]), CAST(:directions AS text[]),
                         CAST(:kinds AS text[]), CAST(:handles AS text[]),
                         CAST(:author_ids AS text[]), CAST(:names AS text[]),
                         CAST(:texts AS text[]), CAST(:created AS timestamptz[]),
                         CAST(:received AS timestamptz[]), CAST(:erased AS timestamptz[]),
                         CAST(:held AS boolean[]))
    ON CONFLICT (workspace_id, id) DO NOTHING
    RETURNING workspace_id, id
    """
)


async def insert_messages(conn: AsyncConnection, rows: list[dict[str, Any]]) -> set[StateKey]:
    """Insert messages; return the keys that were new (an event seen twice changes nothing).

    ``erased`` is None, or the time of a tombstone's erasure (its content already blank)."""
    if not rows:
        return set()
    params = {name: [r[name] for r in rows] for name in rows[0]}
    inserted = (await conn.execute(_INSERT_MESSAGES, params)).all()
    return {(r.workspace_id, r.id) for r in inserted}


_LAST_BRAND_MESSAGES = text(
    """
    SELECT k.ws AS workspace_id, k.cid AS conversation_id, m.text
    FROM unnest(CAST(:ws AS uuid[]), CAST(:cids AS bigint[])) AS k(ws, cid)
    CROSS JOIN LATERAL (
        SELECT text FROM triage.messages
        WHERE workspace_id = k.ws AND conversation_id = k.cid AND direction = 'out'
        ORDER BY created_at DESC, id DESC LIMIT 1
    ) AS m
    """
)


async def last_brand_messages(conn: AsyncConnection, keys: list[StateKey]) -> dict[StateKey, str]:
    """The text of the brand's latest message in each conversation (the thread a customer's
    reply answers); conversations the brand never wrote in are absent."""
    if not keys:
        return {}
    params = {"ws": [k[0] for k in keys], "cids": [k[1] for k in keys]}
    rows = (await conn.execute(_LAST_BRAND_MESSAGES, params)).all()
    return {(r.workspace_id, r.conversation_id): r.text for r in rows}


_INSERT_DECISIONS = text(
    """
    INSERT INTO triage.decisions (workspace_id, message_id, needs_answer, intent, abuse,
                                  language, priority, confidence, reasons, model_version,
                                  decided_at)
    SELECT ws, id, needs_answer, intent, abuse, language, priority, confidence,
           string_to_array(reasons, E'\\x1f'), model_version, decided_at
    FROM unnest(CAST(:ws AS uuid[]), CAST(:ids AS bigint[]), CAST(:needs_answer AS boolean[]),
                CAST(:intents AS text[]), CAST(:abuse AS boolean[]), CAST(:languages AS text[]),
                CAST(:priorities AS smallint[]), CAST(:confidences AS real[]),
                CAST(:reasons AS text[]), CAST(:versions AS text[]),
                CAST(:decided AS timestamptz[]))
         AS d(ws, id, needs_answer, intent, abuse, language, priority, confidence, reasons,
              model_version, decided_at)
    ON CONFLICT (workspace_id, message_id) DO NOTHING
    """
)


async def insert_decisions(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(_INSERT_DECISIONS, {name: [r[name] for r in rows] for name in rows[0]})
