"""Moderation on the platform: a lead's hide / unhide / delete of a customer's comment.

The same path as a reply (``deliverer.py``): a ``moderation.requested`` event becomes one
queued row per ``action_id`` (the idempotency key, so a redelivered event acts once); the loop
claims due rows, calls the channel's connector outside any transaction, and reports
``moderation.settled`` (done, or failed with a bounded reason) in the transaction that records
the outcome. Unlike a reply, every action is repeatable (hiding a hidden comment changes
nothing), so an attempt whose answer was lost is made again rather than failed; a delete that
finds the comment gone is done. A refused token marks the channel ``needs_reauth``.
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
    Moderates,
    Moderation,
    RateLimited,
    Rejected,
    Unavailable,
    failure_reason,
    log_unforeseen,
)
from services.inbox.connectors.registry import connector_for
from services.inbox.delivery import store
from services.inbox.delivery.loop import PlatformLoop
from services.inbox.domain.polling import next_attempt
from services.infra.db import is_unavailable
from services.infra.events import Event, publish, read_payload, timestamp
from services.infra.platforms import MODERATED_KINDS

log = logging.getLogger("ecoute.inbox.moderation")

REQUESTED = "moderation.requested"
SETTLED = "moderation.settled"
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)


async def record_moderation_requests(conn: AsyncConnection, events: list[Event]) -> None:
    """Consumer handler: each moderation.requested becomes a queued row, once; a request for
    a message the inbox no longer has (erased) is settled as failed at once."""
    for event in events:
        if event.topic != REQUESTED:
            continue
        request = read_payload(event, events_pb2.ModerationRequested)
        queued = await store.queue_moderation(
            conn,
            request.workspace_id,
            uuid.UUID(request.action_id),
            conversation_id=request.conversation_id,
            message_id=request.message_id,
            action=request.action,
            requested_at=request.requested_at.ToDatetime(UTC),
        )
        if queued == "missing":
            settled = _settled(request, False, "message_erased", "The message was erased.")
            settled.settled_at.CopyFrom(timestamp(datetime.now(UTC)))
            await publish(conn, SETTLED, [event.workspace_id], [settled.SerializeToString()])


def _settled(
    row: Any, done: bool, reason: str = "", detail: str = ""
) -> events_pb2.ModerationSettled:
    """The outcome event of a moderation row (or of its request)."""
    return events_pb2.ModerationSettled(
        workspace_id=str(row.workspace_id),
        action_id=str(row.action_id),
        conversation_id=row.conversation_id,
        message_id=row.message_id,
        action=row.action,
        done=done,
        reason=reason,
        detail=detail[:500],
    )


class Moderator(PlatformLoop):
    """The moderation loop: due rows claimed like deliveries, each carried out once."""

    worker = "moderation"

    async def moderate_due(self) -> int:
        return await self.work_due()

    async def next_workspace(
        self, conn: AsyncConnection, now: datetime, after: uuid.UUID
    ) -> uuid.UUID | None:
        return await store.next_workspace_moderating(conn, now, after)

    async def claim(
        self, conn: AsyncConnection, workspace_id: uuid.UUID, now: datetime
    ) -> list[Any]:
        return await store.claim_moderations(
            conn, workspace_id, now, self.batch, LEASE.total_seconds()
        )

    async def handle(self, row: Any) -> None:
        async with self.engine.connect() as conn:
            context = await store.moderation_context(
                conn, row.workspace_id, row.channel_id, row.message_id
            )
        channel = channel_store.describe_channel(context)
        request = Moderation(row.action_id, row.action, context.comment_id, context.comment_kind)
        connector: Connector | None = None
        try:
            connector = connector_for(
                channel, self.credentials.for_channel(channel), self.session, self.clock
            )
            if (
                not isinstance(connector, Moderates)
                or context.comment_direction != "in"
                or context.comment_kind not in MODERATED_KINDS
            ):
                raise Rejected("unsupported", f"{channel.platform} cannot {row.action} this")
            await connector.moderate(request)
        except RateLimited as exc:
            await self._retry(row, channel, "rate_limited", exc.retry_at)
        except Unavailable:
            await self._retry(row, channel, "unreachable", None)
        except AuthExpired as exc:
            await self._auth_expired(row, channel, self.credentials.redact(channel, exc.detail))
        except Rejected as exc:
            if exc.reason == "not_found" and row.action == "delete":
                await self._settle(row, channel, True)  # gone already: what was asked
            else:
                detail = self.credentials.redact(channel, exc.detail)
                await self._settle(row, channel, False, exc.reason, detail)
        except Exception as exc:  # an answer of an unexpected shape, a connector's bug
            if is_unavailable(exc):
                raise
            reason = failure_reason(exc)
            log_unforeseen(exc, "moderation", channel, reason)
            await self._retry(row, channel, reason, None)
        else:
            await self._settle(row, channel, True)
        finally:
            await record_spending(self.engine, channel, connector)

    async def _auth_expired(self, row: Any, channel: Channel, detail: str) -> None:
        """The token is refused: the channel needs re-authorisation, the action fails."""
        async with self.engine.begin() as conn:
            await channel_store.needs_reauthorisation(conn, channel, "credentials refused")
        await self._settle(row, channel, False, "auth_expired", detail)

    async def _settle(
        self, row: Any, channel: Channel, done: bool, reason: str = "", detail: str = ""
    ) -> None:
        event = _settled(row, done, reason, detail)
        event.settled_at.CopyFrom(timestamp(self.clock()))
        async with self.engine.begin() as conn:
            await store.settle_moderation(
                conn,
                row.workspace_id,
                row.action_id,
                done=done,
                reason=reason or None,
                detail=detail[:500] or None,
            )
            await publish(conn, SETTLED, [row.workspace_id], [event.SerializeToString()])
        self._count(channel, row.action, "done" if done else "failed")
        if not done:
            log.warning(
                "moderation failed",
                extra={
                    "workspace_id": str(row.workspace_id),
                    "platform": channel.platform,
                    "reason": reason,
                },
            )

    async def _retry(
        self, row: Any, channel: Channel, reason: str, retry_at: datetime | None
    ) -> None:
        """Try again later (at the platform's reset when it named one), or give up."""
        if row.attempts >= MAX_ATTEMPTS:
            await self._settle(row, channel, False, reason, "gave up after retries")
            return
        when = next_attempt(self.clock(), row.attempts, retry_at, random.random())
        async with self.engine.begin() as conn:
            await store.retry_moderation(conn, row.workspace_id, row.action_id, when, reason)
        self._count(channel, row.action, "retried")

    def _count(self, channel: Channel, action: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.moderations.labels(channel.platform, action, outcome).inc()
