"""Platform webhooks: ``/webhooks/{platform}`` (GET for handshakes, POST for events).

Each platform's receiver lives in its own module with ``async def receive(request, hub)``:
it verifies the signature over the raw bytes (never over re-serialised JSON), answers
handshakes, normalises events and stores them through ``hub.store``. Forged or unsigned
requests get 401 and store nothing; malformed or unknown events are acknowledged (so the
platform does not retry forever), counted, and logged without their text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from services.inbox.webhooks import http_meta, http_threads, http_whatsapp, http_x
from services.inbox.webhooks.hub import HUB_KEY, WebhookHub
from services.infra.http import ProblemError

Receiver = Callable[[web.Request, WebhookHub], Awaitable[web.StreamResponse]]

RECEIVERS: dict[str, Receiver] = {
    "x": http_x.receive,
    "meta": http_meta.receive,
    "whatsapp": http_whatsapp.receive,
    "threads": http_threads.receive,
}


async def webhook(request: web.Request) -> web.StreamResponse:
    receiver = RECEIVERS.get(request.match_info["platform"])
    if receiver is None:
        raise ProblemError(404, "Not Found", "No webhook for that platform.")
    return await receiver(request, request.app[HUB_KEY])


def add_routes(app: web.Application) -> None:
    app.router.add_route("GET", "/webhooks/{platform}", webhook)
    app.router.add_route("POST", "/webhooks/{platform}", webhook)
