"""SQL of reply deliveries: a request queued once, due rows claimed, each outcome recorded."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.worker import workspace_after

_QUEUE = text(
    """
    INSERT INTO inbox.deliveries (workspace_id, reply_id, conversation_id, channel_id,
                                  in_reply_to_id, agent_id, text, requested_at, template,
                                  private)
    SELECT CAST(:ws AS uuid), :reply, :conversation, m.channel_id, m.id, :agent, :text,
           :requested, CAST(:template AS jsonb), :private
    FROM inbox.messages AS m
    WHERE m.workspace_id = CAST(:ws AS uuid) AND m.id = :message
      AND m.erased_at IS NULL
    ON CONFLICT (workspace_id, reply_id) DO NOTHING
    """
)
# Claims name one workspace (``Rotation``): the workspaces with due replies take turns.
_NEXT_WORKSPACE = text(
    """
    SELECT workspace_id FROM inbox.deliveries
    WHERE state IN ('queued', 'sending') AND next_attempt_at <= :now AND workspace_id > :after
    ORDER BY workspace_id LIMIT 1
    """
)
_CLAIM = text(
    """
    WITH due AS (
        SELECT workspace_id, reply_id, state AS was FROM inbox.deliveries
        WHERE workspace_id = :ws AND state IN ('queued', 'sending') AND next_attempt_at <= :now
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
_DELIVERED = text(
    "UPDATE inbox.deliveries SET state = 'delivered', platform_message_id = :pid, "
    "updated_at = now() WHERE workspace_id = :ws AND reply_id = :reply"
)
_RETRY = text(
    "UPDATE inbox.deliveries SET state = :state, next_attempt_at = :when, "
    "failure_reason = :reason, updated_at = now() "
    "WHERE workspace_id = :ws AND reply_id = :reply"
)
_FAILED = text(
    "UPDATE inbox.deliveries SET state = 'failed', failure_reason = :reason, "
    "failure_detail = :detail, updated_at = now() "
    "WHERE workspace_id = :ws AND reply_id = :reply"
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


async def queue(
    conn: AsyncConnection,
    workspace_id: str,
    reply_id: uuid.UUID,
    *,
    conversation_id: int,
    agent_id: str,
    reply_text: str,
    in_reply_to_message_id: int,
    requested_at: datetime,
    template: dict[str, str] | None = None,
    private: bool = False,
) -> None:
    """A queued delivery for a reply, once (none if the answered message was erased);
    ``template``: the WhatsApp message template to send instead of free text; ``private``:
    Meta's private reply to the comment instead of a public one."""
    await conn.execute(
        _QUEUE,
        {
            "ws": workspace_id,
            "reply": reply_id,
            "conversation": conversation_id,
            "agent": agent_id,
            "text": reply_text,
            "message": in_reply_to_message_id,
            "requested": requested_at,
            "template": json.dumps(template) if template else None,
            "private": private,
        },
    )


async def next_workspace_due(
    conn: AsyncConnection, now: datetime, after: uuid.UUID
) -> uuid.UUID | None:
    """The first workspace above ``after`` with a reply due (a read: it locks nothing)."""
    return await workspace_after(conn, _NEXT_WORKSPACE, {"now": now, "after": after})


async def claim_due(
    conn: AsyncConnection, workspace_id: uuid.UUID, now: datetime, limit: int, lease_seconds: float
) -> list[Any]:
    """The workspace's due deliveries, marked ``sending`` with one more attempt; ``was`` is
    their old state."""
    claim = {"ws": workspace_id, "now": now, "limit": limit, "lease": lease_seconds}
    return list((await conn.execute(_CLAIM, claim)).all())


async def context_of(
    conn: AsyncConnection, workspace_id: uuid.UUID, channel_id: int, message_id: int
) -> Any:
    """The channel a delivery goes through, with the answered message and its author."""
    return (
        await conn.execute(
            _CONTEXT, {"ws": workspace_id, "channel": channel_id, "message": message_id}
        )
    ).one()


async def mark_delivered(
    conn: AsyncConnection, workspace_id: uuid.UUID, reply_id: uuid.UUID, platform_message_id: str
) -> None:
    """In the transaction that also stores the reply as an outbound message."""
    params = {"pid": platform_message_id, "ws": workspace_id, "reply": reply_id}
    await conn.execute(_DELIVERED, params)


async def schedule_retry(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    reply_id: uuid.UUID,
    *,
    state: str,
    when: datetime,
    reason: str,
) -> None:
    """Try again at ``when``; state ``sending`` marks an attempt of unknown outcome, which the
    next claim reconciles before sending again."""
    params = {"state": state, "when": when, "reason": reason, "ws": workspace_id, "reply": reply_id}
    await conn.execute(_RETRY, params)


async def mark_failed(
    conn: AsyncConnection, workspace_id: uuid.UUID, reply_id: uuid.UUID, reason: str, detail: str
) -> None:
    """Given up for good: ``reason`` is a bounded code, ``detail`` already redacted."""
    params = {"reason": reason, "detail": detail, "ws": workspace_id, "reply": reply_id}
    await conn.execute(_FAILED, params)


# Moderation on the platform: the same shape as deliveries, one row per action_id. -----------

_QUEUE_MODERATION = text(
    """
    INSERT INTO inbox.moderations (workspace_id, action_id, conversation_id, message_id,
                                   channel_id, action, requested_at)
    SELECT CAST(:ws AS uuid), :action_id, :conversation, m.id, m.channel_id, :action,
           :requested
    FROM inbox.messages AS m
    WHERE m.workspace_id = CAST(:ws AS uuid) AND m.id = :message AND m.erased_at IS NULL
    ON CONFLICT (workspace_id, action_id) DO NOTHING
    RETURNING action_id
    """
)
_KNOWN_MODERATION = text(
    "SELECT 1 FROM inbox.moderations WHERE workspace_id = CAST(:ws AS uuid) "
    "AND action_id = :action_id"
)
_NEXT_WORKSPACE_MODERATING = text(
    """
    SELECT workspace_id FROM inbox.moderations
    WHERE state IN ('queued', 'sending') AND next_attempt_at <= :now AND workspace_id > :after
    ORDER BY workspace_id LIMIT 1
    """
)
_CLAIM_MODERATIONS = text(
    """
    WITH due AS (
        SELECT workspace_id, action_id, state AS was FROM inbox.moderations
        WHERE workspace_id = :ws AND state IN ('queued', 'sending') AND next_attempt_at <= :now
        ORDER BY next_attempt_at LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE inbox.moderations AS d
    SET state = 'sending', attempts = d.attempts + 1,
        next_attempt_at = CAST(:now AS timestamptz) + make_interval(secs => :lease),
        updated_at = now()
    FROM due WHERE d.workspace_id = due.workspace_id AND d.action_id = due.action_id
    RETURNING d.*, due.was
    """
)
_MODERATION_CONTEXT = text(
    """
    SELECT c.*, m.external_id AS comment_id, m.kind AS comment_kind,
           m.direction AS comment_direction
    FROM inbox.channels AS c
    JOIN inbox.messages AS m ON m.workspace_id = c.workspace_id AND m.id = :message
    WHERE c.workspace_id = :ws AND c.id = :channel
    """
)
_SETTLE_MODERATION = text(
    "UPDATE inbox.moderations SET state = :state, failure_reason = :reason, "
    "failure_detail = :detail, updated_at = now() "
    "WHERE workspace_id = :ws AND action_id = :action_id"
)
_RETRY_MODERATION = text(
    "UPDATE inbox.moderations SET state = 'queued', next_attempt_at = :when, "
    "failure_reason = :reason, updated_at = now() "
    "WHERE workspace_id = :ws AND action_id = :action_id"
)


async def queue_moderation(
    conn: AsyncConnection,
    workspace_id: str,
    action_id: uuid.UUID,
    *,
    conversation_id: int,
    message_id: int,
    action: str,
    requested_at: datetime,
) -> str:
    """``queued`` (a new row), ``known`` (this action_id was queued before) or ``missing``
    (no such message in the workspace, or it was erased)."""
    params = {
        "ws": workspace_id,
        "action_id": action_id,
        "conversation": conversation_id,
        "message": message_id,
        "action": action,
        "requested": requested_at,
    }
    if (await conn.execute(_QUEUE_MODERATION, params)).first() is not None:
        return "queued"
    known = await conn.execute(_KNOWN_MODERATION, {"ws": workspace_id, "action_id": action_id})
    return "known" if known.first() is not None else "missing"


async def next_workspace_moderating(
    conn: AsyncConnection, now: datetime, after: uuid.UUID
) -> uuid.UUID | None:
    """The first workspace above ``after`` with a moderation due (a read: it locks nothing)."""
    return await workspace_after(conn, _NEXT_WORKSPACE_MODERATING, {"now": now, "after": after})


async def claim_moderations(
    conn: AsyncConnection, workspace_id: uuid.UUID, now: datetime, limit: int, lease_seconds: float
) -> list[Any]:
    """The workspace's due moderations, marked ``sending`` with one more attempt; ``was`` is
    their old state."""
    params = {"ws": workspace_id, "now": now, "limit": limit, "lease": lease_seconds}
    return list((await conn.execute(_CLAIM_MODERATIONS, params)).all())


async def moderation_context(
    conn: AsyncConnection, workspace_id: uuid.UUID, channel_id: int, message_id: int
) -> Any:
    """The channel a moderation goes through, with the comment's platform id and kind."""
    params = {"ws": workspace_id, "channel": channel_id, "message": message_id}
    return (await conn.execute(_MODERATION_CONTEXT, params)).one()


async def settle_moderation(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    action_id: uuid.UUID,
    *,
    done: bool,
    reason: str | None = None,
    detail: str | None = None,
) -> None:
    """Done, or failed for good (``reason`` bounded, ``detail`` already redacted)."""
    params = {
        "state": "done" if done else "failed",
        "reason": reason,
        "detail": detail,
        "ws": workspace_id,
        "action_id": action_id,
    }
    await conn.execute(_SETTLE_MODERATION, params)


async def retry_moderation(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    action_id: uuid.UUID,
    when: datetime,
    reason: str,
) -> None:
    """Try again at ``when``: every moderation action is repeatable, so even an attempt
    whose answer was lost is simply made again."""
    params = {"when": when, "reason": reason, "ws": workspace_id, "action_id": action_id}
    await conn.execute(_RETRY_MODERATION, params)
