"""Webhook API: where a workspace's SLA breaches and incidents are sent (admins only: such a
URL often carries a secret in its path, so it is read and set by the same few people)."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.infra.http import ENGINE_KEY, Out, ProblemError, model_response, read_model
from services.triage.access.auth import authorised
from services.triage.webhooks import store

EVENTS = ["sla.breached"]

MAX_URL = 2048


class WebhookOut(Out):
    url: str
    events: list[str]


class NewWebhookOut(Out):
    """The webhook just set: its signing secret is shown here, once."""

    url: str
    secret: str
    events: list[str]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[
        str, Field(min_length=8, max_length=MAX_URL, pattern=r"^https?://[^\s/\x00]+[^\x00]*$")
    ]


async def put_webhook(request: web.Request) -> web.Response:
    """Set the breach webhook; the signing secret is shown once, in this answer."""
    caller = await authorised(request, "admin")
    url = (await read_model(request, WebhookIn, 8192, "Invalid webhook")).url
    try:
        host = urlsplit(url).hostname
    except ValueError:  # an unclosed "[" reads as a broken IPv6 literal
        host = None
    if not host:
        raise ProblemError(
            422,
            "Invalid webhook",
            "The URL has no valid host.",
            errors=[{"pointer": "/url", "detail": "no valid host"}],
        )
    secret = secrets.token_urlsafe(32)
    async with request.app[ENGINE_KEY].begin() as conn:
        await store.set_webhook(conn, caller.workspace_id, url, secret)
    return model_response(NewWebhookOut, {"url": url, "secret": secret, "events": EVENTS})


async def get_webhook(request: web.Request) -> web.Response:
    """The URL, never the secret; admins only, as the URL may hold a secret of its own."""
    caller = await authorised(request, "admin")
    async with request.app[ENGINE_KEY].connect() as conn:
        found = await store.webhook(conn, caller.workspace_id)
    if found is None:
        raise ProblemError(404, "Not Found", "No webhook is set.")
    return model_response(WebhookOut, {"url": found[0], "events": EVENTS})


def add_routes(app: web.Application) -> None:
    app.router.add_put("/v1/webhooks", put_webhook)
    app.router.add_get("/v1/webhooks", get_webhook)
