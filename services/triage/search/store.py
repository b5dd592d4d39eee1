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

_QUERY = text(
    "SELECT CAST(websearch_to_tsquery('english', :q) || websearch_to_tsquery('french', :q)"
    " || to_tsquery('simple', :refs) AS text)"
)
# The match, word for word the expression of the partial indexes of migration t0014.
_MATCH = """
    m.workspace_id = :ws AND m.erased_at IS NULL
    AND ((to_tsvector('english', m.text) || to_tsvector('french', m.text))
             @@ CAST(:query AS tsquery)
         OR (:handle <> '' AND lower(m.author_handle) = :handle))
    AND (CAST(:before AS bigint) IS NULL OR m.id < CAST(:before AS bigint))
"""
RARE = 5000
"""Under this many matches, reading them all from the indexes and keeping the newest beats
walking the newest messages until enough match (each one stemmed twice on the way)."""

# Plans for these values (never a generic one); the index walk is turned off to count the
# matches, through the GIN and handle indexes only, and kept off when they are few.
_SETTINGS = text("SET LOCAL plan_cache_mode = force_custom_plan")
_BITMAPS_ONLY = text("SET LOCAL enable_indexscan = off")
_ANY_PLAN = text("SET LOCAL enable_indexscan = on")
_COUNT = text(f"SELECT count(*) FROM (SELECT 1 FROM triage.messages m WHERE {_MATCH} LIMIT :cap) s")
_SEARCH = text(
    f"""
    SELECT m.id AS message_id, m.conversation_id, c.platform, c.channel, c.status,
           c.priority, m.author_handle, m.created_at,
           ts_headline(
               CASE d.language WHEN 'fr' THEN 'french' ELSE 'english' END::regconfig,
               m.text, CAST(:query AS tsquery), :headline
           ) AS snippet
    FROM triage.messages m
    JOIN triage.conversations c
      ON c.workspace_id = m.workspace_id AND c.id = m.conversation_id
    LEFT JOIN triage.decisions d ON d.workspace_id = m.workspace_id AND d.message_id = m.id
    WHERE {_MATCH}
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
    query = (await conn.execute(_QUERY, {"q": words, "refs": references})).scalar_one()
    params = {"ws": workspace_id, "query": query, "handle": handle, "before": before}
    await conn.execute(_SETTINGS)
    await conn.execute(_BITMAPS_ONLY)
    if (await conn.execute(_COUNT, params | {"cap": RARE})).scalar_one() >= RARE:
        await conn.execute(_ANY_PLAN)
    rows = await conn.execute(_SEARCH, params | {"limit": limit, "headline": _HEADLINE})
    return [dict(r._mapping) for r in rows]
