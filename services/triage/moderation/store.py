"""SQL of moderation on the platform: the actions asked for, their outcomes, and the state
each message shows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_TARGET = text(
    """
    SELECT m.id, m.conversation_id, m.kind, m.direction, m.erased_at IS NOT NULL AS erased,
           c.platform,
           (SELECT d.action FROM triage.moderations AS d
            WHERE d.workspace_id = m.workspace_id AND d.message_id = m.id AND d.state = 'done'
            ORDER BY d.requested_at DESC LIMIT 1) AS last_done
    FROM triage.messages AS m
    JOIN triage.conversations AS c
      ON c.workspace_id = m.workspace_id AND c.id = m.conversation_id
    WHERE m.workspace_id = :ws AND m.id = :message
    """
)
_INSERT = text(
    """
    INSERT INTO triage.moderations (workspace_id, id, conversation_id, message_id, action,
                                    requested_by, reason, requested_at, updated_at)
    VALUES (:ws, :id, :conversation, :message, :action, :by, :reason, :now, :now)
    """
)
_SETTLE = text(
    """
    UPDATE triage.moderations
    SET state = CASE WHEN :done THEN 'done' ELSE 'failed' END,
        failure_reason = CASE WHEN :done THEN NULL ELSE :reason END,
        failure_detail = CASE WHEN :done THEN NULL ELSE :detail END, updated_at = now()
    WHERE workspace_id = :ws AND id = :id AND state = 'requested'
    RETURNING conversation_id, message_id, action
    """
)
_LATEST = text(
    """
    SELECT DISTINCT ON (mo.message_id) mo.*,
           coalesce(u.display_name, u.email) AS requested_by_name,
           (SELECT d.action FROM triage.moderations AS d
            WHERE d.workspace_id = mo.workspace_id AND d.message_id = mo.message_id
              AND d.state = 'done'
            ORDER BY d.requested_at DESC LIMIT 1) AS last_done
    FROM triage.moderations AS mo
    LEFT JOIN triage.users AS u ON u.workspace_id = mo.workspace_id AND u.id = mo.requested_by
    WHERE mo.workspace_id = :ws AND mo.conversation_id = :id
    ORDER BY mo.message_id, mo.requested_at DESC, mo.updated_at DESC
    """
)
VISIBILITY = {None: "visible", "unhide": "visible", "hide": "hidden", "delete": "deleted"}


async def target(conn: AsyncConnection, workspace_id: uuid.UUID, message_id: int) -> Any:
    """The message to moderate, with its conversation's platform and its latest confirmed
    action; None when the workspace has no such message."""
    params = {"ws": workspace_id, "message": message_id}
    return (await conn.execute(_TARGET, params)).first()


async def insert(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    action_id: uuid.UUID,
    found: Any,
    action: str,
    requested_by: uuid.UUID | None,
    reason: str,
    now: datetime,
) -> None:
    """The action as asked for, ``requested`` until the inbox reports its outcome."""
    await conn.execute(
        _INSERT,
        {
            "ws": workspace_id,
            "id": action_id,
            "conversation": found.conversation_id,
            "message": found.id,
            "action": action,
            "by": requested_by,
            "reason": reason,
            "now": now,
        },
    )


async def settle(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    action_id: uuid.UUID,
    done: bool,
    reason: str,
    detail: str,
) -> Any:
    """Record the platform's answer once (a replayed event changes nothing: None)."""
    params = {
        "ws": workspace_id,
        "id": action_id,
        "done": done,
        "reason": reason,
        "detail": detail,
    }
    return (await conn.execute(_SETTLE, params)).first()


async def latest_by_message(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int
) -> dict[int, dict[str, Any]]:
    """Each moderated message's latest action and what the platform shows of it now."""
    rows = (await conn.execute(_LATEST, {"ws": workspace_id, "id": conversation_id})).all()
    return {
        r.message_id: {
            "action_id": r.id,
            "action": r.action,
            "state": r.state,
            "failure_reason": r.failure_reason,
            "failure_detail": r.failure_detail,
            "requested_by_name": r.requested_by_name,
            "requested_at": r.requested_at,
            "updated_at": r.updated_at,
            "visibility": VISIBILITY[r.last_done],
        }
        for r in rows
    }
