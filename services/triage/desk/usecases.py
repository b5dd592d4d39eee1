"""The desk's use cases: what an agent does to a conversation (claim, release, reply, note,
correct triage, change its status with its clocks), each in the caller's transaction with its
change-log and audit entries. They take plain values, never a request: the HTTP layer only
parses, calls and maps the exceptions below to answers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.ext.asyncio import AsyncConnection

from ecoute.v1 import events_pb2
from services.infra.events import publish
from services.infra.invalid_field import InvalidField
from services.triage.access.accounts import Caller
from services.triage.access.store import audit
from services.triage.composer import usecases as composer
from services.triage.desk import corrections, reply_limits
from services.triage.desk import store as desk
from services.triage.domain import clock_rules, reply_window
from services.triage.domain.clock_rules import Change
from services.triage.incidents.store import is_member as incident_member
from services.triage.incidents.store import status_note as incident_note
from services.triage.news import store as changes
from services.triage.sla.clocks import OnStop
from services.triage.sla.clocks import save as save_clocks
from services.triage.sla.store import load_policies, lock_running

# action -> (statuses it may start from, status it leads to)
ACTIONS = {
    "resolve": (("open", "waiting"), "resolved"),
    "reopen": (("resolved",), "open"),
    "wait": (("open",), "waiting"),
}


class ActionRefused(Exception):
    """The conversation is not in a state where this action makes sense, or another agent
    holds it."""


class NoSuchConversation(LookupError):
    """No conversation with that id in the caller's workspace."""


class InvalidReply(InvalidField):
    """A reply the client can fix; ``pointer`` names the field of the request."""


async def _log(
    conn: AsyncConnection,
    caller: Caller,
    conversation_id: int,
    action: str,
    change: str,
    detail: dict[str, object] | None = None,
) -> None:
    """The audit entry of an agent's action and the desk's change-log entry it causes."""
    await audit(conn, caller.workspace_id, caller.user_id, action, conversation_id, detail)
    await changes.record(conn, [(caller.workspace_id, conversation_id)], change)


# Claims -----------------------------------------------------------------------------------


async def claim(conn: AsyncConnection, caller: Caller, conversation_id: int, now: datetime) -> str:
    """'claimed' (or renewed), 'held' by another agent, or 'missing'."""
    outcome = await desk.claim(conn, caller.workspace_id, conversation_id, caller.user_id, now)
    if outcome == "claimed":
        await _log(conn, caller, conversation_id, "claimed", "claim")
    return outcome


async def claim_next(conn: AsyncConnection, caller: Caller, now: datetime) -> int | None:
    """Take the most urgent waiting conversation; None when nothing waits (``QueueBusy``
    when every waiting one stays locked)."""
    conversation_id = await desk.claim_next(conn, caller.workspace_id, caller.user_id, now)
    if conversation_id is not None:
        await _log(conn, caller, conversation_id, "claimed", "claim")
    return conversation_id


async def release(
    conn: AsyncConnection, caller: Caller, conversation_id: int, now: datetime
) -> bool:
    """Give the conversation back; False unless the caller holds it (leads and admins may
    release anyone's claim)."""
    if await desk.holder(conn, caller.workspace_id, conversation_id, now) is None:
        raise NoSuchConversation(conversation_id)
    done = await desk.release(
        conn,
        caller.workspace_id,
        conversation_id,
        caller.user_id,
        caller.role in ("lead", "admin"),
    )
    if done:
        await _log(conn, caller, conversation_id, "released", "claim")
    return done


# Replies ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyDraft:
    """What an agent sends, and where it started from: a saved reply, an incident's status
    note or a suggestion (an earlier reply; at most one of the three). The same
    ``client_key`` twice stores the reply once."""

    text: str
    client_key: str | None = None
    saved_reply_id: uuid.UUID | None = None
    incident_id: int | None = None
    suggestion_id: uuid.UUID | None = None
    # WhatsApp: the approved template (name, language code) to send instead of free text.
    template: tuple[str, str] | None = None
    # Facebook/Instagram comments: Meta's private reply, a message to the commenter.
    private: bool = False


@dataclass(frozen=True, slots=True)
class PostedReply:
    """The reply; ``new`` False when this client key was sent before (the earlier reply)."""

    reply: dict[str, Any] | None
    new: bool
    origin: str = "written"
    warnings: list[str] = field(default_factory=list)
    suggestion: str | None = None
    """"sent_edited" or "sent_unchanged" when the reply started from a suggestion."""


async def post_reply(
    conn: AsyncConnection,
    caller: Caller,
    conversation_id: int,
    draft: ReplyDraft,
    now: datetime,
) -> PostedReply:
    """Queue a reply for delivery: the caller must hold the open conversation."""
    _check_draft(draft)
    if draft.client_key:
        earlier = await desk.reply_by_client_key(
            conn, caller.workspace_id, caller.user_id, draft.client_key
        )
        if earlier is not None:
            return PostedReply(earlier, new=False)
    answered = await _held_by(conn, caller, conversation_id, now)
    await _within_limit(conn, caller, conversation_id, draft.text)
    await _within_window(conn, caller, conversation_id, draft, now)
    if draft.private:
        await _private_allowed(conn, caller, conversation_id, answered)
    digest = desk.text_digest(draft.text)
    unchanged = await _unchanged_start(conn, caller, conversation_id, draft, digest)
    same = await desk.identical_elsewhere(conn, caller.workspace_id, conversation_id, digest, now)
    reply = await desk.insert_reply(
        conn,
        {
            "ws": caller.workspace_id,
            "id": uuid.uuid4(),
            "conversation": conversation_id,
            "in_reply_to": answered,
            "author": caller.user_id,
            "text": draft.text,
            "digest": digest,
            "client_key": draft.client_key,
            "saved": draft.saved_reply_id,
            "unchanged": unchanged,
            "private": draft.private,
            "now": now,
        },
    )
    if reply is None:  # the same client_key was sent concurrently: keep the first
        earlier = await desk.reply_by_client_key(
            conn, caller.workspace_id, caller.user_id, str(draft.client_key)
        )
        return PostedReply(earlier, new=False)
    origin = reply_origin(draft, unchanged)
    suggestion = None
    if draft.suggestion_id is not None:
        suggestion = "sent_unchanged" if unchanged else "sent_edited"
    await _reply_requested(conn, caller, conversation_id, answered, draft, reply["id"], now)
    detail: dict[str, object] = {"reply_id": str(reply["id"]), "origin": origin}
    if draft.incident_id is not None:
        detail["incident_id"] = draft.incident_id
    await _log(conn, caller, conversation_id, "replied", "reply", detail)
    return PostedReply(reply, True, origin, reply_warnings(same, origin), suggestion)


async def _measured(
    conn: AsyncConnection, caller: Caller, conversation_id: int, text: str
) -> tuple[str, reply_limits.Measured]:
    """The conversation's platform, and the reply's length as that platform counts it
    against its limit."""
    target = await desk.platform_and_kind(conn, caller.workspace_id, conversation_id)
    if target is None:
        raise NoSuchConversation(conversation_id)
    return target[0], reply_limits.check(text, *target)


async def _within_limit(
    conn: AsyncConnection, caller: Caller, conversation_id: int, text: str
) -> None:
    platform, measured = await _measured(conn, caller, conversation_id, text)
    if measured.over:
        raise InvalidReply(
            "/text",
            f"over the limit of {measured.maximum} ({measured.unit})",
            reply_limits.refusal(measured, platform),
        )


WINDOW_CLOSED = (
    "the customer last wrote more than 24 hours ago: WhatsApp only takes an approved message "
    "template now (choose one), or wait for the customer to write again."
)


async def _within_window(
    conn: AsyncConnection, caller: Caller, conversation_id: int, draft: ReplyDraft, now: datetime
) -> None:
    """WhatsApp: free text within 24 hours of the customer's last message, else a template;
    a template anywhere else is refused."""
    target = await desk.platform_and_kind(conn, caller.workspace_id, conversation_id)
    platform = target[0] if target else ""
    if draft.template is not None:
        if platform not in reply_window.WINDOWED_PLATFORMS:
            raise InvalidReply(
                "/template", "not a WhatsApp conversation", "templates are for WhatsApp only."
            )
        return
    last = await desk.last_customer_message_at(conn, caller.workspace_id, conversation_id)
    if not reply_window.free_text_allowed(platform, last, now):
        raise InvalidReply("/template", "required outside the 24-hour window", WINDOW_CLOSED)


PRIVATE_PLATFORMS = frozenset({"facebook", "instagram"})
PRIVATE_KINDS = frozenset({"comment", "reply"})


async def _private_allowed(
    conn: AsyncConnection, caller: Caller, conversation_id: int, answered: int
) -> None:
    """Meta's private reply answers a Facebook or Instagram comment (the customer message
    the reply answers), nothing else."""
    target = await desk.platform_and_kind(conn, caller.workspace_id, conversation_id)
    if target is None:
        raise NoSuchConversation(conversation_id)
    platform, kind = target[0], await desk.message_kind(conn, caller.workspace_id, answered)
    if platform not in PRIVATE_PLATFORMS or kind not in PRIVATE_KINDS:
        raise InvalidReply(
            "/private",
            "not a Facebook or Instagram comment",
            "a private reply answers a Facebook or Instagram comment only "
            f"(this is a {platform} {kind}): send a public reply instead.",
        )


@dataclass(frozen=True, slots=True)
class ReplyCheck:
    """What the composer shows while the agent types: the length against the platform's
    limit, and the warnings the reply would get if sent now."""

    platform: str
    measured: reply_limits.Measured
    warnings: list[str]


async def check_reply(
    conn: AsyncConnection, caller: Caller, conversation_id: int, text: str, now: datetime
) -> ReplyCheck:
    """The reply measured and warned about before it is sent (nothing is stored)."""
    platform, measured = await _measured(conn, caller, conversation_id, text)
    same = 0
    if text.strip():
        digest = desk.text_digest(text)
        same = await desk.identical_elsewhere(
            conn, caller.workspace_id, conversation_id, digest, now
        )
    warnings = reply_warnings(same, "written")
    try:
        composer.check_placeholders(text)
    except composer.RefusedStart as unfilled:
        warnings.append(f"Not ready to send: {unfilled}")
    last = await desk.last_customer_message_at(conn, caller.workspace_id, conversation_id)
    if not reply_window.free_text_allowed(platform, last, now):
        warnings.append(WINDOW_CLOSED)
    return ReplyCheck(platform, measured, warnings)


def _check_draft(draft: ReplyDraft) -> None:
    starts = [draft.saved_reply_id, draft.incident_id, draft.suggestion_id]
    if sum(start is not None for start in starts) > 1:
        field_name = "/incident_id" if draft.incident_id is not None else "/suggestion_id"
        raise InvalidReply(
            field_name,
            "another starting point is set too",
            "a reply starts from one saved reply, incident note or suggestion at most.",
        )
    if not draft.text.strip():
        raise InvalidReply("/text", "must not be empty", "an empty reply answers no one.")
    try:
        composer.check_placeholders(draft.text)
    except composer.RefusedStart as refused:
        raise InvalidReply(refused.pointer, refused.detail, str(refused)) from None


async def _held_by(
    conn: AsyncConnection, caller: Caller, conversation_id: int, now: datetime
) -> int:
    """The message to answer, if the caller holds the open conversation."""
    found = await desk.holder(conn, caller.workspace_id, conversation_id, now)
    if found is None:
        raise NoSuchConversation(conversation_id)
    status, holder, latest = found
    if status == "resolved":
        raise ActionRefused("The conversation is resolved: reopen it first.")
    if holder != caller.user_id:
        raise ActionRefused("Claim the conversation before answering.")
    if latest is None:
        raise ActionRefused("There is no customer message to answer yet.")
    return int(latest)


async def _unchanged_start(
    conn: AsyncConnection, caller: Caller, conversation_id: int, draft: ReplyDraft, digest: bytes
) -> bool:
    """Whether the reply is the saved reply (its placeholders filled or not), the incident's
    status note or the suggestion it started from, word for word; a saved reply already sent
    word for word to another person is refused."""
    ws = caller.workspace_id
    try:
        if draft.saved_reply_id is not None:
            start = await composer.check_saved_start(
                conn, ws, conversation_id, draft.saved_reply_id, draft.text
            )
            return start.unchanged
        if draft.suggestion_id is not None:
            start = await composer.check_suggestion_start(
                conn, ws, conversation_id, draft.suggestion_id, draft.text
            )
            return start.unchanged
    except composer.RefusedStart as refused:
        raise InvalidReply(refused.pointer, refused.detail, str(refused)) from None
    if draft.incident_id is not None:
        return await _from_incident_note(conn, caller, conversation_id, draft.incident_id, digest)
    return False


async def _from_incident_note(
    conn: AsyncConnection, caller: Caller, conversation_id: int, incident_id: int, digest: bytes
) -> bool:
    """Whether the reply is the incident's status note unchanged; InvalidReply unless the
    conversation belongs to that incident and the note exists."""
    note = await incident_note(conn, caller.workspace_id, incident_id)
    if note is None or not await incident_member(
        conn, caller.workspace_id, incident_id, conversation_id
    ):
        raise InvalidReply(
            "/incident_id",
            "not an incident of this conversation",
            "this conversation is not part of that incident.",
        )
    if not note:
        raise InvalidReply(
            "/incident_id", "no status note", "that incident has no status note to start from."
        )
    return desk.text_digest(note) == digest


async def _reply_requested(
    conn: AsyncConnection,
    caller: Caller,
    conversation_id: int,
    answered: int,
    draft: ReplyDraft,
    reply_id: uuid.UUID,
    now: datetime,
) -> None:
    """The ``reply.requested`` event the inbox delivers; the claim lasts while one answers."""
    event = events_pb2.ReplyRequested(
        workspace_id=str(caller.workspace_id),
        reply_id=str(reply_id),
        conversation_id=conversation_id,
        in_reply_to_message_id=answered,
        text=draft.text,
        agent_id=str(caller.user_id),
        requested_at=Timestamp(seconds=int(now.timestamp()), nanos=now.microsecond * 1000),
    )
    if draft.template is not None:
        event.template.name, event.template.language = draft.template
    event.private = draft.private
    await publish(conn, "reply.requested", [caller.workspace_id], [event.SerializeToString()])
    await desk.renew_claim(conn, caller.workspace_id, conversation_id, now)


def reply_origin(draft: ReplyDraft, unchanged: bool) -> str:
    """Where a reply started from, and whether it was edited (metrics.REPLY_ORIGINS)."""
    if draft.saved_reply_id is not None:
        return "saved_unchanged" if unchanged else "saved_personalised"
    if draft.incident_id is not None:
        return "incident_note_unchanged" if unchanged else "incident_note_personalised"
    return "written"


def reply_warnings(same_elsewhere: int, origin: str) -> list[str]:
    """What the agent should know about a reply that went out the same to many people."""
    warnings = (
        [
            f"The same text was sent to {same_elsewhere} other conversation(s) in the last 24 "
            "hours: a personal answer builds more trust."
        ]
        if same_elsewhere
        else []
    )
    if origin == "incident_note_unchanged":
        warnings.append(
            "This is the incident's status note word for word: every person in the incident "
            "gets the same text. Address this person and their case."
        )
    return warnings


# Notes, corrections, saved replies --------------------------------------------------------


async def add_note(
    conn: AsyncConnection, caller: Caller, conversation_id: int, body: str, now: datetime
) -> dict[str, Any]:
    """An internal note: seen by agents, never sent, and it stops no clock."""
    if await desk.holder(conn, caller.workspace_id, conversation_id, now) is None:
        raise NoSuchConversation(conversation_id)
    note = await desk.add_note(
        conn, caller.workspace_id, conversation_id, caller.user_id, body, now
    )
    await _log(conn, caller, conversation_id, "noted", "note")
    return note


async def correct(
    conn: AsyncConnection,
    caller: Caller,
    message_id: int,
    field_name: str,
    value: object,
    now: datetime,
) -> corrections.Correction:
    """An agent corrects a triage decision (``corrections.UnknownMessage``,
    ``corrections.InvalidCorrection`` otherwise); kept with who and when, trained on later."""
    made = await corrections.record_correction(
        conn, caller.workspace_id, message_id, caller.user_id, field_name, value, now
    )
    conversation_id = await desk.conversation_of_message(conn, caller.workspace_id, message_id)
    detail: dict[str, object] = {"message_id": message_id, "field": field_name}
    await _log(conn, caller, conversation_id, "corrected", "correction", detail)
    return made


async def add_saved_reply(
    conn: AsyncConnection, caller: Caller, title: str, body: str
) -> dict[str, Any]:
    """A reply agents may start from (each one still edited for its person)."""
    saved = await desk.add_saved_reply(conn, caller.workspace_id, caller.user_id, title, body)
    await audit(conn, caller.workspace_id, caller.user_id, "saved_reply_added")
    return saved


# Status actions ---------------------------------------------------------------------------


async def change_status_as(
    conn: AsyncConnection,
    caller: Caller,
    conversation_id: int,
    action: str,
    now: datetime,
    on_stop: OnStop | None = None,
) -> str:
    """An agent's status action: refused while another agent holds the conversation (leads
    and admins may act on any)."""
    if not await desk.conversation_exists(conn, caller.workspace_id, conversation_id):
        raise NoSuchConversation(conversation_id)
    found = await desk.holder(conn, caller.workspace_id, conversation_id, now)
    held_by = found[1] if found else None
    if held_by not in (None, caller.user_id) and caller.role == "agent":
        raise ActionRefused("Another agent holds this conversation.")
    status = await change_status(conn, caller.workspace_id, conversation_id, action, now, on_stop)
    await audit(conn, caller.workspace_id, caller.user_id, action, conversation_id)
    return status


async def change_status(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    conversation_id: int,
    action: str,
    now: datetime,
    on_stop: OnStop | None = None,
) -> str:
    """Apply ``action`` in the caller's transaction; returns the new status."""
    allowed_from, target = ACTIONS[action]
    key = (workspace_id, conversation_id)
    states = await desk.lock_conversations(
        conn, [await desk.conversation_key(conn, workspace_id, conversation_id)]
    )
    before = states[key]
    if before.status not in allowed_from:
        raise ActionRefused(f"cannot {action} a conversation that is {before.status}")
    after = replace(before, status=target)
    if action == "resolve":
        after = replace(after, needs_answer=False, waiting_since=None)
    policies = await load_policies(conn, [workspace_id])
    stored = await lock_running(conn, [key])
    clocks = {kind: s.clock for kind, s in stored[key].items()}
    clocks = clock_rules.apply(clocks, before, after, Change(action, now), policies[workspace_id])
    await desk.save_conversations(conn, {key: after})
    await save_clocks(conn, stored, {key: clocks}, policies, now, on_stop)
    await changes.record(conn, [key], "status")
    return target
