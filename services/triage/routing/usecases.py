"""Routing's use cases: presence, skills, the workspace's switch, a round of automatic
assignment, and assignment by hand. Each runs in the caller's transaction; the decisions are
in ``domain.routing``, the SQL in ``routing.store`` (the claim itself in ``desk.store``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.access.accounts import Caller, NoSuchUser
from services.triage.access.store import audit, audit_many, member
from services.triage.desk import store as desk
from services.triage.domain.routing import (
    Agent,
    Waiting,
    assign_refusal,
    effective_presence,
    has_room,
    how_assigned,
    plan,
)
from services.triage.news import store as changes
from services.triage.routing import store


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """From the settings: when an idle user reads as offline, the default maximum of open
    claims per agent, and how many conversations one round assigns at most."""

    idle: timedelta = timedelta(minutes=15)
    max_open_claims: int = 5
    batch_size: int = 100


@dataclass(frozen=True, slots=True)
class Assignment:
    """A conversation given to an agent: how (auto, lead, handover) and how long it had
    waited since the person wrote (None when it was not waiting)."""

    conversation_id: int
    user_id: uuid.UUID
    how: str
    waited_seconds: float | None


class NoSuchConversation(LookupError):
    """No conversation with that id in the caller's workspace."""


class AssignRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _waited(waiting_since: datetime | None, now: datetime) -> float | None:
    return None if waiting_since is None else max(0.0, (now - waiting_since).total_seconds())


# Settings, presence, skills ---------------------------------------------------------------


async def routing_settings(
    conn: AsyncConnection, workspace_id: uuid.UUID, config: RoutingConfig
) -> dict[str, Any]:
    row = await store.settings(conn, workspace_id)
    return {
        "auto_assign": bool(row and row.auto_assign),
        "max_open_claims": row.max_open_claims if row else None,
        "default_max_open_claims": config.max_open_claims,
    }


async def save_routing_settings(
    conn: AsyncConnection,
    caller: Caller,
    auto_assign: bool,
    max_open_claims: int | None,
    config: RoutingConfig,
) -> dict[str, Any]:
    await store.save_settings(
        conn, caller.workspace_id, auto_assign, max_open_claims, caller.user_id
    )
    detail: dict[str, object] = {"auto_assign": auto_assign, "max_open_claims": max_open_claims}
    await audit(conn, caller.workspace_id, caller.user_id, "routing_settings", None, detail)
    return await routing_settings(conn, caller.workspace_id, config)


async def set_presence(conn: AsyncConnection, caller: Caller, state: str, now: datetime) -> None:
    await store.set_presence(conn, caller.workspace_id, caller.user_id, state, now)


async def set_skills(
    conn: AsyncConnection,
    caller: Caller,
    user_id: uuid.UUID,
    max_open_claims: int | None,
    languages: Sequence[str],
    channels: Sequence[str],
) -> None:
    """A lead sets what a teammate takes; another workspace's user is ``NoSuchUser``."""
    if await member(conn, caller.workspace_id, user_id) is None:
        raise NoSuchUser(user_id)
    await store.set_skills(conn, caller.workspace_id, user_id, max_open_claims, languages, channels)
    detail: dict[str, object] = {"user_id": str(user_id), "max_open_claims": max_open_claims}
    await audit(conn, caller.workspace_id, caller.user_id, "routing_skills", None, detail)


def _agent(row: Any, now: datetime, config: RoutingConfig, workspace_max: int | None) -> Agent:
    return Agent(
        user_id=row.user_id,
        presence=effective_presence(row.presence, row.last_active, now, config.idle),
        open_claims=int(row.open_claims),
        capacity=row.max_open_claims or workspace_max or config.max_open_claims,
        languages=frozenset(row.languages),
        channels=frozenset(row.channels),
        last_assigned_at=row.last_assigned_at,
    )


async def my_presence(
    conn: AsyncConnection, caller: Caller, now: datetime, config: RoutingConfig
) -> str:
    """The caller's presence as the team and the worker see it (never set: offline)."""
    rows = await store.team(conn, caller.workspace_id, now, user_id=caller.user_id)
    return _agent(rows[0], now, config, None).presence if rows else "offline"


async def team_presence(
    conn: AsyncConnection, workspace_id: uuid.UUID, now: datetime, config: RoutingConfig
) -> list[dict[str, Any]]:
    """Who is on, and how loaded: every active user of the workspace."""
    own = await store.settings(conn, workspace_id)
    workspace_max = own.max_open_claims if own else None
    members = []
    for row in await store.team(conn, workspace_id, now):
        agent = _agent(row, now, config, workspace_max)
        members.append(
            {
                "user_id": row.user_id,
                "display_name": row.display_name,
                "role": row.role,
                "presence": agent.presence,
                "last_active_at": row.last_active,
                "open_claims": agent.open_claims,
                "max_open_claims": agent.capacity,
                "languages": sorted(agent.languages),
                "channels": sorted(agent.channels),
                "last_assigned_at": row.last_assigned_at,
            }
        )
    return members


# Automatic assignment ---------------------------------------------------------------------


async def assign_round(
    conn: AsyncConnection, workspace_id: uuid.UUID, now: datetime, config: RoutingConfig
) -> list[Assignment]:
    """One round in one workspace: the most urgent unassigned conversations to available
    agents with room, fairly. Another worker already assigning there: nothing (it does)."""
    if not await store.lock_workspace(conn, workspace_id):
        return []
    own = await store.settings(conn, workspace_id)
    workspace_max = own.max_open_claims if own else None
    agents = [
        _agent(r, now, config, workspace_max)
        for r in await store.team(conn, workspace_id, now, routed_only=True)
    ]
    if not any(has_room(a) for a in agents):
        return []  # nobody could take one: lock no conversation for nothing
    waiting = await store.lock_waiting(conn, workspace_id, now, config.batch_size)
    since = {r.id: r.waiting_since for r in waiting}
    candidates = [Waiting(r.id, r.channel, r.language) for r in waiting]
    steps = plan(agents, candidates, now)
    pairs = [(step.conversation.conversation_id, step.user_id) for step in steps]
    claimed = await desk.claim_many(conn, workspace_id, pairs, now)
    made: list[Assignment] = []
    stamps: dict[uuid.UUID, datetime] = {}
    for step in steps:
        cid, user_id = step.conversation.conversation_id, step.user_id
        if cid in claimed:
            stamps[user_id] = step.at
            made.append(Assignment(cid, user_id, "auto", _waited(since[cid], now)))
    await audit_many(
        conn,
        [
            (
                workspace_id,
                None,
                "assigned",
                a.conversation_id,
                {"assignee": str(a.user_id), "how": "auto"},
            )
            for a in made
        ],
    )
    await store.mark_assigned(conn, workspace_id, stamps)
    await changes.record(conn, [(workspace_id, a.conversation_id) for a in made], "claim")
    return made


# Assignment by hand -----------------------------------------------------------------------


async def assign(
    conn: AsyncConnection,
    caller: Caller,
    conversation_id: int,
    user_id: uuid.UUID,
    note: str | None,
    now: datetime,
) -> tuple[Assignment, dict[str, Any]]:
    """Give a conversation to a teammate: a lead any, an agent one they hold (a handover,
    with an optional note left on the conversation). Returns it and its new holder."""
    ws = caller.workspace_id
    row = await store.lock_conversation(conn, ws, conversation_id, now)
    if row is None:
        raise NoSuchConversation(conversation_id)
    target = await member(conn, ws, user_id)
    if target is None:
        raise NoSuchUser(user_id)
    refusal = assign_refusal(
        caller.role, caller.user_id, row.holder, row.status, not target.deactivated
    )
    if refusal is not None:
        raise AssignRefused(*refusal)
    how = how_assigned(caller.user_id, row.holder)
    await desk.release(conn, ws, conversation_id, caller.user_id, any_holder=True)
    await desk.claim(conn, ws, conversation_id, user_id, now)
    detail: dict[str, object] = {"assignee": str(user_id), "how": how}
    if note:
        made = await desk.add_note(conn, ws, conversation_id, caller.user_id, note, now)
        detail["note_id"] = str(made["id"])
    await audit(conn, ws, caller.user_id, "assigned", conversation_id, detail)
    await changes.record(conn, [(ws, conversation_id)], "claim")
    holder = await store.holder_view(conn, ws, conversation_id)
    view = {
        "conversation_id": conversation_id,
        "assignee_id": holder.assignee_id,
        "assignee_name": holder.display_name,
        "claim_expires_at": holder.claim_expires_at,
        "how": how,
    }
    waited = _waited(row.waiting_since, now) if row.holder is None else None
    return Assignment(conversation_id, user_id, how, waited), view
