"""Every SQL statement of the composer: what a conversation's customer wrote and who they
are, saved replies, the resolved conversations most like an open one and their answers.

Candidates for similar conversations come from the full-text index of search (migration
t0014): the open conversation's words, stemmed with its language's configuration, any of them
matching (``websearch_to_tsquery`` of "w1 or w2 or …"), ranked by ``ts_rank`` over the
index's own expression; the composer then ranks the best of them by the incidents'
similarity. Only the newest ``CANDIDATES`` matching messages are read, so a common word in a
large workspace costs a bounded read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.db import all_rows, first_row

CANDIDATES = 2000
"""The newest matching inbound messages of resolved conversations that are ranked."""


@dataclass(frozen=True, slots=True)
class Customer:
    """What the desk knows of a conversation's customer for its saved replies and rules."""

    platform: str
    kind: str
    channel: str
    language: str
    display_name: str
    handle: str
    person: str
    """The person's key on the platform (``platform:external id``, else the handle)."""
    texts: tuple[str, ...]
    """Their messages in the thread, oldest first (erased ones are blank)."""


_CUSTOMER = text(
    """
    SELECT c.platform, c.kind, c.channel,
           coalesce((SELECT d.language FROM triage.messages m
                     JOIN triage.decisions d
                       ON d.workspace_id = m.workspace_id AND d.message_id = m.id
                     WHERE m.workspace_id = c.workspace_id AND m.conversation_id = c.id
                       AND m.direction = 'in'
                     ORDER BY m.created_at DESC, m.id DESC LIMIT 1), '') AS language,
           coalesce(first.author_name, '') AS display_name,
           coalesce(first.author_handle, '') AS handle,
           coalesce(first.author_external_id, '') AS external_id,
           coalesce(ARRAY(SELECT m.text FROM triage.messages m
                          WHERE m.workspace_id = c.workspace_id AND m.conversation_id = c.id
                            AND m.direction = 'in' AND m.erased_at IS NULL
                          ORDER BY m.created_at, m.id LIMIT 50), '{}') AS texts
    FROM triage.conversations c
    LEFT JOIN LATERAL (
        SELECT author_name, author_handle, author_external_id FROM triage.messages m
        WHERE m.workspace_id = c.workspace_id AND m.conversation_id = c.id
          AND m.direction = 'in' AND m.erased_at IS NULL
        ORDER BY m.created_at, m.id LIMIT 1
    ) AS first ON true
    WHERE c.workspace_id = :ws AND c.id = :id
    """
)


async def customer(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int
) -> Customer | None:
    """The conversation's customer (the author of its first inbound message), or None."""
    row = (await conn.execute(_CUSTOMER, {"ws": workspace_id, "id": conversation_id})).first()
    if row is None:
        return None
    ident = row.external_id or row.handle.lower()
    return Customer(
        row.platform,
        row.kind,
        row.channel,
        row.language,
        row.display_name,
        row.handle,
        f"{row.platform}:{ident}",
        tuple(row.texts),
    )


async def brand_account(
    conn: AsyncConnection, workspace_id: uuid.UUID, channel: str
) -> tuple[str, str]:
    """(handle, platform account id) the brand last posted from on this channel, or ("", "")."""
    row = await first_row(
        conn,
        """
        SELECT m.author_handle, m.author_external_id FROM triage.messages m
        JOIN triage.conversations c
          ON c.workspace_id = m.workspace_id AND c.id = m.conversation_id
        WHERE m.workspace_id = :ws AND c.channel = :channel AND m.direction = 'out'
          AND m.author_handle <> ''
        ORDER BY m.id DESC LIMIT 1
        """,
        {"ws": workspace_id, "channel": channel},
    )
    return (row.author_handle, row.author_external_id) if row else ("", "")


async def saved_replies(conn: AsyncConnection, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await all_rows(
        conn,
        "SELECT id, title, text, created_at FROM triage.saved_replies "
        "WHERE workspace_id = :ws ORDER BY title",
        {"ws": workspace_id},
    )
    return [
        {"id": r.id, "title": r.title, "text": r.text, "created_at": r.created_at} for r in rows
    ]


async def saved_reply_text(
    conn: AsyncConnection, workspace_id: uuid.UUID, saved_id: uuid.UUID
) -> str | None:
    row = await first_row(
        conn,
        "SELECT text FROM triage.saved_replies WHERE workspace_id = :ws AND id = :id",
        {"ws": workspace_id, "id": saved_id},
    )
    return str(row.text) if row else None


async def people_sent_unchanged(
    conn: AsyncConnection, workspace_id: uuid.UUID, saved_id: uuid.UUID
) -> set[str]:
    """The people (keys as ``Customer.person``) this saved reply went to word for word."""
    rows = await conn.execute(
        text(
            """
        SELECT DISTINCT c.platform || ':' || coalesce(
                   nullif(first.author_external_id, ''), lower(first.author_handle), '') AS person
        FROM triage.replies r
        JOIN triage.conversations c
          ON c.workspace_id = r.workspace_id AND c.id = r.conversation_id
        LEFT JOIN LATERAL (
            SELECT author_handle, author_external_id FROM triage.messages m
            WHERE m.workspace_id = r.workspace_id AND m.conversation_id = r.conversation_id
              AND m.direction = 'in' AND m.erased_at IS NULL
            ORDER BY m.created_at, m.id LIMIT 1
        ) AS first ON true
        WHERE r.workspace_id = :ws AND r.saved_reply_id = :saved AND r.unchanged_saved
          AND r.saved_reply_id IS NOT NULL
        LIMIT 100
        """
        ),
        {"ws": workspace_id, "saved": saved_id},
    )
    return {str(r.person) for r in rows}


async def reply(
    conn: AsyncConnection, workspace_id: uuid.UUID, reply_id: uuid.UUID
) -> tuple[str, int] | None:
    """(text, conversation id) of a reply of the workspace (a suggestion is an earlier
    reply), or None."""
    row = await first_row(
        conn,
        "SELECT text, conversation_id FROM triage.replies "
        "WHERE workspace_id = :ws AND id = :id AND text <> ''",
        {"ws": workspace_id, "id": reply_id},
    )
    return (str(row.text), int(row.conversation_id)) if row else None


_SIMILAR = text(
    f"""
    WITH query AS (SELECT websearch_to_tsquery(CAST(:config AS regconfig), :words) AS q),
    matches AS (
        SELECT m.conversation_id, m.text,
               ts_rank(to_tsvector('english', m.text) || to_tsvector('french', m.text),
                       query.q, 1) AS score
        FROM query, triage.messages m
        JOIN triage.conversations c
          ON c.workspace_id = m.workspace_id AND c.id = m.conversation_id
        WHERE m.workspace_id = :ws AND m.erased_at IS NULL AND m.direction = 'in'
          AND (to_tsvector('english', m.text) || to_tsvector('french', m.text)) @@ query.q
          AND c.status = 'resolved' AND c.id <> :id
        ORDER BY m.id DESC
        LIMIT {CANDIDATES}
    ),
    best AS (
        SELECT DISTINCT ON (conversation_id) conversation_id, text, score
        FROM matches ORDER BY conversation_id, score DESC
    )
    SELECT b.conversation_id, b.text AS customer_text, b.score, c.platform,
           r.id, r.text, r.created_at
    FROM best b
    JOIN triage.conversations c ON c.workspace_id = :ws AND c.id = b.conversation_id
    CROSS JOIN LATERAL (
        SELECT id, text, created_at FROM triage.replies r
        WHERE r.workspace_id = :ws AND r.conversation_id = b.conversation_id
          AND r.state <> 'failed' AND r.text <> ''
        ORDER BY r.created_at DESC LIMIT 1
    ) AS r
    ORDER BY b.score DESC, b.conversation_id DESC
    LIMIT :limit
    """
)


async def similar_resolved(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    conversation_id: int,
    *,
    config: str,
    words: str,
    limit: int,
) -> list[dict[str, Any]]:
    """The workspace's resolved conversations whose customer wrote most like ``words`` by
    full-text rank, each with its best-matching message and the last reply sent in it."""
    params = {"ws": workspace_id, "id": conversation_id, "config": config, "words": words}
    params["limit"] = limit
    return [dict(r._mapping) for r in await conn.execute(_SIMILAR, params)]
