"""The poller: every inbox process polls the channels that are due, one lease at a time.

A channel is leased (not locked) while its pages are fetched, since that takes network
time; each page is stored with its cursor in one transaction. Outcomes set the channel's
health and next poll: rate limits wait for the platform's reset, failures back off with
jitter, expired credentials mark the channel for re-authorisation.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from services.inbox.channels import store
from services.inbox.channels.credentials import CredentialStore, NotAllowed
from services.inbox.connectors.base import (
    AuthExpired,
    Channel,
    Connector,
    CursorRejected,
    RateLimited,
    Rejected,
    Unavailable,
)
from services.inbox.connectors.registry import connector_for
from services.inbox.domain import polling
from services.inbox.ingest.store import store_batch
from services.inbox.metrics import InboxMetrics
from services.infra.worker import Wakeup, run_worker

log = logging.getLogger("ecoute.inbox.poller")

HOLD = "@retry_at"  # cursor key suffix: a stream held back by its rate limit until then


def _later(value: str | None, now: datetime) -> datetime | None:
    """The instant in ``value`` if it is still ahead of ``now``."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment > now else None


class Poller:
    def __init__(
        self,
        engine: AsyncEngine,
        database_url: str,
        credentials: CredentialStore,
        session: aiohttp.ClientSession,
        metrics: InboxMetrics | None = None,
        *,
        lease_seconds: float = 120.0,
        batch: int = 8,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.database_url = database_url
        self.credentials = credentials
        self.session = session
        self.metrics = metrics
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.clock = clock

    async def poll_due(self) -> int:
        """Poll every channel due now (several at once); returns how many were polled."""
        async with self.engine.begin() as conn:
            due = await store.claim_due(conn, self.clock(), self.lease_seconds, self.batch)
        await asyncio.gather(*(self.poll_channel(channel) for channel in due))
        return len(due)

    async def poll_channel(self, channel: Channel) -> str:
        """Fetch and store everything new on one channel; returns the outcome."""
        outcome, health, detail = "ok", "ok", ""
        failures = 0
        retry_at: datetime | None = None
        try:
            connector = connector_for(
                channel, self.credentials.for_channel(channel), self.session, self.clock
            )
            limited, held = await self._poll_streams(channel, connector)
            if limited is not None:  # every stream is held back by its rate limit
                raise RateLimited(limited)
            detail = f"held back by rate limits: {', '.join(held)}" if held else ""
        except RateLimited as exc:
            outcome, health, retry_at = "rate_limited", "rate_limited", exc.retry_at
            detail = f"rate limited until {retry_at.isoformat() if retry_at else 'unknown'}"
        except AuthExpired as exc:
            outcome, health = "auth_expired", "needs_reauth"
            # The inbox's own refusal says why; a platform's words might quote a secret.
            detail = exc.detail if isinstance(exc, NotAllowed) else "credentials refused"
        except (Unavailable, Rejected) as exc:
            outcome = "unavailable" if isinstance(exc, Unavailable) else "rejected"
            async with self.engine.connect() as conn:
                failures = await store.failures_of(conn, channel) + 1
            health = polling.health_after_failure(failures)
            detail = f"{outcome} ({type(exc).__name__}), {failures} in a row"
        now = self.clock()
        jitter = random.random()
        if outcome == "ok":
            next_poll = polling.after_success(now, channel.poll_seconds)
        elif outcome == "rate_limited":
            next_poll = polling.after_rate_limit(now, retry_at, channel.poll_seconds, jitter)
            if self.metrics is not None:
                self.metrics.rate_limit_wait.labels(channel.platform).inc(
                    max(0.0, (next_poll - now).total_seconds())
                )
        elif outcome == "auth_expired":
            next_poll = now + polling.REAUTH_RECHECK
        else:
            next_poll = polling.after_failure(now, failures, jitter)
        async with self.engine.begin() as conn:
            await store.finish(
                conn,
                channel,
                health=health,
                detail=detail,
                next_poll_at=next_poll,
                failures=failures,
                succeeded_at=now if outcome == "ok" else None,
            )
        if self.metrics is not None:
            self.metrics.polls.labels(channel.platform, outcome).inc()
        if outcome != "ok":
            log.warning(
                "poll did not succeed",
                extra={
                    "workspace_id": str(channel.workspace_id),
                    "platform": channel.platform,
                    "outcome": outcome,
                },
            )
        return outcome

    async def _poll_streams(
        self, channel: Channel, connector: Connector
    ) -> tuple[datetime | None, list[str]]:
        """Poll each stream; a rate-limited stream waits for its own reset, the others go on.

        Returns when polling may resume if every stream is rate limited (else None), and the
        streams held back.
        """
        holds: list[datetime] = []
        held: list[str] = []
        streams = connector.streams
        for stream in streams:
            held_until = _later(channel.cursor.get(stream + HOLD), self.clock())
            if held_until is None:
                try:
                    await self._poll_stream(channel, connector, stream)
                    continue
                except RateLimited as exc:
                    held_until = exc.retry_at or self.clock() + timedelta(
                        seconds=channel.poll_seconds
                    )
                    async with self.engine.begin() as conn:
                        await store.save_cursor(
                            conn, channel, stream + HOLD, held_until.isoformat()
                        )
            holds.append(held_until)
            held.append(stream)
        every = bool(streams) and len(holds) == len(streams)
        return (min(holds) if every else None), held

    async def _poll_stream(self, channel: Channel, connector: Connector, stream: str) -> None:
        cursor = channel.cursor.get(stream)
        try:
            await self._store_pages(channel, connector, stream, cursor)
        except CursorRejected:
            # The platform forgot our place: start again from its newest items. Messages
            # already stored are duplicates, so the overlap costs nothing and leaves no gap.
            async with self.engine.begin() as conn:
                await store.reset_cursor(conn, channel, stream)
            await self._store_pages(channel, connector, stream, None)

    async def _store_pages(
        self, channel: Channel, connector: Connector, stream: str, cursor: str | None
    ) -> None:
        async for page in connector.poll(stream, cursor):
            async with self.engine.begin() as conn:
                if page.messages:
                    results = await store_batch(
                        conn, channel.workspace_id, page.messages, self.clock()
                    )
                    if self.metrics is not None:
                        self.metrics.count_stored(page.messages, results)
                if page.cursor is not None:
                    await store.save_cursor(conn, channel, stream, page.cursor)

    async def run(self, stop: asyncio.Event) -> None:
        async def step() -> float:
            if await self.poll_due() >= self.batch:
                return 0.0
            async with self.engine.connect() as conn:
                wait = await store.seconds_to_next_poll(conn, self.clock())
            return min(30.0, wait if wait is not None else 30.0)

        wakeup = Wakeup(self.database_url, store.WAKE_POLLER)
        await run_worker("poller", step, stop, wakeup=wakeup, first_backoff=2.0)
