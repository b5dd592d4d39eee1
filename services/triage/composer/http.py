"""The composer's API: starting points for a reply, shown under the reply box.

``GET /v1/conversations/{id}/suggestions`` and ``POST …/suggestions/use``; another
workspace's conversation or reply is a 404. Nothing here sends anything: a suggestion, a
filled saved reply or the private-message invitation only goes into the agent's reply box.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from services.infra.http import ENGINE_KEY, ProblemError, model_response, path_id, read_model
from services.triage.access.auth import authenticate
from services.triage.composer import usecases
from services.triage.composer.schemas import SuggestionsOut, UsedSuggestionOut

SUGGESTION_OUTCOME_KEY: web.AppKey[Any] = web.AppKey("suggestion_outcome", object)
"""Counts a suggestion's outcome: shown, used, sent_edited, sent_unchanged."""


class UseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    suggestion_id: uuid.UUID


def _count(request: web.Request, outcome: str, times: int = 1) -> None:
    count: Any = request.app.get(SUGGESTION_OUTCOME_KEY)
    if count is not None:
        for _ in range(times):
            count(outcome)


def _missing() -> ProblemError:
    return ProblemError(404, "Not Found", "No such conversation.")


async def get_suggestions(request: web.Request) -> web.Response:
    """Similar resolved conversations and their answers, filled saved replies, and the move
    to private messages of the open conversation."""
    caller = await authenticate(request)
    cid = path_id(request, "conversation")
    async with request.app[ENGINE_KEY].connect() as conn:
        try:
            found = await usecases.suggestions(conn, caller.workspace_id, cid)
        except usecases.NoSuchConversation:
            raise _missing() from None
    _count(request, "shown", len(found["suggestions"]))
    return model_response(SuggestionsOut, found)


async def use_suggestion(request: web.Request) -> web.Response:
    """The agent puts a suggestion in the reply box: its text, counted as used."""
    caller = await authenticate(request)
    cid = path_id(request, "conversation")
    body = await read_model(request, UseIn, 1024)
    async with request.app[ENGINE_KEY].connect() as conn:
        try:
            text = await usecases.use_suggestion(conn, caller.workspace_id, cid, body.suggestion_id)
        except usecases.NoSuchConversation:
            raise _missing() from None
        except usecases.NoSuchSuggestion:
            raise ProblemError(404, "Not Found", "No such suggestion.") from None
    _count(request, "used")
    return model_response(UsedSuggestionOut, {"text": text})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/conversations/{id}/suggestions", get_suggestions)
    app.router.add_post("/v1/conversations/{id}/suggestions/use", use_suggestion)
