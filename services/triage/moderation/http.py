"""``POST /v1/conversations/{id}/moderation``: a lead or an admin asks the platform to hide,
show again or delete a customer's comment.

Agents are refused (403); another workspace's conversation or message is a 404; an action the
platform cannot do to that message is a 422 that says why. The answer (202) is the action as
asked: the desk shows it on the message until the platform confirms or refuses it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.infra.http import ENGINE_KEY, Out, ProblemError, model_response, path_id, read_model
from services.triage.access.auth import authorised
from services.triage.moderation.usecases import (
    MODERATORS,
    ModerationRefused,
    NoSuchMessage,
    moderate_as,
)


class ModerationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["hide", "unhide", "delete"]
    message_id: Annotated[int, Field(ge=1, lt=2**63)]


class ModerationRequestedOut(Out):
    action_id: str
    conversation_id: int
    message_id: int
    action: Literal["hide", "unhide", "delete"]
    state: Literal["requested"]


async def post_moderation(request: web.Request) -> web.Response:
    caller = await authorised(request, *MODERATORS)
    cid = path_id(request, "conversation")
    body = await read_model(request, ModerationIn, 1024)
    async with request.app[ENGINE_KEY].begin() as conn:
        try:
            asked = await moderate_as(
                conn, caller, cid, body.message_id, body.action, datetime.now(UTC)
            )
        except NoSuchMessage:
            raise ProblemError(404, "Not Found", "No such message in this conversation.") from None
        except ModerationRefused as refused:
            raise ProblemError(
                422,
                "Cannot moderate this message",
                str(refused),
                errors=[{"pointer": "/action", "detail": str(refused)}],
            ) from None
    answer = {
        "action_id": str(asked.action_id),
        "conversation_id": asked.conversation_id,
        "message_id": asked.message_id,
        "action": asked.action,
        "state": "requested",
    }
    return model_response(ModerationRequestedOut, answer, status=202)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/conversations/{id}/moderation", post_moderation)
