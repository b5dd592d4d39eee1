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

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from ecoute.v1 import events_pb2
from services.inbox.privacy import store
from services.infra.events import Event, publish, read_payload, timestamp

ERASURE_REQUESTED = "privacy.erasure_requested"
CONVERSATIONS_PURGED = "privacy.conversations_purged"
ERASURE_DONE = "privacy.erasure_done"
TOPICS = (ERASURE_REQUESTED, CONVERSATIONS_PURGED)

OnErased = Callable[[str, int], None]


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
        for r in await store.events_carrying_text(conn, workspace_id, table):
            payload = _scrubbed(r.topic, bytes(r.payload), erased)
            if payload is not None:
                await store.rewrite_event(conn, table, r.id, r.consumer, payload)


async def erase_person(
    conn: AsyncConnection, event: Event, now: datetime, on_erased: OnErased | None
) -> None:
    request = read_payload(event, events_pb2.ErasureRequested)
    ws = event.workspace_id
    who = orjson.dumps(
        [
            {"platform": i.platform, "author_id": i.author_id, "handle": i.handle}
            for i in request.identities
        ]
    ).decode()
    authors = await store.authors_matching(conn, ws, who)
    theirs = await store.messages_of(conn, ws, authors)
    conversations = sorted({r.conversation_id for r in theirs})
    answers = await store.answers_to(
        conn, ws, conversations, sorted({r.external_id for r in theirs})
    )
    direct = sorted({r.conversation_id for r in theirs if r.kind == "dm"})
    ids = sorted({r.id for r in theirs} | set(answers))
    erased, _ = await store.erase_messages(conn, ws, ids, direct, now)
    await scrub_events(conn, ws, set(erased))
    blanked = await store.erase_authors(conn, ws, authors, now, only_if_gone=False)
    done = events_pb2.ErasureDone(
        workspace_id=str(ws),
        request_id=request.request_id,
        message_ids=erased,
        authors=blanked,
        done_at=timestamp(now),
    )
    await publish(conn, ERASURE_DONE, [ws], [done.SerializeToString()])
    if on_erased is not None:
        on_erased("erasure", len(erased))


async def purge_conversations(
    conn: AsyncConnection, event: Event, now: datetime, on_erased: OnErased | None
) -> None:
    purged = read_payload(event, events_pb2.ConversationsPurged)
    erased, authors = await store.erase_messages(
        conn, event.workspace_id, [], list(purged.conversation_ids), now
    )
    # Conversations idle for the retention period have no event waiting: dead letters only.
    await scrub_events(conn, event.workspace_id, set(erased), ("dead_letter",))
    await store.erase_authors(conn, event.workspace_id, sorted(authors), now, only_if_gone=True)
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
