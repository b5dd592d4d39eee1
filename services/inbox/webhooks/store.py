"""SQL of the webhooks area: what a platform's status notification writes on the delivery
of a reply it is about (WhatsApp's ``statuses``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_STATUS_OF = text(
    """
    SELECT reply_id, conversation_id, state, platform_message_id, platform_status
    FROM inbox.deliveries
    WHERE workspace_id = :ws AND channel_id = :channel
      AND (platform_message_id = :pid OR reply_id = CAST(:reply AS uuid))
    ORDER BY platform_message_id = :pid DESC NULLS LAST
    LIMIT 1
    FOR UPDATE
    """
)
_SET_STATUS = text(
    """
    UPDATE inbox.deliveries
    SET platform_message_id = COALESCE(platform_message_id, :pid), platform_status = :status,
        platform_status_at = :at, platform_error = COALESCE(:error, platform_error),
        updated_at = now()
    WHERE workspace_id = :ws AND reply_id = :reply
    """
)


async def delivery_with_status(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    channel_id: int,
    platform_message_id: str,
    reply_id: uuid.UUID | None,
) -> Any:
    """The delivery a platform's status is about (by the platform's message id, or by the
    reply id the connector sent along), locked; None when it is none of ours."""
    params = {
        "ws": workspace_id,
        "channel": channel_id,
        "pid": platform_message_id,
        "reply": str(reply_id) if reply_id else None,
    }
    return (await conn.execute(_STATUS_OF, params)).first()


async def set_platform_status(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    reply_id: uuid.UUID,
    *,
    platform_message_id: str,
    status: str,
    at: datetime,
    error: int | None,
) -> None:
    """What the platform says became of the sent reply; the message id is kept once known
    (a status may be the first news of a send whose answer was lost)."""
    params = {
        "ws": workspace_id,
        "reply": reply_id,
        "pid": platform_message_id,
        "status": status,
        "at": at,
        "error": error,
    }
    await conn.execute(_SET_STATUS, params)
