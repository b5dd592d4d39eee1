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

import logging
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ecoute.v1 import events_pb2
from services.inbox.channels import store as channel_store
from services.inbox.channels.usecases import record_spending
from services.inbox.connectors.base import (
    AuthExpired,
    Channel,
    Connector,
    RateLimited,
    Reconciles,
    Rejected,
    Reply,
    Sent,
    Unavailable,
    failure_reason,
    log_unforeseen,
)
from services.inbox.connectors.registry import connector_for
from services.inbox.delivery import store
from services.inbox.delivery.loop import PlatformLoop
from services.inbox.domain.messages import Incoming
from services.inbox.domain.polling import next_attempt
from services.inbox.ingest.store import store_batch
from services.infra.db import is_unavailable
from services.infra.events import Event, publish, timestamp

log = logging.getLogger("ecoute.inbox.delivery")

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)
# Platforms whose send endpoint dedupes a resend by itself (Mastodon's Idempotency-Key).
SELF_DEDUPING = {"mastodon"}
# Platforms that report each sent message back in a status webhook carrying the reply id
# (WhatsApp's biz_opaque_callback_data): an interrupted send is found there, never resent.
CONFIRMED_BY_STATUS = {"whatsapp"}


async def record_requests(conn: AsyncConnection, events: list[Event]) -> None:
    """Consumer handler: each reply.requested becomes a queued delivery, once."""
    for event in events:
        if event.topic != "reply.requested":
            continue
        request = events_pb2.ReplyRequested.FromString(event.payload)
        await store.queue(
            conn,
            request.workspace_id,
            uuid.UUID(request.reply_id),
            conversation_id=request.conversation_id,
            agent_id=request.agent_id,
            reply_text=request.text,
            in_reply_to_message_id=request.in_reply_to_message_id,
            requested_at=request.requested_at.ToDatetime(UTC),
            template={"name": request.template.name, "language": request.template.language}
            if request.template.name
            else None,
            private=request.private,
        )


class Deliverer(PlatformLoop):
    """The delivery loop: due replies claimed, each posted at most once."""

    worker = "delivery"

    async def deliver_due(self) -> int:
        return await self.work_due()

    async def next_workspace(
        self, conn: AsyncConnection, now: datetime, after: uuid.UUID
    ) -> uuid.UUID | None:
        return await store.next_workspace_due(conn, now, after)

    async def claim(
        self, conn: AsyncConnection, workspace_id: uuid.UUID, now: datetime
    ) -> list[Any]:
        return await store.claim_due(conn, workspace_id, now, self.batch, LEASE.total_seconds())

    async def handle(self, row: Any) -> None:
        async with self.engine.connect() as conn:
            context = await store.context_of(
                conn, row.workspace_id, row.channel_id, row.in_reply_to_id
            )
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
            template=row.template,
            private=row.private,
        )
        interrupted = row.was == "sending"  # a previous attempt may have posted already
        reconciled = calling = False
        connector: Connector | None = None
        try:
            connector = connector_for(
                channel, self.credentials.for_channel(channel), self.session, self.clock
            )
            calling = True  # from here on, the platform may have acted on a request
            sent: Sent | None = None
            if interrupted and channel.platform in CONFIRMED_BY_STATUS:
                sent = self._sent_by_status(row)
                if sent is None:
                    await self._awaiting_status(row, channel)
                    return
            elif interrupted:  # did the earlier post happen?
                if isinstance(connector, Reconciles):
                    sent = await connector.find_sent(reply)
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
            detail = self.credentials.redact(channel, exc.detail)
            async with self.engine.begin() as conn:
                await channel_store.needs_reauth(conn, channel, "credentials refused")
            await self._failed(row, channel, "auth_expired", detail, True)
            return
        except Rejected as exc:
            detail = self.credentials.redact(channel, exc.detail)
            await self._failed(row, channel, exc.reason, detail, False)
            return
        except Exception as exc:  # an answer of an unexpected shape, a connector's bug
            if is_unavailable(exc):
                raise
            unknown = calling or (interrupted and not reconciled)
            await self._broken(row, channel, exc, uncertain=unknown)
            return
        finally:
            await record_spending(self.engine, channel, connector)
        await self._delivered(row, channel, context, reply, sent)

    def _sent_by_status(self, row: Any) -> Sent | None:
        """The send a status webhook reported for this reply (None: no news yet)."""
        if not row.platform_message_id:
            return None
        return Sent(row.platform_message_id, row.platform_status_at or self.clock())

    async def _awaiting_status(self, row: Any, channel: Channel) -> None:
        """An interrupted send the platform has not reported yet: wait for its status (it
        comes within seconds when the send happened); after every retry, a person checks."""
        if row.attempts >= MAX_ATTEMPTS:
            detail = "interrupted while sending and no status came; check the platform"
            await self._failed(row, channel, "unknown_outcome", detail, False)
            return
        await self._retry(row, channel, "awaiting_status", None, uncertain=True)

    async def _broken(self, row: Any, channel: Channel, exc: Exception, *, uncertain: bool) -> None:
        """An error no connector rule foresaw: retried with back-off under a bounded reason
        (never the error's text). A send that may have reached the platform (say, accepted,
        then answered in an unexpected shape) stays uncertain: it is reconciled, not resent."""
        reason = failure_reason(exc)
        log_unforeseen(exc, "delivery", channel, reason)
        await self._retry(row, channel, reason, None, uncertain=uncertain)

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
            delivered_at=timestamp(sent.created_at),
        )
        async with self.engine.begin() as conn:
            await store.mark_delivered(
                conn, row.workspace_id, row.reply_id, sent.platform_message_id
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
        when = next_attempt(self.clock(), row.attempts, retry_at, random.random())
        async with self.engine.begin() as conn:
            await store.schedule_retry(
                conn,
                row.workspace_id,
                row.reply_id,
                state="sending" if uncertain else "queued",
                when=when,
                reason=reason,
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
            failed_at=timestamp(self.clock()),
        )
        async with self.engine.begin() as conn:
            await store.mark_failed(conn, row.workspace_id, row.reply_id, reason, detail[:500])
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
