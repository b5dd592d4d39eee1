"""Data protection in triage as use cases: erase a person (now, and again when the inbox
reports its pass), export what triage holds about them, set and apply retention.

Each runs in the caller's transaction and writes everything the change means at once: the
erasure (``store``), the desk's change log for the conversations it emptied, the events the
inbox acts on, and the audit log (ids and counts, never the erased text).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.ext.asyncio import AsyncConnection

from ecoute.v1 import events_pb2
from services.infra.events import Event, publish, read_payload, timestamp
from services.triage.access.accounts import Caller
from services.triage.access.store import audit
from services.triage.domain.people import PersonKey
from services.triage.domain.privacy import Identity, effective_retention_days
from services.triage.news import store as changes
from services.triage.people import store as people
from services.triage.privacy import store

ERASURE_REQUESTED = "privacy.erasure_requested"
CONVERSATIONS_PURGED = "privacy.conversations_purged"


async def erase(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    message_ids: Sequence[int],
    whole_conversations: Sequence[int],
    note_conversations: Sequence[int],
    now: datetime,
) -> int:
    """Erase content (see ``store.erase_content``) and show the desk the conversations it
    emptied; returns how many messages were erased."""
    erased = await store.erase_content(
        conn, workspace_id, message_ids, whole_conversations, note_conversations, now
    )
    await changes.record(conn, [(workspace_id, c) for c in erased.conversation_ids], "erased")
    return erased.messages


async def erase_person(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    identities: Sequence[Identity],
    now: datetime,
) -> int:
    """Erase what triage holds of a person: their messages, their DM conversations, the
    notes on every conversation they wrote in, the identities agents linked to them and the
    notes about them (``people``)."""
    await people.forget(
        conn, workspace_id, [PersonKey(i.platform, i.author_id, i.handle) for i in identities]
    )
    found = await store.footprint(conn, workspace_id, identities)
    return await erase(
        conn,
        workspace_id,
        found.message_ids,
        found.direct_conversation_ids,
        found.conversation_ids,
        now,
    )


async def request_erasure(
    conn: AsyncConnection, caller: Caller, identities: tuple[Identity, ...], now: datetime
) -> tuple[dict[str, Any], bool]:
    """Erase a person: triage's copy now, the inbox's through an event. Returns the request
    and True if it is new; the same identities again while it is pending return that
    request (False), and nothing is erased twice."""
    view, created = await store.open_request(
        conn, caller.workspace_id, identities, caller.user_id, now
    )
    if not created:
        return view, False
    erased = await erase_person(conn, caller.workspace_id, identities, now)
    await store.record_triage_pass(conn, caller.workspace_id, view["id"], erased)
    view["services"]["triage"]["messages_erased"] = erased
    event = events_pb2.ErasureRequested(
        workspace_id=str(caller.workspace_id),
        request_id=str(view["id"]),
        identities=[events_pb2.Identity(**i.as_dict()) for i in identities],
        requested_at=timestamp(now),
    )
    await publish(conn, ERASURE_REQUESTED, [caller.workspace_id], [event.SerializeToString()])
    await audit(
        conn,
        caller.workspace_id,
        caller.user_id,
        "erasure_requested",
        None,
        {"request_id": str(view["id"]), "identities": [i.as_dict() for i in identities]},
    )
    return view, True


async def finish_erasure(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    request_id: uuid.UUID,
    inbox_ids: Sequence[int],
    inbox_authors: int,
    now: datetime,
) -> int | None:
    """The inbox erased its copy: erase exactly the same messages here (this catches those
    still in flight when triage erased its copy) and remember their ids (for those still to
    come: a late retry or a replay is stored erased), mark both services done; None if there
    is no such request. Messages the person writes after the inbox's pass are new data, kept
    in both services alike."""
    found = await store.lock_request(conn, workspace_id, request_id)
    await store.remember_erased(conn, workspace_id, inbox_ids, now)  # erased there, whatever else
    if not found:
        return None
    conversations = await store.conversations_of_messages(conn, workspace_id, inbox_ids)
    erased = await erase(conn, workspace_id, inbox_ids, [], conversations, now)
    await store.mark_request_done(
        conn, workspace_id, request_id, erased, len(inbox_ids), inbox_authors, now
    )
    return erased


async def apply_erasure_news(
    conn: AsyncConnection,
    events: Sequence[Event],
    now: datetime,
    on_done: Callable[[str], None] | None = None,
) -> None:
    """Consumer handler for ``privacy.erasure_done``: finish each request in triage."""
    for event in events:
        done = read_payload(event, events_pb2.ErasureDone)
        request_id = uuid.UUID(done.request_id)
        erased = await finish_erasure(
            conn, event.workspace_id, request_id, list(done.message_ids), done.authors, now
        )
        if erased is None:
            continue
        await audit(
            conn,
            event.workspace_id,
            None,
            "erasure_completed",
            None,
            {
                "request_id": str(request_id),
                "triage_messages": erased,
                "inbox_messages": len(done.message_ids),
                "inbox_authors": done.authors,
            },
        )
        if on_done is not None:
            on_done("completed")


async def export_person(
    conn: AsyncConnection, caller: Caller, identities: Sequence[Identity]
) -> dict[str, Any]:
    """Everything triage holds about a person (see ``store.person_records``), audited."""
    found = await store.footprint(conn, caller.workspace_id, identities)
    records = await store.person_records(conn, caller.workspace_id, found)
    await audit(
        conn,
        caller.workspace_id,
        caller.user_id,
        "data_exported",
        None,
        {
            "identities": [i.as_dict() for i in identities],
            "messages": len(records["messages"]),
        },
    )
    return {"identities": [i.as_dict() for i in identities], **records}


async def retention(
    conn: AsyncConnection, workspace_id: uuid.UUID, default_days: int
) -> dict[str, Any]:
    """How long the workspace keeps idle conversations, and whether that is its own choice."""
    has_setting, days = await store.retention_setting(conn, workspace_id)
    effective = effective_retention_days(days, has_setting, default_days)
    return {
        "conversation_days": effective or None,
        "source": "workspace" if has_setting else "default",
        "default_days": default_days or None,
    }


async def set_retention(
    conn: AsyncConnection, caller: Caller, days: int | None, default_days: int
) -> dict[str, Any]:
    """Keep idle conversations ``days`` (None: forever) in the caller's workspace."""
    await store.set_retention(conn, caller.workspace_id, days, caller.user_id)
    await audit(
        conn,
        caller.workspace_id,
        caller.user_id,
        "retention_set",
        None,
        {"conversation_days": days},
    )
    return await retention(conn, caller.workspace_id, default_days)


async def purge_idle(
    conn: AsyncConnection, workspace_id: uuid.UUID, before: datetime, limit: int, now: datetime
) -> list[int]:
    """Empty up to ``limit`` conversations last active before ``before`` and tell the inbox
    (it erases its copy of the same conversations); returns their ids."""
    ids = await store.claim_idle(conn, workspace_id, before, limit)
    if not ids:
        return []
    await erase(conn, workspace_id, [], ids, ids, now)
    await store.mark_purged(conn, workspace_id, ids, now)
    event = events_pb2.ConversationsPurged(
        workspace_id=str(workspace_id),
        conversation_ids=ids,
        purged_at=Timestamp(seconds=int(now.timestamp())),
    )
    await publish(conn, CONVERSATIONS_PURGED, [workspace_id], [event.SerializeToString()])
    await audit(
        conn,
        workspace_id,
        None,
        "retention_purged",
        None,
        {"conversations": len(ids), "before": before.isoformat()},
    )
    return ids
