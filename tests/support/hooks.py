"""A webhook subscriber for tests: a local endpoint that keeps every delivery, subscribed
through triage's API, and the signature check a real subscriber makes."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from services.triage.webhooks.sender import SIGNATURE_HEADER
from tests.support.world import bearer


@dataclass
class HookReceiver:
    url: str
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)

    async def subscribe(self, triage: Any, admin: str) -> str:
        """Point the workspace's webhook here (as its admin); the signing secret it gets."""
        created = await triage.put("/v1/webhooks", json={"url": self.url}, headers=bearer(admin))
        assert created.status == 200, await created.text()
        return str((await created.json())["secret"])


async def hook_receiver(aiohttp_server: Any, *statuses: int, then: int = 200) -> HookReceiver:
    """``POST /hook`` keeps each (body, headers) and answers ``statuses`` in turn, then
    ``then``: a 500 first makes the sender retry."""
    answers = list(statuses)
    received: list[tuple[bytes, dict[str, str]]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append((await request.read(), dict(request.headers)))
        return web.Response(status=answers.pop(0) if answers else then)

    app = web.Application()
    app.router.add_post("/hook", receive)
    server = await aiohttp_server(app)
    return HookReceiver(str(server.make_url("/hook")), received)


def signed_with(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """The delivery carries the HMAC-SHA256 of its body under the subscriber's secret."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers[SIGNATURE_HEADER], expected)
