"""What a webhook receiver may use: settings (app secrets), metrics, storage by account, and
the answers receivers share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from services.inbox.channels import store as channel_store
from services.inbox.domain.messages import Incoming
from services.inbox.ingest.store import remember_profiles, store_batch
from services.inbox.metrics import InboxMetrics
from services.inbox.settings import InboxSettings
from services.inbox.webhooks.profiles import Names, ProfileLookup, named
from services.infra.http import Out, model_response

MAX_WEBHOOK_BYTES = 1024 * 1024


class CrcOut(Out):
    """X's CRC check answered: the HMAC of its token under the consumer secret."""

    response_token: str


class ReceivedOut(Out):
    status: Literal["received"]


def acknowledged() -> web.Response:
    """What a platform's event delivery gets once read, stored or not (so the platform does
    not send it again)."""
    return model_response(ReceivedOut, {"status": "received"})


@dataclass(frozen=True)
class WebhookHub:
    """What a receiver may use: settings (app secrets), metrics, and storage by account."""

    engine: AsyncEngine
    settings: InboxSettings
    metrics: InboxMetrics
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    profiles: ProfileLookup | None = None  # names for Messenger and Instagram authors

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
        async with self.engine.connect() as conn:
            rows = await channel_store.channels_of_account(conn, platforms, account_id)
        # Names are asked before the transaction: no transaction waits on Meta.
        names: list[tuple[Names, Names]] = [
            await self.profiles.names(row, messages) if self.profiles else ({}, {}) for row in rows
        ]
        stored = 0
        async with self.engine.begin() as conn:
            for row, (use, found) in zip(rows, names, strict=True):
                mine = [m for m in messages if m.platform == row.platform]
                if not mine:
                    continue
                await remember_profiles(conn, row.workspace_id, row.platform, found, self.clock())
                placed = [_with_channel(m, row.key) for m in named(mine, use)]
                results = await store_batch(conn, row.workspace_id, placed, self.clock())
                self.metrics.count_stored(placed, results)
                stored += sum(r.status == "stored" for r in results)
        return stored


def _with_channel(message: Incoming, key: str) -> Incoming:
    return replace(message, channel=key)


HUB_KEY = web.AppKey("webhook_hub", WebhookHub)
