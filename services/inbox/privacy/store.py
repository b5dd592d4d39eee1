"""SQL of the inbox's erasures: find a person's authors and messages, blank them, and rewrite
the waiting events that still carry their words."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_AUTHORS = text(
    """
    SELECT a.id
    FROM json_to_recordset(CAST(:who AS json)) AS i(platform text, author_id text, handle text)
    JOIN inbox.authors AS a ON a.workspace_id = :ws AND a.platform = i.platform
    WHERE (i.author_id <> '' AND a.external_id = i.author_id)
       OR (i.handle <> '' AND lower(ltrim(a.handle, '@')) = i.handle)
    """
)
_THEIR_MESSAGES = text(
    """
    SELECT m.id, m.conversation_id, m.external_id, c.kind
    FROM inbox.messages AS m
    JOIN inbox.conversations AS c ON c.workspace_id = m.workspace_id AND c.id = m.conversation_id
    WHERE m.workspace_id = :ws AND m.author_id = ANY(CAST(:authors AS bigint[]))
    """
)
_ANSWERS = text(
    """
    SELECT id FROM inbox.messages
    WHERE workspace_id = :ws AND conversation_id = ANY(CAST(:conversations AS bigint[]))
      AND direction = 'out' AND in_reply_to = ANY(CAST(:answered AS text[]))
    """
)
_ERASE_MESSAGES = text(
    """
    UPDATE inbox.messages
    SET text = '', raw = NULL, thread_id = '', erased_at = coalesce(erased_at, :now)
    WHERE workspace_id = :ws
      AND (id = ANY(CAST(:ids AS bigint[])) OR conversation_id = ANY(CAST(:whole AS bigint[])))
    RETURNING id, author_id
    """
)
_ERASE_DELIVERIES = text(
    """
    UPDATE inbox.deliveries
    SET text = '', failure_detail = NULL, updated_at = now(),
        failure_reason = CASE WHEN state IN ('queued', 'sending') THEN 'erased'
                              ELSE failure_reason END,
        state = CASE WHEN state IN ('queued', 'sending') THEN 'failed' ELSE state END
    WHERE workspace_id = :ws AND (in_reply_to_id = ANY(CAST(:erased AS bigint[]))
                                  OR conversation_id = ANY(CAST(:whole AS bigint[])))
    """
)
# A moderation holds ids only; the platform's words about it go (an action still pending is
# carried out: hiding or deleting the comment is what a person asking for erasure wants).
_ERASE_MODERATIONS = text(
    """
    UPDATE inbox.moderations SET failure_detail = NULL, updated_at = now()
    WHERE workspace_id = :ws AND failure_detail IS NOT NULL
      AND (message_id = ANY(CAST(:erased AS bigint[]))
           OR conversation_id = ANY(CAST(:whole AS bigint[])))
    """
)
_ERASE_AUTHORS = text(
    """
    UPDATE inbox.authors AS a
    SET handle = '', display_name = '', external_id = 'erased:' || a.id,
        profile_checked_at = NULL, erased_at = coalesce(a.erased_at, :now)
    WHERE a.workspace_id = :ws AND a.id = ANY(CAST(:authors AS bigint[]))
      AND (NOT :only_if_gone OR NOT EXISTS (
            SELECT 1 FROM inbox.messages AS m
            WHERE m.workspace_id = a.workspace_id AND m.author_id = a.id
              AND m.erased_at IS NULL))
    RETURNING a.id
    """
)


async def authors_matching(conn: AsyncConnection, workspace_id: uuid.UUID, who: str) -> list[int]:
    """Authors named by a JSON list of identities (platform, author id or handle)."""
    return [r.id for r in (await conn.execute(_AUTHORS, {"ws": workspace_id, "who": who})).all()]


async def messages_of(
    conn: AsyncConnection, workspace_id: uuid.UUID, authors: Sequence[int]
) -> list[Any]:
    """These authors' messages: id, conversation_id, external_id and conversation kind."""
    return list(
        (await conn.execute(_THEIR_MESSAGES, {"ws": workspace_id, "authors": authors})).all()
    )


async def answers_to(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    conversations: Sequence[int],
    answered: Sequence[str],
) -> list[int]:
    """Ids of the outbound replies to these messages (by platform id) in these conversations."""
    rows = await conn.execute(
        _ANSWERS, {"ws": workspace_id, "conversations": conversations, "answered": answered}
    )
    return [r.id for r in rows.all()]


async def erase_messages(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    message_ids: Sequence[int],
    whole_conversations: Sequence[int],
    now: datetime,
) -> tuple[list[int], set[int]]:
    """Blank these messages, every message of ``whole_conversations``, the deliveries
    answering them and the keys of the whole DMs; return (erased ids, their authors)."""
    params: dict[str, Any] = {
        "ws": workspace_id,
        "ids": list(message_ids),
        "whole": list(whole_conversations),
        "now": now,
    }
    rows = (await conn.execute(_ERASE_MESSAGES, params)).all()
    # A DM's key is the platform's DM id or the person's own id: neither may stay.
    await conn.execute(
        text(
            "UPDATE inbox.conversations SET thread_key = 'erased:' || id "
            "WHERE workspace_id = :ws AND id = ANY(CAST(:whole AS bigint[])) AND kind = 'dm'"
        ),
        params,
    )
    erased = sorted(r.id for r in rows)
    await conn.execute(_ERASE_DELIVERIES, {**params, "erased": erased})
    await conn.execute(_ERASE_MODERATIONS, {**params, "erased": erased})
    return erased, {r.author_id for r in rows}


async def erase_authors(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    authors: Sequence[int],
    now: datetime,
    *,
    only_if_gone: bool,
) -> int:
    """Blank these authors' profiles (with ``only_if_gone``: those with nothing left)."""
    if not authors:
        return 0
    rows = (
        await conn.execute(
            _ERASE_AUTHORS,
            {
                "ws": workspace_id,
                "authors": list(authors),
                "now": now,
                "only_if_gone": only_if_gone,
            },
        )
    ).all()
    return len(rows)


async def events_carrying_text(
    conn: AsyncConnection, workspace_id: uuid.UUID, table: str
) -> list[Any]:
    """The workspace's message-ingested and reply-requested events in ``events.<table>``
    (``outbox``: waiting, skipping rows a consumer holds; ``dead_letter``)."""
    lock = " FOR UPDATE SKIP LOCKED" if table == "outbox" else ""
    return list(
        (
            await conn.execute(
                text(
                    f"SELECT id, consumer, topic, payload FROM events.{table} "
                    "WHERE workspace_id = :ws "
                    f"AND topic IN ('message.ingested', 'reply.requested'){lock}"
                ),
                {"ws": workspace_id},
            )
        ).all()
    )


async def rewrite_event(
    conn: AsyncConnection, table: str, event_id: int, consumer: str, payload: bytes
) -> None:
    """Replace one consumer's copy of an event with its scrubbed payload."""
    await conn.execute(
        text(
            f"UPDATE events.{table} SET payload = :payload WHERE id = :id AND consumer = :consumer"
        ),
        {"payload": payload, "id": event_id, "consumer": consumer},
    )
