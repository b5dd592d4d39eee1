"""What the platform says became of a sent reply (WhatsApp's ``statuses``): the furthest
status is kept on the delivery, whatever order they arrive in, and a status about a reply
whose send answer was lost gives the delivery loop the platform's message id to reconcile."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from services.inbox.domain.whatsapp import Status, later_status
from services.inbox.webhooks import store


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
    return applied
