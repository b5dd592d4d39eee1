"""``/v1/channels``: connect a platform account to a workspace and see its health.

Authenticated by a token with the ``channels`` scope (a workspace admin's, never a producer's
ingest token): a channel decides where the workspace's platform credentials are sent.
Credentials are never sent or shown here: a channel names them (``credentials_ref``) and the
inbox reads them from its secret store, in the caller's workspace only.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from services.inbox.channels import store as channels
from services.inbox.channels import usecases
from services.inbox.channels.credentials import CredentialStore
from services.inbox.connectors.base import AuthExpired, ConnectorError, RateLimited, Unavailable
from services.inbox.ingest.auth import ingest_token, workspace_of
from services.infra.http import ENGINE_KEY, Out, ProblemError, model_response, read_model
from services.infra.platforms import CONNECTED, Platform
from services.infra.strings import NO_NUL

CREDENTIALS_KEY = web.AppKey("channel_credentials", CredentialStore)
SESSION_KEY = web.AppKey("platform_session", aiohttp.ClientSession)


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: Annotated[str, Field(min_length=1, max_length=256, pattern=NO_NUL)]
    base_url: HttpUrl
    credentials_ref: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    polling: bool = True
    poll_seconds: Annotated[int, Field(ge=5, le=86_400)] = 60


class CapabilitiesOut(Out):
    """Moderation actions on customers' comments (hide, unhide, delete), or why none."""

    moderation: list[Literal["hide", "unhide", "delete"]]
    moderation_note: str


class ChannelOut(Out):
    """A channel as the API shows it: never its credentials, only their reference."""

    platform: Platform
    key: str
    account_id: str
    base_url: str
    credentials_ref: str
    polling: bool
    poll_seconds: int
    health: Literal["ok", "rate_limited", "needs_reauth", "failing"]
    health_detail: str
    cursor: dict[str, Any]  # where polling resumes, as the platform's connector keeps it
    last_success_at: datetime | None
    next_poll_at: datetime | None
    capabilities: CapabilitiesOut


class ChannelsOut(Out):
    items: list[ChannelOut]


class TemplateOut(Out):
    """An approved WhatsApp message template: what an agent names in a reply's ``template``."""

    name: str
    language: str
    category: str
    body: str


class TemplatesOut(Out):
    items: list[TemplateOut]


async def _workspace(request: web.Request) -> uuid.UUID:
    return await workspace_of(request, ingest_token(request), "channels")


async def put_channel(request: web.Request) -> web.Response:
    workspace = await _workspace(request)
    platform, key = request.match_info["platform"], request.match_info["key"]
    if platform not in CONNECTED:
        raise ProblemError(404, "Not Found", f"No platform {platform!r}.")
    if (
        not key
        or len(key) > 128
        or not key.replace("-", "").replace("_", "").replace(".", "").isalnum()
    ):
        raise ProblemError(422, "Invalid channel key", "Letters, digits, '-', '_' and '.'.")
    body = await read_model(request, ChannelIn, 16_384, "Invalid channel")
    settings = body.model_dump()
    settings["base_url"] = str(body.base_url).rstrip("/")
    async with request.app[ENGINE_KEY].begin() as conn:
        try:
            channel = await usecases.connect(
                conn, request.app[CREDENTIALS_KEY], workspace, platform, key, settings
            )
        except usecases.InvalidChannel as error:
            raise error.problem("Invalid channel") from None
        except channels.AccountTaken:
            detail = "This platform account is connected to another channel already."
            raise ProblemError(
                409, "Conflict", detail, errors=[{"pointer": "/account_id", "detail": detail}]
            ) from None
    return model_response(ChannelOut, channel)


async def get_channels(request: web.Request) -> web.Response:
    workspace = await _workspace(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        found = await channels.list_channels(conn, workspace)
    return model_response(ChannelsOut, {"items": found})


async def get_templates(request: web.Request) -> web.Response:
    workspace = await _workspace(request)
    platform, key = request.match_info["platform"], request.match_info["key"]
    if platform != "whatsapp":
        raise ProblemError(404, "Not Found", "Only WhatsApp channels have message templates.")
    try:
        async with request.app[ENGINE_KEY].connect() as conn:
            found = await usecases.templates(
                conn, request.app[CREDENTIALS_KEY], request.app[SESSION_KEY], workspace, key
            )
    except usecases.NoTemplates:
        raise ProblemError(404, "Not Found", f"No WhatsApp channel {key!r}.") from None
    except AuthExpired:
        raise ProblemError(
            409, "Conflict", "WhatsApp refused the channel's credentials: re-authorise it."
        ) from None
    except (RateLimited, Unavailable):
        raise ProblemError(503, "Unavailable", "WhatsApp did not answer; try again.") from None
    except ConnectorError:
        raise ProblemError(502, "Bad Gateway", "WhatsApp refused to list the templates.") from None
    items = [_fields(t) for t in found]
    return model_response(TemplatesOut, {"items": items})


def _fields(template: Any) -> dict[str, str]:
    return {name: getattr(template, name) for name in ("name", "language", "category", "body")}


async def _platform_session(app: web.Application) -> AsyncIterator[None]:
    """The HTTP session the API uses to read from a platform (templates), closed at shutdown."""
    async with aiohttp.ClientSession() as session:
        app[SESSION_KEY] = session
        yield


def add_routes(app: web.Application) -> None:
    app.cleanup_ctx.append(_platform_session)
    app.router.add_get("/v1/channels", get_channels)
    app.router.add_put("/v1/channels/{platform}/{key}", put_channel)
    app.router.add_get("/v1/channels/{platform}/{key}/templates", get_templates)
