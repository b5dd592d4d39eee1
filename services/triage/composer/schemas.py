"""The shapes of the composer's answers (``GET /v1/conversations/{id}/suggestions``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.infra.http import Out
from services.infra.platforms import Platform


class SuggestionOut(Out):
    """A resolved conversation like the open one, and the desk's last answer in it."""

    id: uuid.UUID  # the answer's reply id: send it back as the reply's suggestion_id
    conversation_id: int
    platform: Platform
    customer_text: str  # what that customer wrote (the best-matching message)
    text: str  # the answer that resolved it: a starting point, to edit
    answered_at: datetime
    score: float  # full-text rank (higher: more alike)


class FilledSavedReplyOut(Out):
    """A saved reply with its placeholders filled for this conversation's customer."""

    id: uuid.UUID
    title: str
    text: str
    unfilled: list[str]  # placeholders left as {name}: the agent fills them before sending
    created_at: datetime


class PrivateMoveOut(Out):
    """The move to private messages: offered or not (and why), and the reply it prefills."""

    offered: bool
    text: str | None
    reason: str


class SuggestionsOut(Out):
    suggestions: list[SuggestionOut]
    saved_replies: list[FilledSavedReplyOut]
    private: PrivateMoveOut


class UsedSuggestionOut(Out):
    text: str
