"""The desk's use cases: status changes an agent makes (resolve, reopen, wait on the
customer) with their clocks; a reply an agent sends."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.access.accounts import Caller
from services.triage.desk import store as desk
from services.triage.domain import clock_rules
from services.triage.domain.clock_rules import Change
from services.triage.news import store as changes
from services.triage.sla.clocks import OnStop
from services.triage.sla.clocks import save as save_clocks
from services.triage.sla.store import load_policies, lock_running

# action -> (statuses it may start from, status it leads to)
ACTIONS = {
    "resolve": (("open", "waiting"), "resolved"),
    "reopen": (("resolved",), "open"),
    "wait": (("open",), "waiting"),
}


class ActionRefused(Exception):
    """The conversation is not in a state where this action makes sense, or another agent
    holds it."""


class NoSuchConversation(LookupError):
    """No conversation with that id in the caller's workspace."""


async def change_status_as(
    conn: AsyncConnection,
    caller: Caller,
    conversation_id: int,
    action: str,
    now: datetime,
    on_stop: OnStop | None = None,
) -> str:
    """An agent's status action: refused while another agent holds the conversation (leads
    and admins may act on any)."""
    if not await desk.conversation_exists(conn, caller.workspace_id, conversation_id):
        raise NoSuchConversation(conversation_id)
    found = await desk.holder(conn, caller.workspace_id, conversation_id, now)
    held_by = found[1] if found else None
    if held_by not in (None, caller.user_id) and caller.role == "agent":
        raise ActionRefused("Another agent holds this conversation.")
    return await change_status(conn, caller.workspace_id, conversation_id, action, now, on_stop)


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
    states = await desk.lock_conversations(
        conn, [await desk.conversation_key(conn, workspace_id, conversation_id)]
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
    await desk.save_conversations(conn, {key: after})
    await save_clocks(conn, stored, {key: clocks}, policies, now, on_stop)
    await changes.record(conn, [key], "status")
    return target
