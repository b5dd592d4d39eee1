"""A lead's changes to incidents: status note, merge, split, close, reopen.

Each runs in the caller's transaction and writes everything the change means at once: the
incident rows, a history row on every incident touched, an ``incident.<change>`` outbox
event, the desk's change log for the conversations whose badge or note changed, and the
audit log. Closing an incident never touches its conversations: each person still gets an
answer of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ecoute.v1 import events_pb2
from services.infra.events import publish, timestamp
from services.triage.access.store import audit
from services.triage.domain import incident_desk as rules
from services.triage.domain import incidents as detection
from services.triage.domain.incident_desk import Refusal
from services.triage.incidents import store
from services.triage.news import store as changes

CHANGE_KIND = "incident"
"""The desk change-log kind for a conversation whose incident (badge or note) changed."""


class IncidentMissing(Exception):
    """No such incident in the caller's workspace."""

    def __init__(self, incident_id: int) -> None:
        super().__init__(f"no incident {incident_id}")
        self.incident_id = incident_id


class IncidentRefused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


def _check(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise IncidentRefused(refusal)


async def _locked(conn: AsyncConnection, workspace_id: uuid.UUID, *ids: int) -> list[Any]:
    found = await store.lock_incidents(conn, workspace_id, ids)
    for i in ids:
        if i not in found:
            raise IncidentMissing(i)
    return [found[i] for i in ids]


async def _announce(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    incident_id: int,
    change: str,
    user_id: uuid.UUID,
    now: datetime,
    *,
    conversation_ids: Sequence[int] = (),
    other: int = 0,
) -> None:
    """The outbox event (read back so it carries the figures after the change), the desk's
    change log for the conversations concerned, and the audit entry."""
    row = (await store.lock_incidents(conn, workspace_id, [incident_id]))[incident_id]
    event = events_pb2.IncidentChanged(
        workspace_id=str(workspace_id),
        incident_id=incident_id,
        change=change,
        kind=row.kind,
        status=row.status,
        message_count=row.message_count,
        other_incident_id=other,
        conversation_ids=list(conversation_ids),
        user_id=str(user_id),
        close_reason=row.close_reason or "",
        changed_at=timestamp(now),
    )
    await publish(conn, f"incident.{change}", [workspace_id], [event.SerializeToString()])
    touched = await store.member_conversations(conn, workspace_id, incident_id)
    await changes.record(
        conn, [(workspace_id, c) for c in {*touched, *conversation_ids}], CHANGE_KIND
    )
    detail: dict[str, object] = {"incident_id": incident_id}
    if other:
        detail["other_incident_id"] = other
    if conversation_ids:
        detail["conversations"] = len(conversation_ids)
    await audit(conn, workspace_id, user_id, f"incident_{change}", None, detail)


async def write_note(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    incident_id: int,
    body: str,
    user_id: uuid.UUID,
    now: datetime,
) -> None:
    """Replace the status note (an empty text removes it)."""
    (before,) = await _locked(conn, workspace_id, incident_id)
    if before.status_note == body:
        return
    await store.set_note(conn, workspace_id, incident_id, body, user_id, now)
    await store.add_history(
        conn, workspace_id, incident_id, "note", {"chars": len(body), "cleared": not body}, user_id
    )
    await _announce(conn, workspace_id, incident_id, "note_changed", user_id, now)


async def merge(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    target_id: int,
    source_id: int,
    user_id: uuid.UUID,
    now: datetime,
) -> list[int]:
    """Merge ``source`` into ``target``: its members move, it closes as merged. Returns the
    conversations that moved."""
    if target_id == source_id:
        (same,) = await _locked(conn, workspace_id, target_id)
        _check(rules.merge_refusal(store.state_of(same), store.state_of(same)))
    target, source = await _locked(conn, workspace_id, target_id, source_id)
    _check(rules.merge_refusal(store.state_of(target), store.state_of(source)))
    moved = await store.move_members(conn, workspace_id, source_id, target_id, user_id, now)
    for incident_id in (target_id, source_id):
        summary = rules.summarise(await store.members(conn, workspace_id, incident_id))
        await store.save_summary(conn, workspace_id, incident_id, summary, now)
    await store.close(conn, workspace_id, source_id, user_id, "merged", now, merged_into=target_id)
    await store.add_history(
        conn,
        workspace_id,
        target_id,
        "merged",
        {"from": source_id, "conversation_ids": moved},
        user_id,
    )
    await store.add_history(
        conn,
        workspace_id,
        source_id,
        "merged",
        {"into": target_id, "conversation_ids": moved},
        user_id,
    )
    await _announce(
        conn,
        workspace_id,
        target_id,
        "merged",
        user_id,
        now,
        conversation_ids=moved,
        other=source_id,
    )
    return moved


async def split(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    incident_id: int,
    conversation_ids: Sequence[int],
    label: str | None,
    user_id: uuid.UUID,
    now: datetime,
) -> int:
    """Move the chosen conversations to a new open incident; returns its id."""
    (parent,) = await _locked(conn, workspace_id, incident_id)
    inside = await store.member_conversations(conn, workspace_id, incident_id)
    chosen = sorted(set(conversation_ids))
    _check(rules.split_refusal(store.state_of(parent), inside, chosen))
    signals = await store.signals_of(conn, workspace_id, incident_id, chosen)
    words, top = detection.label_for([t for t, _ in signals]) if signals else ("", ())
    name = label or (words if top else rules.split_label(parent.label, len(chosen)))
    new_id = await store.create_split(
        conn,
        workspace_id,
        parent.kind,
        name,
        top or parent.terms,
        detection.merged_sketch([k for _, k in signals]) or parent.sketch,
        now,
    )
    moved = await store.move_members(
        conn, workspace_id, incident_id, new_id, user_id, now, conversation_ids=chosen
    )
    for each in (incident_id, new_id):
        summary = rules.summarise(await store.members(conn, workspace_id, each))
        await store.save_summary(conn, workspace_id, each, summary, now)
    await store.add_history(
        conn,
        workspace_id,
        incident_id,
        "split",
        {"into": new_id, "conversation_ids": moved},
        user_id,
    )
    await store.add_history(
        conn,
        workspace_id,
        new_id,
        "split",
        {"from": incident_id, "conversation_ids": moved},
        user_id,
    )
    await _announce(
        conn, workspace_id, incident_id, "split", user_id, now, conversation_ids=moved, other=new_id
    )
    return new_id


async def close(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    incident_id: int,
    user_id: uuid.UUID,
    now: datetime,
) -> None:
    """Close by hand. The conversations stay exactly as they are."""
    (row,) = await _locked(conn, workspace_id, incident_id)
    _check(rules.close_refusal(store.state_of(row)))
    await store.close(conn, workspace_id, incident_id, user_id, "manual", now)
    await store.add_history(
        conn, workspace_id, incident_id, "closed", {"reason": "manual"}, user_id
    )
    await _announce(conn, workspace_id, incident_id, "closed", user_id, now)


async def reopen(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    incident_id: int,
    user_id: uuid.UUID,
    now: datetime,
) -> None:
    (row,) = await _locked(conn, workspace_id, incident_id)
    _check(rules.reopen_refusal(store.state_of(row)))
    await store.reopen(conn, workspace_id, incident_id, now)
    await store.add_history(
        conn, workspace_id, incident_id, "reopened", {"was": row.close_reason}, user_id
    )
    await _announce(conn, workspace_id, incident_id, "reopened", user_id, now)
