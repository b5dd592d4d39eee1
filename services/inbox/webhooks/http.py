"""Platform webhooks: ``/webhooks/{platform}`` (GET for handshakes, POST for events).

Each platform's receiver lives in its own module with ``async def receive(request, hub)``:
it verifies the signature over the raw bytes (never over re-serialised JSON), answers
handshakes, normalises events and stores them through ``hub.store``. Forged or unsigned
requests get 401 and store nothing; malformed or unknown events are acknowledged (so the
platform does not retry forever), counted, and logged without their text.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.inbox.domain.messages import Incoming
from services.inbox.ingest.store import store_batch
from services.inbox.metrics import InboxMetrics
from services.inbox.settings import InboxSettings
from services.infra.http import ProblemError

log = logging.getLogger("ecoute.inbox.webhooks")

RECEIVERS: dict[str, str] = {
    "x": "services.inbox.webhooks.x:receive",
    "meta": "services.inbox.webhooks.meta:receive",
}
MAX_WEBHOOK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class WebhookHub:
    """What a receiver may use: settings (app secrets), metrics, and storage by account."""

    engine: AsyncEngine
    settings: InboxSettings
    metrics: InboxMetrics
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def count(self, platform: str, outcome: str) -> None:
        """outcome: stored, duplicate, ignored, handshake, forged, malformed."""
        self.metrics.webhook_requests.labels(platform, outcome).inc()

    async def store(
        self, platforms: Sequence[str], account_id: str, messages: Sequence[Incoming]
    ) -> int:
        """Store messages for every channel connected to this platform account.

        Messages must carry the channel key ``""``: it is filled in per channel found.
        Returns how many were new (0 when no channel knows the account).
        """
        if not messages:
            return 0
        stored = 0
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT workspace_id, platform, key FROM inbox.channels "
                        "WHERE platform = ANY(CAST(:platforms AS text[])) AND account_id = :account"
                    ),
                    {"platforms": list(platforms), "account": account_id},
                )
            ).all()
            for row in rows:
                mine = [m for m in messages if m.platform == row.platform]
                if not mine:
                    continue
                placed = [_with_channel(m, row.key) for m in mine]
                results = await store_batch(conn, row.workspace_id, placed, self.clock())
                self.metrics.count_stored(placed, results)
                stored += sum(r.status == "stored" for r in results)
        return stored


def _with_channel(message: Incoming, key: str) -> Incoming:
    return replace(message, channel=key)


Receiver = Callable[[web.Request, WebhookHub], Awaitable[web.StreamResponse]]
HUB_KEY = web.AppKey("webhook_hub", WebhookHub)


async def webhook(request: web.Request) -> web.StreamResponse:
    platform = request.match_info["platform"]
    target = RECEIVERS.get(platform)
    if target is None:
        raise ProblemError(404, "Not Found", "No webhook for that platform.")
    module, _, name = target.partition(":")
    try:
        receiver: Receiver = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise ProblemError(404, "Not Found", "That webhook is not available.") from None
    return await receiver(request, request.app[HUB_KEY])


def add_routes(app: web.Application) -> None:
    app.router.add_route("GET", "/webhooks/{platform}", webhook)
    app.router.add_route("POST", "/webhooks/{platform}", webhook)
