"""What the platform says became of a sent reply (WhatsApp's ``statuses``): the furthest
status is kept on the delivery, whatever order they arrive in, and a status about a reply
whose send answer was lost gives the delivery loop the platform's message id to reconcile.

The desk hears of a delivered reply that then failed to reach the customer (``reply.failed``,
reason ``undelivered``, with the platform's error code), and of one that reached them after
all (``reply.delivered`` again: another of their devices got it)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ecoute.v1 import events_pb2
from services.inbox.domain.whatsapp import Status, later_status
from services.inbox.webhooks import store
from services.infra.events import publish, timestamp


def _reply_id(callback: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(callback) if callback else None
    except ValueError:
        return None


async def apply_statuses(
    conn: AsyncConnection, workspace_id: uuid.UUID, channel_id: int, statuses: Sequence[Status]
) -> int:
    """Record each status on the delivery it is about; returns how many were about ours."""
    applied = 0
    for status in statuses:
        found = await store.delivery_with_status(
            conn, workspace_id, channel_id, status.message_id, _reply_id(status.callback)
        )
        if found is None:
            continue
        if found.platform_message_id not in (None, status.message_id):
            continue  # a reply id reused by another send: not this delivery's message
        applied += 1
        kept = later_status(found.platform_status, status.status)
        if kept == found.platform_status:
            continue  # older news, or the same again
        await store.set_platform_status(
            conn,
            workspace_id,
            found.reply_id,
            platform_message_id=status.message_id,
            status=kept,
            at=status.at,
            error=status.error_code if kept == "failed" else None,
        )
        if found.state == "delivered":
            await _tell_the_desk(conn, workspace_id, found, status, kept)
    return applied


async def _tell_the_desk(
    conn: AsyncConnection, workspace_id: uuid.UUID, delivery: Any, status: Status, kept: str
) -> None:
    """A delivered reply the platform could not bring to the customer fails in the desk; one
    that got through after a failure is delivered again."""
    if kept == "failed":
        code = f" (error {status.error_code})" if status.error_code is not None else ""
        failed = events_pb2.ReplyFailed(
            workspace_id=str(workspace_id),
            reply_id=str(delivery.reply_id),
            conversation_id=delivery.conversation_id,
            reason="undelivered",
            detail=f"WhatsApp could not deliver the message to the customer{code}.",
            retryable=False,
            failed_at=timestamp(status.at),
        )
        await publish(conn, "reply.failed", [workspace_id], [failed.SerializeToString()])
    elif delivery.platform_status == "failed":
        again = events_pb2.ReplyDelivered(
            workspace_id=str(workspace_id),
            reply_id=str(delivery.reply_id),
            conversation_id=delivery.conversation_id,
            platform_message_id=status.message_id,
            delivered_at=timestamp(status.at),
        )
        await publish(conn, "reply.delivered", [workspace_id], [again.SerializeToString()])
