"""Moderation on the platform: asking for a customer's comment to be hidden, shown again or
deleted, and recording what the platform answered.

``request_moderation`` is the one way to ask, whoever asks: a lead from the desk
(``moderate_as``) or a rule (no person: ``Requester(None, "rule ...")``). It checks the
platform can do it (``domain.moderation.refusal``), records the action, publishes
``moderation.requested`` for the inbox (which carries it out once per action id), and audits
it, all in the caller's transaction. ``apply_moderation_news`` records the
``moderation.settled`` the inbox reports back, so the desk shows "Hidden on Facebook" or why
it failed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ecoute.v1 import events_pb2
from services.infra.events import Event, publish, read_payload, timestamp
from services.infra.platforms import MODERATED_KINDS, MODERATION
from services.triage.access.accounts import Caller
from services.triage.access.store import audit
from services.triage.domain.moderation import Target, refusal
from services.triage.moderation import store
from services.triage.news import store as changes

REQUESTED = "moderation.requested"
SETTLED = "moderation.settled"
MODERATORS = ("lead", "admin")


class NoSuchMessage(LookupError):
    """No message with that id in the workspace (or not in the conversation named)."""


class ModerationRefused(ValueError):
    """The platform cannot do this to this message; the text says why, for the lead."""


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks: a person (``user_id``) or a rule (``user_id`` None); ``reason`` is kept in
    the audit log and the event (a code or a rule's name, never the message's text)."""

    user_id: uuid.UUID | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Requested:
    action_id: uuid.UUID
    conversation_id: int
    message_id: int
    action: str


async def request_moderation(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    message_id: int,
    action: str,
    requester: Requester,
    now: datetime,
    *,
    conversation_id: int | None = None,
) -> Requested:
    """Ask the platform to ``action`` (hide, unhide, delete) the message: recorded, sent to
    the inbox, audited. ``NoSuchMessage`` (also when ``conversation_id`` is given and the
    message is not in it), ``ModerationRefused`` when the platform cannot do it."""
    found = await store.target(conn, workspace_id, message_id)
    if found is None or conversation_id not in (None, found.conversation_id):
        raise NoSuchMessage(message_id)
    target = Target(found.platform, found.kind, found.direction, found.erased, found.last_done)
    why = refusal(action, target, MODERATION, MODERATED_KINDS)
    if why is not None:
        raise ModerationRefused(why)
    action_id = uuid.uuid4()
    await store.insert(
        conn, workspace_id, action_id, found, action, requester.user_id, requester.reason, now
    )
    event = events_pb2.ModerationRequested(
        workspace_id=str(workspace_id),
        action_id=str(action_id),
        conversation_id=found.conversation_id,
        message_id=found.id,
        action=action,
        requested_by=str(requester.user_id or ""),
        reason=requester.reason,
        requested_at=timestamp(now),
    )
    await publish(conn, REQUESTED, [workspace_id], [event.SerializeToString()])
    detail: dict[str, object] = {
        "action_id": str(action_id),
        "message_id": found.id,
        "action": action,
        "reason": requester.reason,
    }
    await audit(
        conn, workspace_id, requester.user_id, "moderation_requested", found.conversation_id, detail
    )
    await changes.record(conn, [(workspace_id, found.conversation_id)], "moderation")
    return Requested(action_id, found.conversation_id, found.id, action)


async def moderate_as(
    conn: AsyncConnection,
    caller: Caller,
    conversation_id: int,
    message_id: int,
    action: str,
    now: datetime,
) -> Requested:
    """A lead's or an admin's request from the desk (the HTTP layer refuses agents)."""
    return await request_moderation(
        conn,
        caller.workspace_id,
        message_id,
        action,
        Requester(caller.user_id, "desk"),
        now,
        conversation_id=conversation_id,
    )


async def apply_moderation_news(conn: AsyncConnection, events: list[Event]) -> None:
    """Record each ``moderation.settled`` once (in the consumer's transaction) and audit it."""
    touched: list[tuple[uuid.UUID, int]] = []
    for event in events:
        if event.topic != SETTLED:
            continue
        settled = read_payload(event, events_pb2.ModerationSettled)
        row = await store.settle(
            conn,
            event.workspace_id,
            uuid.UUID(settled.action_id),
            settled.done,
            settled.reason,
            settled.detail,
        )
        if row is None:
            continue
        touched.append((event.workspace_id, row.conversation_id))
        detail: dict[str, object] = {
            "action_id": settled.action_id,
            "message_id": row.message_id,
            "action": row.action,
            "reason": settled.reason,
            "settled_at": settled.settled_at.ToDatetime(UTC).isoformat(),
        }
        outcome = "moderation_done" if settled.done else "moderation_failed"
        await audit(conn, event.workspace_id, None, outcome, row.conversation_id, detail)
    await changes.record(conn, touched, "moderation")
