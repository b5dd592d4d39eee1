"""Every SQL statement of search: a workspace's messages by words, reference or handle.

The match expression repeats the partial GIN index of migration t0014 word for word, so
the planner uses it (with the handle index, in a bitmap OR).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

HIGHLIGHT_START = "\ue000"
HIGHLIGHT_STOP = "\ue001"
"""Private-use characters around the matched words of a snippet (never in a message)."""

_SEARCH = text(
    """
    WITH q AS (
        SELECT websearch_to_tsquery('english', :q) || websearch_to_tsquery('french', :q)
               || to_tsquery('simple', :refs) AS query
    )
    SELECT m.id AS message_id, m.conversation_id, c.platform, c.channel, c.status,
           c.priority, m.author_handle, m.created_at,
           ts_headline(
               CASE d.language WHEN 'fr' THEN 'french' ELSE 'english' END::regconfig,
               m.text, q.query, :headline
           ) AS snippet
    FROM q, triage.messages m
    JOIN triage.conversations c
      ON c.workspace_id = m.workspace_id AND c.id = m.conversation_id
    LEFT JOIN triage.decisions d ON d.workspace_id = m.workspace_id AND d.message_id = m.id
    WHERE m.workspace_id = :ws AND m.erased_at IS NULL
      AND ((to_tsvector('english', m.text) || to_tsvector('french', m.text)) @@ q.query
           OR (:handle <> '' AND lower(m.author_handle) = :handle))
      AND (CAST(:before AS bigint) IS NULL OR m.id < CAST(:before AS bigint))
    ORDER BY m.id DESC
    LIMIT :limit
    """
)
_HEADLINE = (
    f'StartSel="{HIGHLIGHT_START}", StopSel="{HIGHLIGHT_STOP}", '
    "MaxWords=24, MinWords=10, MaxFragments=2"
)


async def search_messages(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    *,
    words: str,
    references: str,
    handle: str,
    before: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The workspace's messages matching ``words`` (stemmed in English and French), the
    ``references`` prefix query or the exact ``handle``, the newest received first."""
    rows = await conn.execute(
        _SEARCH,
        {
            "ws": workspace_id,
            "q": words,
            "refs": references,
            "handle": handle,
            "before": before,
            "limit": limit,
            "headline": _HEADLINE,
        },
    )
    return [dict(r._mapping) for r in rows]
