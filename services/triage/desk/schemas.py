"""The shapes of the desk's answers: the handlers answer through them
(``services.infra.http.model_response``) and the OpenAPI document shows their schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from services.infra.http import Out
from services.infra.platforms import Platform
from services.triage.domain.conversation import Priority, Status
from services.triage.domain.model import Intent
from services.triage.domain.sla import QueueState
from services.triage.incidents.schemas import AuthorOut, IncidentKind, IncidentStatus
from services.triage.privacy.schemas import DecisionOut
from services.triage.sla.http import ClockOut
from services.triage.tags.schemas import TagOut

CorrectedField = Literal["intent", "needs_answer", "abuse", "priority"]


# ---- the queue -------------------------------------------------------------------------


class QueueSlaOut(Out):
    state: QueueState
    due_at: datetime | None
    time_left_seconds: int | None


class IncidentRefOut(Out):
    """The incident a conversation belongs to (an open one before a closed one)."""

    id: int
    label: str
    status: IncidentStatus
    kind: IncidentKind


class LatestMessageOut(Out):
    id: int
    text: str
    created_at: datetime
    author: AuthorOut


class QueueItemOut(Out):
    conversation_id: int
    platform: Platform
    channel: str
    kind: str
    priority: Priority
    intent: Intent
    abuse: bool
    reasons: list[str]
    waiting_since: datetime | None
    waiting_seconds: int
    language: str | None
    assignee_id: uuid.UUID | None
    assignee_name: str | None
    sla: QueueSlaOut
    incident: IncidentRefOut | None
    tags: list[TagOut]  # by name
    latest_message: LatestMessageOut | None


class QueueOut(Out):
    items: list[QueueItemOut]
    count: int
    as_of: datetime


class VocabularyOut(Out):
    """The values of the closed sets an agent picks from: the desk reads them here rather
    than spelling them out."""

    platforms: list[Platform]
    intents: list[Intent]


# ---- a conversation --------------------------------------------------------------------


class CorrectionEntryOut(Out):
    field: CorrectedField
    old_value: str | None
    new_value: str
    user_id: uuid.UUID
    created_at: datetime


class ModerationOut(Out):
    """A message's latest moderation on the platform, and what the platform shows now."""

    action_id: uuid.UUID
    action: Literal["hide", "unhide", "delete"]
    state: Literal["requested", "done", "failed"]
    failure_reason: str | None
    failure_detail: str | None  # the platform's own words
    requested_by_name: str | None  # None: asked by a rule
    requested_at: datetime
    updated_at: datetime
    visibility: Literal["visible", "hidden", "deleted"]  # as the platform last confirmed


class ThreadAuthorOut(AuthorOut):
    """A thread's author, with the platform id that names the person (``/v1/people/...``)."""

    external_id: str


class MessageOut(Out):
    id: int
    direction: Literal["in", "out"]
    kind: str
    text: str
    held: bool  # the platform holds it back from the public (YouTube's review, likely spam)
    created_at: datetime
    author: ThreadAuthorOut
    triage: DecisionOut | None
    corrections: list[CorrectionEntryOut]
    moderation: ModerationOut | None
    moderation_actions: list[Literal["hide", "unhide", "delete"]]  # what a lead may ask now


class ReplyOut(Out):
    id: uuid.UUID
    conversation_id: int
    text: str
    state: Literal["queued", "delivered", "failed"]
    failure_reason: str | None
    failure_detail: str | None
    platform_message_id: str | None
    private: bool  # sent as Meta's private reply: a message to the commenter
    author_id: uuid.UUID
    author_name: str | None  # who sent it (in a conversation's thread; None just after sending)
    created_at: datetime
    updated_at: datetime


class NoteOut(Out):
    id: uuid.UUID
    text: str
    author_id: uuid.UUID
    created_at: datetime


class ConversationIncidentOut(IncidentRefOut):
    """Its incident, with the status note a reply may start from."""

    status_note: str
    note_at: datetime | None


class ConversationOut(Out):
    id: int
    platform: Platform
    channel: str
    kind: str
    status: Status
    incident: ConversationIncidentOut | None
    tags: list[TagOut]  # by name
    needs_answer: bool
    priority: Priority
    intent: Intent
    abuse: bool
    reasons: list[str]
    waiting_since: datetime | None
    assignee_id: uuid.UUID | None
    claim_expires_at: datetime | None
    assignee_name: str | None
    resolved_by_name: str | None  # who resolved it last (while resolved)
    resolved_at: datetime | None
    messages: list[MessageOut]
    replies: list[ReplyOut]
    notes: list[NoteOut]


class ConversationClocksOut(Out):
    conversation_id: int
    clocks: list[ClockOut]


# ---- actions ---------------------------------------------------------------------------


class ClaimOut(Out):
    conversation_id: int
    claimed: bool


class StatusOut(Out):
    conversation_id: int
    status: Status


class PostedReplyOut(Out):
    reply: ReplyOut
    warnings: list[str]  # the same text sent to many people, an unchanged incident note


class ReplyCheckOut(Out):
    """A reply measured before it is sent: ``length`` as the platform counts it (``unit``),
    its ``limit`` (null: none known), and the warnings sending it now would bring."""

    platform: Platform
    length: int
    limit: int | None
    unit: Literal["x", "graphemes", "mastodon", "characters", "bytes"]
    over: bool
    refusal: str | None  # what sending it now would answer (422), when it is over
    warnings: list[str]


class CorrectionOut(Out):
    id: int
    message_id: int
    field: CorrectedField
    old_value: str | None
    new_value: str
    user_id: uuid.UUID
    created_at: datetime


class SavedReplyOut(Out):
    id: uuid.UUID
    title: str
    text: str
    created_at: datetime


class SavedRepliesOut(Out):
    items: list[SavedReplyOut]
