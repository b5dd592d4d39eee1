"""The shapes of the incidents area's answers: the handlers answer through them
(``services.infra.http.model_response``) and the OpenAPI document shows their schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from services.infra.http import Out
from services.infra.platforms import Platform
from services.triage.domain.conversation import Priority, Status
from services.triage.domain.model import Intent
from services.triage.domain.sla import QueueState

IncidentStatus = Literal["open", "closed"]
IncidentKind = Literal["customer", "moderation"]


class AuthorOut(Out):
    """Who wrote a message, as the desk shows them."""

    handle: str
    display_name: str


class IncidentSummaryOut(Out):
    """An incident as lists show it."""

    id: int
    kind: IncidentKind
    status: IncidentStatus
    label: str
    terms: list[str]
    first_seen: datetime
    opened_at: datetime
    last_seen: datetime
    message_count: int
    author_count: int
    platforms: list[Platform]
    languages: list[str]
    has_status_note: bool
    closed_at: datetime | None
    close_reason: Literal["quiet", "manual", "merged"] | None
    merged_into: int | None


class IncidentsOut(Out):
    items: list[IncidentSummaryOut]
    count: int


class SampleOut(Out):
    message_id: int
    conversation_id: int
    text: str
    author: AuthorOut
    platform: Platform
    language: str
    abuse: bool
    created_at: datetime


class IncidentSlaOut(Out):
    state: QueueState
    due_at: datetime | None


class IncidentLatestOut(Out):
    id: int
    text: str
    author: AuthorOut


class IncidentConversationOut(Out):
    conversation_id: int
    platform: Platform
    channel: str
    status: Status
    in_queue: bool
    priority: Priority
    intent: Intent
    abuse: bool
    sla: IncidentSlaOut
    waiting_since: datetime | None
    assignee_id: uuid.UUID | None
    assignee_name: str | None
    incident_messages: int
    flooding: bool
    joined_at: datetime
    latest_message: IncidentLatestOut | None


class IncidentChangeOut(Out):
    id: int
    change: Literal["opened", "grown", "merged", "split", "closed", "reopened", "note"]
    detail: dict[str, Any]
    user_id: uuid.UUID | None
    user_name: str | None
    at: datetime


class IncidentOut(IncidentSummaryOut):
    """An incident with its status note, samples, conversations and latest changes."""

    status_note: str
    note_by: uuid.UUID | None
    note_by_name: str | None
    note_at: datetime | None
    closed_by: uuid.UUID | None
    closed_by_name: str | None
    samples: list[SampleOut]
    conversations: list[IncidentConversationOut]
    history: list[IncidentChangeOut]
