"""Delivering agents' replies to the platforms: at most one post per reply.

1. A ``reply.requested`` event becomes a ``queued`` delivery row (the consumer does no
   network I/O inside its transaction).
2. The delivery loop claims due rows and records the attempt (``sending``, attempts + 1)
   in its own transaction *before* calling the platform.
3. Success is recorded with the platform's id in one transaction that also stores the reply
   as an outbound message (so triage's clocks stop through the usual message path) and
   publishes ``reply.delivered``; a failure retries with back-off or ends in ``reply.failed``
   with a bounded reason.
A row found still ``sending`` was interrupted mid-send (crash): it is reconciled first —
a connector that can find the post it made reports it; otherwise only a platform that dedupes
resends itself (an idempotency key) is tried again, and any other is failed as
``unknown_outcome`` for a person to check, rather than risk a double post.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ecoute.v1 import events_pb2
from services.inbox.channels import store as channel_store
from services.inbox.channels.credentials import CredentialStore
from services.inbox.connectors.base import (
    AuthExpired,
    Channel,
    RateLimited,
    Rejected,
    Reply,
    Sent,
    Unavailable,
)
from services.inbox.connectors.registry import connector_for
from services.inbox.domain.messages import Incoming
from services.inbox.ingest.store import store_batch
from services.inbox.metrics import InboxMetrics
from services.inbox.privacy.erasure import apply_privacy
from services.infra.events import Consumer, Event, publish
from services.infra.worker import run_worker

log = logging.getLogger("ecoute.inbox.delivery")

CONSUMER = "inbox"
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)
# Platforms whose send endpoint dedupes a resend by itself (Mastodon's Idempotency-Key).
SELF_DEDUPING = {"mastodon"}


def _ts(moment: datetime) -> Timestamp:
    return Timestamp(seconds=int(moment.timestamp() // 1), nanos=moment.microsecond * 1000)


async def record_requests(conn: AsyncConnection, events: list[Event]) -> None:
    """Consumer handler: each reply.requested becomes a queued delivery, once."""
    for event in events:
        if event.topic != "reply.requested":
            continue
        request = events_pb2.ReplyRequested.FromString(event.payload)
        await conn.execute(
            text(
                """
            INSERT INTO inbox.deliveries (workspace_id, reply_id, conversation_id, channel_id,
                                          in_reply_to_id, agent_id, text, requested_at)
            SELECT CAST(:ws AS uuid), :reply, :conversation, m.channel_id, m.id, :agent, :text,
                   :requested
            FROM inbox.messages AS m
            WHERE m.workspace_id = CAST(:ws AS uuid) AND m.id = :message
              AND m.erased_at IS NULL
            ON CONFLICT (workspace_id, reply_id) DO NOTHING
            """
            ),
            {
                "ws": request.workspace_id,
                "reply": uuid.UUID(request.reply_id),
                "conversation": request.conversation_id,
                "agent": request.agent_id,
                "text": request.text,
                "message": request.in_reply_to_message_id,
                "requested": request.requested_at.ToDatetime(UTC),
            },
        )


_CLAIM = text(
    """
    WITH due AS (
        SELECT workspace_id, reply_id, state AS was FROM inbox.deliveries
        WHERE state IN ('queued', 'sending') AND next_attempt_at <= :now
        ORDER BY next_attempt_at LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE inbox.deliveries AS d
    SET state = 'sending', attempts = d.attempts + 1,
        next_attempt_at = CAST(:now AS timestamptz) + make_interval(secs => :lease),
        updated_at = now()
    FROM due WHERE d.workspace_id = due.workspace_id AND d.reply_id = due.reply_id
    RETURNING d.*, due.was
    """
)
_CONTEXT = text(
    """
    SELECT c.*, m.external_id AS answered_id, m.kind AS answered_kind,
           m.thread_id AS answered_thread, m.raw AS answered_raw,
           a.external_id AS author_id, a.handle AS author_handle
    FROM inbox.channels AS c
    JOIN inbox.messages AS m ON m.workspace_id = c.workspace_id AND m.id = :message
    JOIN inbox.authors AS a ON a.workspace_id = m.workspace_id AND a.id = m.author_id
    WHERE c.workspace_id = :ws AND c.id = :channel
    """
)


class Deliverer:
    def __init__(
        self,
        engine: AsyncEngine,
        credentials: CredentialStore,
        session: aiohttp.ClientSession,
        metrics: InboxMetrics | None = None,
        *,
        batch: int = 20,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.credentials = credentials
        self.session = session
        self.metrics = metrics
        self.batch = batch
        self.clock = clock

    async def deliver_due(self) -> int:
        now = self.clock()
        async with self.engine.begin() as conn:
            claimed = (
                await conn.execute(
                    _CLAIM, {"now": now, "limit": self.batch, "lease": LEASE.total_seconds()}
                )
            ).all()
        await asyncio.gather(*(self._deliver(row) for row in claimed))
        return len(claimed)

    async def _deliver(self, row: Any) -> None:
        async with self.engine.connect() as conn:
            context = (
                await conn.execute(
                    _CONTEXT,
                    {
                        "ws": row.workspace_id,
                        "channel": row.channel_id,
                        "message": row.in_reply_to_id,
                    },
                )
            ).one()
        channel = channel_store.describe_channel(context)
        reply = Reply(
            reply_id=row.reply_id,
            text=row.text,
            kind=context.answered_kind,
            in_reply_to=context.answered_id,
            author_external_id=context.author_id,
            author_handle=context.author_handle,
            thread_id=context.answered_thread,
            raw=context.answered_raw,
        )
        interrupted = row.was == "sending"  # a previous attempt may have posted already
        reconciled = False
        try:
            connector = connector_for(
                channel, self.credentials.get(channel.credentials_ref), self.session, self.clock
            )
            sent: Sent | None = None
            if interrupted:  # did the earlier post happen?
                finder = getattr(connector, "find_sent", None)
                if finder is not None:
                    sent = await finder(reply)
                    reconciled = True
                elif channel.platform not in SELF_DEDUPING:
                    await self._failed(
                        row,
                        channel,
                        "unknown_outcome",
                        "interrupted while sending; check the platform",
                        False,
                    )
                    return
            if sent is None:
                sent = await connector.send(reply)
        except RateLimited as exc:  # refused: nothing was posted by this attempt
            await self._retry(
                row, channel, "rate_limited", exc.retry_at, uncertain=interrupted and not reconciled
            )
            return
        except Unavailable as exc:
            unknown = exc.maybe_sent or (interrupted and not reconciled)
            await self._retry(row, channel, "unreachable", None, uncertain=unknown)
            return
        except AuthExpired as exc:
            detail = self.credentials.redact(channel.credentials_ref, exc.detail)
            await self._failed(row, channel, "auth_expired", detail, True)
            return
        except Rejected as exc:
            detail = self.credentials.redact(channel.credentials_ref, exc.detail)
            await self._failed(row, channel, exc.reason, detail, False)
            return
        await self._delivered(row, channel, context, reply, sent)

    async def _delivered(
        self, row: Any, channel: Channel, context: Any, reply: Reply, sent: Sent
    ) -> None:
        outbound = Incoming(
            platform=channel.platform,
            channel=channel.key,
            external_id=sent.platform_message_id,
            kind="dm" if reply.kind == "dm" else "reply",
            direction="out",
            author_external_id=channel.account_id,
            author_handle="",
            author_display_name="",
            text=reply.text,
            created_at=sent.created_at,
            in_reply_to=reply.in_reply_to,
            thread_id=reply.thread_id,
        )
        event = events_pb2.ReplyDelivered(
            workspace_id=str(row.workspace_id),
            reply_id=str(row.reply_id),
            conversation_id=row.conversation_id,
            platform_message_id=sent.platform_message_id,
            delivered_at=_ts(sent.created_at),
        )
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE inbox.deliveries SET state = 'delivered', platform_message_id = :pid, "
                    "updated_at = now() WHERE workspace_id = :ws AND reply_id = :reply"
                ),
                {"pid": sent.platform_message_id, "ws": row.workspace_id, "reply": row.reply_id},
            )
            await store_batch(conn, row.workspace_id, [outbound], self.clock())
            await publish(conn, "reply.delivered", [row.workspace_id], [event.SerializeToString()])
        if self.metrics is not None:
            self.metrics.deliveries.labels(channel.platform).inc()

    async def _retry(
        self, row: Any, channel: Channel, reason: str, retry_at: datetime | None, *, uncertain: bool
    ) -> None:
        """Try again later. An attempt whose outcome is unknown stays ``sending``, so the
        next claim reconciles with the platform before it sends again."""
        if row.attempts >= MAX_ATTEMPTS:
            await self._failed(row, channel, reason, "gave up after retries", True)
            return
        now = self.clock()
        backoff = timedelta(seconds=min(600.0, 5 * 2**row.attempts) * (0.5 + random.random()))
        when = retry_at if retry_at is not None and retry_at > now else now + backoff
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE inbox.deliveries SET state = :state, next_attempt_at = :when, "
                    "failure_reason = :reason, updated_at = now() "
                    "WHERE workspace_id = :ws AND reply_id = :reply"
                ),
                {
                    "state": "sending" if uncertain else "queued",
                    "when": when,
                    "reason": reason,
                    "ws": row.workspace_id,
                    "reply": row.reply_id,
                },
            )
        if self.metrics is not None:
            self.metrics.delivery_failures.labels(channel.platform, reason).inc()

    async def _failed(
        self, row: Any, channel: Channel, reason: str, detail: str, retryable: bool
    ) -> None:
        event = events_pb2.ReplyFailed(
            workspace_id=str(row.workspace_id),
            reply_id=str(row.reply_id),
            conversation_id=row.conversation_id,
            reason=reason,
            detail=detail[:500],
            retryable=retryable,
            failed_at=_ts(self.clock()),
        )
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE inbox.deliveries SET state = 'failed', failure_reason = :reason, "
                    "failure_detail = :detail, updated_at = now() "
                    "WHERE workspace_id = :ws AND reply_id = :reply"
                ),
                {
                    "reason": reason,
                    "detail": detail[:500],
                    "ws": row.workspace_id,
                    "reply": row.reply_id,
                },
            )
            await publish(conn, "reply.failed", [row.workspace_id], [event.SerializeToString()])
        if self.metrics is not None:
            self.metrics.delivery_failures.labels(channel.platform, reason).inc()
        log.warning(
            "reply not delivered",
            extra={
                "workspace_id": str(row.workspace_id),
                "platform": channel.platform,
                "reason": reason,
            },
        )

    async def run(self, stop: asyncio.Event, idle_seconds: float = 1.0) -> None:
        async def step() -> float:
            return 0.0 if await self.deliver_due() else idle_seconds

        await run_worker("delivery", step, stop, first_backoff=idle_seconds)


def inbox_consumer(
    engine: AsyncEngine, database_url: str, metrics: InboxMetrics | None = None
) -> Consumer:
    """The inbox's one consumer: reply requests, erasure requests and retention purges, in
    the order triage published them."""

    async def handle(conn: AsyncConnection, events: list[Event]) -> None:
        await record_requests(conn, events)
        await apply_privacy(conn, events, None if metrics is None else metrics.count_erased)

    return Consumer(engine, database_url, CONSUMER, handle)


def delivery_tasks(
    engine: AsyncEngine,
    database_url: str,
    credentials: CredentialStore,
    session: aiohttp.ClientSession,
    metrics: InboxMetrics,
    stop: asyncio.Event,
) -> list[asyncio.Task[None]]:
    """The inbox's consumer (reply requests, erasures, retention purges) and the delivery
    loop, as tasks of the inbox process."""
    consumer = inbox_consumer(engine, database_url, metrics)
    deliverer = Deliverer(engine, credentials, session, metrics)
    return [asyncio.create_task(consumer.run(stop)), asyncio.create_task(deliverer.run(stop))]
