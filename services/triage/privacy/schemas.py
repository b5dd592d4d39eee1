"""The shapes of the data-protection answers (erasures, exports, retention): the handlers
answer through them (``services.infra.http.model_response``) and the OpenAPI document shows
their schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from services.infra.http import Out
from services.infra.platforms import Platform
from services.triage.domain.conversation import Priority, Status
from services.triage.domain.model import Intent

Progress = Literal["pending", "done"]


class IdentityOut(Out):
    platform: Platform
    author_id: str
    handle: str


class TriagePassOut(Out):
    state: Progress
    done_at: datetime | None
    messages_erased: int


class InboxPassOut(Out):
    state: Progress
    done_at: datetime | None
    messages_erased: int | None
    authors_erased: int | None


class ServicesPassOut(Out):
    triage: TriagePassOut
    inbox: InboxPassOut


class ErasureOut(Out):
    """An erasure request and its progress in each service."""

    id: uuid.UUID
    identities: list[IdentityOut]
    requested_at: datetime
    requested_by: uuid.UUID | None
    state: Progress
    services: ServicesPassOut


class ErasuresOut(Out):
    items: list[ErasureOut]


class ExportedConversationOut(Out):
    id: int
    platform: Platform
    channel: str
    kind: str
    status: Status
    priority: Priority
    intent: Intent
    abuse: bool
    last_inbound_at: datetime | None
    last_outbound_at: datetime | None


class ExportedAuthorOut(Out):
    author_id: str
    handle: str
    display_name: str


class ExportedMessageOut(Out):
    id: int
    conversation_id: int
    direction: Literal["in", "out"]
    kind: str
    author: ExportedAuthorOut
    text: str
    created_at: datetime
    received_at: datetime


class DecisionOut(Out):
    """What triage decided about a message (the desk shows it under the message too)."""

    needs_answer: bool
    intent: Intent
    abuse: bool
    language: str
    priority: Priority
    confidence: float
    reasons: list[str]
    model_version: str


class ExportedDecisionOut(DecisionOut):
    message_id: int
    decided_at: datetime


class ExportedReplyOut(Out):
    id: uuid.UUID
    conversation_id: int
    in_reply_to_id: int
    text: str
    state: Literal["queued", "delivered", "failed"]
    platform_message_id: str | None
    created_at: datetime


class ExportedNoteOut(Out):
    id: uuid.UUID
    conversation_id: int
    text: str
    created_at: datetime


class ExportOut(Out):
    """Everything triage holds about a person."""

    exported_at: datetime
    identities: list[IdentityOut]
    conversations: list[ExportedConversationOut]
    messages: list[ExportedMessageOut]
    decisions: list[ExportedDecisionOut]
    replies: list[ExportedReplyOut]
    notes: list[ExportedNoteOut]


class RetentionOut(Out):
    conversation_days: int | None  # None: kept until erased
    source: Literal["workspace", "default"]
    default_days: int | None
