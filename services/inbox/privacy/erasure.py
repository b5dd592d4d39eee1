"""The inbox's side of data protection: erase a person, or purged conversations, here too.

Triage asks through events (``privacy.erasure_requested``, ``privacy.conversations_purged``);
this handler runs in the inbox consumer's transaction. An erased message keeps its row, so
its (channel, external_id) key still makes a re-poll or re-ingest a duplicate, but loses its
text and raw platform payload; an erased author loses handle, name and platform id; the
agents' replies addressed to them lose their text. Pending events that still carry the text
(not yet consumed, or dead-lettered) are scrubbed too. For an erasure, ``privacy.erasure_done``
tells triage which messages were erased, so it can erase the same set.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ecoute.v1 import events_pb2
from services.infra.events import Event, publish

ERASURE_REQUESTED = "privacy.erasure_requested"
CONVERSATIONS_PURGED = "privacy.conversations_purged"
ERASURE_DONE = "privacy.erasure_done"
TOPICS = (ERASURE_REQUESTED, CONVERSATIONS_PURGED)

OnErased = Callable[[str, int], None]

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
_ERASE_AUTHORS = text(
    """
    UPDATE inbox.authors AS a
    SET handle = '', display_name = '', external_id = 'erased:' || a.id,
        erased_at = coalesce(a.erased_at, :now)
    WHERE a.workspace_id = :ws AND a.id = ANY(CAST(:authors AS bigint[]))
      AND (NOT :only_if_gone OR NOT EXISTS (
            SELECT 1 FROM inbox.messages AS m
            WHERE m.workspace_id = a.workspace_id AND m.author_id = a.id
              AND m.erased_at IS NULL))
    RETURNING a.id
    """
)


def _ts(moment: datetime) -> Timestamp:
    return Timestamp(seconds=int(moment.timestamp()), nanos=moment.microsecond * 1000)


async def erase_messages(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    message_ids: Sequence[int],
    whole_conversations: Sequence[int],
    now: datetime,
    *,
    waiting_events: bool = True,
) -> tuple[list[int], set[int]]:
    """Erase these messages and every message of ``whole_conversations``, the deliveries
    answering them and dead-lettered (with ``waiting_events``, also waiting) events carrying
    them; return (erased ids, their authors)."""
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
    tables = ("outbox", "dead_letter") if waiting_events else ("dead_letter",)
    await scrub_events(conn, workspace_id, set(erased), tables)
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


def _scrubbed(topic: str, payload: bytes, erased: set[int]) -> bytes | None:
    """The payload without the erased person's words, or None if it is not about them."""
    if topic == "message.ingested":
        ingested = events_pb2.MessageIngested.FromString(payload)
        if ingested.message_id not in erased:
            return None
        ingested.message.text = ""
        ingested.message.author.Clear()
        ingested.message.ClearField("raw")
        return bytes(ingested.SerializeToString())
    requested = events_pb2.ReplyRequested.FromString(payload)
    if requested.in_reply_to_message_id not in erased:
        return None
    requested.text = ""
    return bytes(requested.SerializeToString())


async def scrub_events(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    erased: set[int],
    tables: Sequence[str] = ("outbox", "dead_letter"),
) -> None:
    """Rewrite waiting and dead-lettered events that still carry erased messages or replies
    to them. A row another consumer holds right now is skipped: what it writes is erased by
    the erasure event that follows it in that consumer's order."""
    if not erased:
        return
    for table in tables:
        lock = " FOR UPDATE SKIP LOCKED" if table == "outbox" else ""
        rows = (
            await conn.execute(
                text(
                    f"SELECT id, consumer, topic, payload FROM events.{table} "
                    "WHERE workspace_id = :ws "
                    f"AND topic IN ('message.ingested', 'reply.requested'){lock}"
                ),
                {"ws": workspace_id},
            )
        ).all()
        for r in rows:
            payload = _scrubbed(r.topic, bytes(r.payload), erased)
            if payload is not None:
                await conn.execute(
                    text(
                        f"UPDATE events.{table} SET payload = :payload "
                        "WHERE id = :id AND consumer = :consumer"
                    ),
                    {"payload": payload, "id": r.id, "consumer": r.consumer},
                )


async def erase_person(
    conn: AsyncConnection, event: Event, now: datetime, on_erased: OnErased | None
) -> None:
    request = events_pb2.ErasureRequested.FromString(event.payload)
    if request.workspace_id != str(event.workspace_id):
        raise ValueError("event workspace does not match its envelope")
    ws = event.workspace_id
    who = orjson.dumps(
        [
            {"platform": i.platform, "author_id": i.author_id, "handle": i.handle}
            for i in request.identities
        ]
    ).decode()
    authors = [r.id for r in (await conn.execute(_AUTHORS, {"ws": ws, "who": who})).all()]
    theirs = (await conn.execute(_THEIR_MESSAGES, {"ws": ws, "authors": authors})).all()
    conversations = sorted({r.conversation_id for r in theirs})
    answers = (
        await conn.execute(
            _ANSWERS,
            {
                "ws": ws,
                "conversations": conversations,
                "answered": sorted({r.external_id for r in theirs}),
            },
        )
    ).all()
    direct = sorted({r.conversation_id for r in theirs if r.kind == "dm"})
    ids = sorted({r.id for r in theirs} | {r.id for r in answers})
    erased, _ = await erase_messages(conn, ws, ids, direct, now)
    blanked = await erase_authors(conn, ws, authors, now, only_if_gone=False)
    done = events_pb2.ErasureDone(
        workspace_id=str(ws),
        request_id=request.request_id,
        message_ids=erased,
        authors=blanked,
        done_at=_ts(now),
    )
    await publish(conn, ERASURE_DONE, [ws], [done.SerializeToString()])
    if on_erased is not None:
        on_erased("erasure", len(erased))


async def purge_conversations(
    conn: AsyncConnection, event: Event, now: datetime, on_erased: OnErased | None
) -> None:
    purged = events_pb2.ConversationsPurged.FromString(event.payload)
    if purged.workspace_id != str(event.workspace_id):
        raise ValueError("event workspace does not match its envelope")
    # Conversations idle for the retention period have no event waiting: dead letters only.
    erased, authors = await erase_messages(
        conn, event.workspace_id, [], list(purged.conversation_ids), now, waiting_events=False
    )
    await erase_authors(conn, event.workspace_id, sorted(authors), now, only_if_gone=True)
    if on_erased is not None:
        on_erased("retention", len(erased))


async def apply_privacy(
    conn: AsyncConnection, events: list[Event], on_erased: OnErased | None = None
) -> None:
    """Consumer handler: apply erasure requests and retention purges from triage."""
    now = datetime.now(UTC)
    for event in events:
        if event.topic == ERASURE_REQUESTED:
            await erase_person(conn, event, now, on_erased)
        elif event.topic == CONVERSATIONS_PURGED:
            await purge_conversations(conn, event, now, on_erased)
