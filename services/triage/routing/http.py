"""Routing's API: my presence, the team's presence, the workspace's switch, a teammate's
skills, and assignment by hand. Handlers parse, call a use case, answer.

Another workspace's conversation or user is a 404 (its existence is not disclosed).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.infra.http import ENGINE_KEY, Out, ProblemError, model_response, path_id, read_model
from services.infra.strings import NO_NUL
from services.triage.access.accounts import NoSuchUser
from services.triage.access.auth import authenticate, authorised
from services.triage.access.http import uuid_in_path
from services.triage.access.http_security import no_such_user
from services.triage.domain.conversation import MAX_REPLY
from services.triage.routing import usecases
from services.triage.routing.usecases import Assignment, RoutingConfig

ROUTING_CONFIG_KEY = web.AppKey("routing_config", RoutingConfig)
ASSIGNED_KEY: web.AppKey[Callable[[Assignment], None]] = web.AppKey("routing_assigned")
Presence = Literal["available", "away", "offline"]
Language = Literal["fr", "en", "other"]
Channel = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
MaxClaims = Annotated[int, Field(ge=1, le=100)]


class PresenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    presence: Presence


class PresenceOut(Out):
    user_id: uuid.UUID
    presence: Presence


class MemberPresenceOut(Out):
    user_id: uuid.UUID
    display_name: str
    role: str
    presence: Presence
    last_active_at: datetime | None
    open_claims: int
    max_open_claims: int
    languages: list[str]
    channels: list[str]
    last_assigned_at: datetime | None


class TeamPresenceOut(Out):
    members: list[MemberPresenceOut]
    as_of: datetime


class RoutingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    auto_assign: bool
    max_open_claims: MaxClaims | None = None


class RoutingOut(Out):
    auto_assign: bool
    max_open_claims: int | None
    default_max_open_claims: int


class SkillsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_open_claims: MaxClaims | None = None
    languages: Annotated[list[Language], Field(max_length=3)] = []
    channels: Annotated[list[Channel], Field(max_length=100)] = []


class SkillsOut(Out):
    user_id: uuid.UUID
    max_open_claims: int | None
    languages: list[str]
    channels: list[str]


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: uuid.UUID
    note: Annotated[str, Field(min_length=1, max_length=MAX_REPLY, pattern=NO_NUL)] | None = None


class AssignOut(Out):
    conversation_id: int
    assignee_id: uuid.UUID
    assignee_name: str
    claim_expires_at: datetime
    how: Literal["lead", "handover"]


def _config(request: web.Request) -> RoutingConfig:
    return request.app.get(ROUTING_CONFIG_KEY) or RoutingConfig()


async def put_my_presence(request: web.Request) -> web.Response:
    """Available, away or offline (sent again, it also says "still here")."""
    caller = await authenticate(request)
    body = await read_model(request, PresenceIn, 1024)
    async with request.app[ENGINE_KEY].begin() as conn:
        await usecases.set_presence(conn, caller, body.presence, datetime.now(UTC))
    return model_response(PresenceOut, {"user_id": caller.user_id, "presence": body.presence})


async def get_my_presence(request: web.Request) -> web.Response:
    """My presence as the team sees it: where a newly opened desk starts."""
    caller = await authenticate(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        state = await usecases.my_presence(conn, caller, datetime.now(UTC), _config(request))
    return model_response(PresenceOut, {"user_id": caller.user_id, "presence": state})


async def get_team_presence(request: web.Request) -> web.Response:
    """Who is on, with their open claims and skills (leads and admins)."""
    caller = await authorised(request, "lead", "admin")
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].connect() as conn:
        members = await usecases.team_presence(conn, caller.workspace_id, now, _config(request))
    return model_response(TeamPresenceOut, {"members": members, "as_of": now})


async def get_routing(request: web.Request) -> web.Response:
    caller = await authorised(request, "lead", "admin")
    async with request.app[ENGINE_KEY].connect() as conn:
        view = await usecases.routing_settings(conn, caller.workspace_id, _config(request))
    return model_response(RoutingOut, view)


async def put_routing(request: web.Request) -> web.Response:
    """Turn automatic assignment on or off; the workspace's maximum of open claims."""
    caller = await authorised(request, "lead", "admin")
    body = await read_model(request, RoutingIn, 1024)
    async with request.app[ENGINE_KEY].begin() as conn:
        view = await usecases.save_routing_settings(
            conn, caller, body.auto_assign, body.max_open_claims, _config(request)
        )
    return model_response(RoutingOut, view)


async def put_skills(request: web.Request) -> web.Response:
    """What a teammate takes: languages, channels (empty: all), their own maximum."""
    caller = await authorised(request, "lead", "admin")
    user_id = uuid_in_path(request, "user")
    body = await read_model(request, SkillsIn, 16 * 1024)
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            await usecases.set_skills(
                conn, caller, user_id, body.max_open_claims, body.languages, body.channels
            )
    except NoSuchUser:
        raise no_such_user() from None
    return model_response(SkillsOut, {"user_id": user_id, **body.model_dump()})


async def post_assign(request: web.Request) -> web.Response:
    """Give a conversation to a teammate (a lead any; an agent one they hold)."""
    caller = await authenticate(request)
    cid = path_id(request, "conversation")
    body = await read_model(request, AssignIn, 16 * 1024)
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            made, view = await usecases.assign(
                conn, caller, cid, body.user_id, body.note, datetime.now(UTC)
            )
    except usecases.NoSuchConversation:
        raise ProblemError(404, "Not Found", "No such conversation.") from None
    except NoSuchUser:
        raise no_such_user() from None
    except usecases.AssignRefused as refused:
        title = {403: "Forbidden", 409: "Conflict", 422: "Invalid assignee"}[refused.status]
        named = {"errors": [{"pointer": "/user_id", "detail": refused.reason}]}
        extra = named if refused.status == 422 else {}
        raise ProblemError(refused.status, title, refused.reason, **extra) from None
    counter: Any = request.app.get(ASSIGNED_KEY)
    if counter is not None:
        counter(made)
    return model_response(AssignOut, view)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/me/presence", get_my_presence)
    app.router.add_put("/v1/me/presence", put_my_presence)
    app.router.add_get("/v1/team/presence", get_team_presence)
    app.router.add_get("/v1/routing", get_routing)
    app.router.add_put("/v1/routing", put_routing)
    app.router.add_put("/v1/users/{id}/routing", put_skills)
    app.router.add_post("/v1/conversations/{id}/assign", post_assign)
