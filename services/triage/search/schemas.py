"""The shape of search's answer (``GET /v1/search``)."""

from __future__ import annotations

from datetime import datetime

from services.infra.http import Out
from services.infra.platforms import Platform
from services.triage.domain.conversation import Priority, Status


class SearchHitOut(Out):
    """A matching message and the conversation it belongs to."""

    conversation_id: int
    message_id: int
    platform: Platform
    channel: str
    status: Status
    priority: Priority
    author_handle: str
    created_at: datetime
    snippet: str  # plain text around the match, never markup
    highlights: list[list[int]]  # [start, end) offsets of the matched words in snippet


class SearchOut(Out):
    items: list[SearchHitOut]
    count: int
    next_before: int | None  # pass as ``before`` for the next page; null on the last
