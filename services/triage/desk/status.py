"""Status changes an agent makes (resolve, reopen, wait on the customer) and their clocks."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage import news as changes
from services.triage.desk.store import lock_conversations, save_conversations
from services.triage.domain import clock_rules
from services.triage.domain.clock_rules import Change
from services.triage.sla.clocks import OnStop, load_policies, lock_running
from services.triage.sla.clocks import save as save_clocks

# action -> (statuses it may start from, status it leads to)
ACTIONS = {
    "resolve": (("open", "waiting"), "resolved"),
    "reopen": (("resolved",), "open"),
    "wait": (("open",), "waiting"),
}


class ActionRefused(Exception):
    """The conversation is not in a state where this action makes sense."""


async def conversation_exists(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int
) -> bool:
    row = (
        await conn.execute(
            text("SELECT 1 FROM triage.conversations WHERE workspace_id = :ws AND id = :id"),
            {"ws": workspace_id, "id": conversation_id},
        )
    ).first()
    return row is not None


async def change_status(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    conversation_id: int,
    action: str,
    now: datetime,
    on_stop: OnStop | None = None,
) -> str:
    """Apply ``action`` in the caller's transaction; returns the new status."""
    allowed_from, target = ACTIONS[action]
    key = (workspace_id, conversation_id)
    row = (
        await conn.execute(
            text(
                "SELECT platform, channel, kind FROM triage.conversations "
                "WHERE workspace_id = :ws AND id = :id"
            ),
            {"ws": workspace_id, "id": conversation_id},
        )
    ).one()
    states = await lock_conversations(
        conn, [(workspace_id, conversation_id, row.platform, row.channel, row.kind)]
    )
    before = states[key]
    if before.status not in allowed_from:
        raise ActionRefused(f"cannot {action} a conversation that is {before.status}")
    after = replace(before, status=target)
    if action == "resolve":
        after = replace(after, needs_answer=False, waiting_since=None)
    policies = await load_policies(conn, [workspace_id])
    stored = await lock_running(conn, [key])
    clocks = {kind: s.clock for kind, s in stored[key].items()}
    clocks = clock_rules.apply(clocks, before, after, Change(action, now), policies[workspace_id])
    await save_conversations(conn, {key: after})
    await save_clocks(conn, stored, {key: clocks}, policies, now, on_stop)
    await changes.record(conn, [key], "status")
    return target
