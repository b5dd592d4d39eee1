"""The poller: every inbox process polls the channels that are due, one lease at a time.

A channel is leased (not locked) while its pages are fetched, since that takes network
time; each page is stored with its cursor in one transaction. Outcomes set the channel's
health and next poll: rate limits wait for the platform's reset, failures back off with
jitter, expired credentials mark the channel for re-authorisation. Any other error of one
channel (a platform answer of an unexpected shape, a connector's bug) marks that channel
``failing`` with a bounded reason and backs off; the other channels go on.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.inbox.channels import store
from services.inbox.channels.credentials import CredentialStore, NotAllowed
from services.inbox.channels.usecases import record_spending
from services.inbox.connectors.base import (
    AuthExpired,
    Channel,
    Connector,
    CursorRejected,
    QuotaSpent,
    RateLimited,
    Rejected,
    Unavailable,
    failure_reason,
    log_unforeseen,
)
from services.inbox.connectors.registry import connector_for
from services.inbox.domain import polling
from services.inbox.ingest.store import store_batch
from services.inbox.metrics import InboxMetrics
from services.infra.db import is_unavailable
from services.infra.due_rows import claim_and_handle
from services.infra.worker import Rotation, Wakeup, run_worker

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


@dataclass(frozen=True, slots=True)
class _Result:
    """How a poll went: the outcome counted, the health and detail stored, what follows."""

    outcome: str  # ok, rate_limited, auth_expired, unavailable, rejected, or an ERROR_REASON
    health: str
    detail: str
    failures: int = 0
    retry_at: datetime | None = None


@dataclass(eq=False)
class Poller:
    engine: AsyncEngine
    database_url: str
    credentials: CredentialStore
    session: aiohttp.ClientSession
    metrics: InboxMetrics | None = None
    _: KW_ONLY
    lease_seconds: float = 120.0
    batch: int = 8
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    rotation: Rotation = field(default_factory=Rotation)

    async def poll_due(self) -> int:
        """Poll the channels due now (several at once) of the next workspace that has some
        (workspaces take turns); returns how many were polled."""
        now = self.clock()
        return await claim_and_handle(
            self.engine,
            self.rotation,
            lambda conn, after: store.next_workspace_due(conn, now, after),
            lambda conn, ws: store.claim_due(conn, now, self.lease_seconds, self.batch, ws),
            self.poll_channel,
        )

    async def poll_channel(self, channel: Channel) -> str:
        """Fetch and store everything new on one channel; returns the outcome.

        Whatever goes wrong with this channel ends here as its health and next poll, never
        as an exception out of the poller: only an unreachable database goes up (the worker
        loop waits it out).
        """
        result = await self._attempt(channel)
        now = self.clock()
        next_poll = self._next_poll(channel, result, now)
        async with self.engine.begin() as conn:
            await store.finish(
                conn,
                channel,
                health=result.health,
                detail=result.detail,
                next_poll_at=next_poll,
                failures=result.failures,
                succeeded_at=now if result.outcome == "ok" else None,
            )
        if self.metrics is not None:
            self.metrics.polls.labels(channel.platform, result.outcome).inc()
        if result.outcome != "ok":
            log.warning(
                "poll did not succeed",
                extra={
                    "workspace_id": str(channel.workspace_id),
                    "platform": channel.platform,
                    "outcome": result.outcome,
                },
            )
        return result.outcome

    async def _attempt(self, channel: Channel) -> _Result:
        """Poll the channel's streams; how it went, as the channel's health will say it."""
        connector: Connector | None = None
        try:
            connector = connector_for(
                channel, self.credentials.for_channel(channel), self.session, self.clock
            )
            limited, held = await self._poll_streams(channel, connector)
            if limited is not None:  # every stream is held back by its rate limit
                raise RateLimited(limited)
        except RateLimited as exc:
            retry_at = exc.retry_at
            limit = "daily quota spent" if isinstance(exc, QuotaSpent) else "rate limited"
            detail = f"{limit} until {retry_at.isoformat() if retry_at else 'unknown'}"
            return _Result("rate_limited", "rate_limited", detail, retry_at=retry_at)
        except AuthExpired as exc:
            # The inbox's own refusal says why; a platform's words might quote a secret.
            detail = exc.detail if isinstance(exc, NotAllowed) else "credentials refused"
            return _Result("auth_expired", "needs_reauth", detail)
        except (Unavailable, Rejected) as exc:
            outcome = "unavailable" if isinstance(exc, Unavailable) else "rejected"
            failures = await self._failures(channel)
            health = polling.health_after_failure(failures)
            detail = f"{outcome} ({type(exc).__name__}), {failures} in a row"
            return _Result(outcome, health, detail, failures)
        except Exception as exc:
            if is_unavailable(exc):
                raise
            return await self._broken(channel, exc)
        finally:
            await record_spending(self.engine, channel, connector)
        detail = f"held back by rate limits: {', '.join(held)}" if held else ""
        return _Result("ok", "ok", detail)

    async def _broken(self, channel: Channel, exc: Exception) -> _Result:
        """An error no connector rule foresaw (an answer of an unexpected shape, a bug, a
        page the database refused): the channel is failing at once, with a bounded reason
        (never the error's text, which may quote the platform or a secret), and backs off."""
        reason = "store_error" if isinstance(exc, SQLAlchemyError) else failure_reason(exc)
        log_unforeseen(exc, "poll", channel, reason)
        failures = await self._failures(channel)
        return _Result(reason, "failing", f"{reason}, {failures} in a row", failures)

    async def _failures(self, channel: Channel) -> int:
        """Failures in a row, this one included."""
        async with self.engine.connect() as conn:
            return await store.failures_of(conn, channel) + 1

    def _next_poll(self, channel: Channel, result: _Result, now: datetime) -> datetime:
        jitter = random.random()
        if result.outcome == "ok":
            return polling.after_success(now, channel.poll_seconds)
        if result.outcome == "rate_limited":
            next_poll = polling.after_rate_limit(now, result.retry_at, channel.poll_seconds, jitter)
            if self.metrics is not None:
                self.metrics.rate_limit_wait.labels(channel.platform).inc(
                    max(0.0, (next_poll - now).total_seconds())
                )
            return next_poll
        if result.outcome == "auth_expired":
            return now + polling.REAUTH_RECHECK
        return polling.after_failure(now, result.failures, jitter)

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
                except QuotaSpent:
                    raise  # the channel's daily quota: no stream may go on
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
