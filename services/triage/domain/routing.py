"""Routing decisions: who is on, who may take a conversation, who gets it, who may hand it.

Pure functions of plain data with ``now`` passed in; the routing worker and the assign
route load the data, call these, and write what they return.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

PRESENCES = ("available", "away", "offline")
HOW = ("auto", "lead", "handover")
"""How a conversation reached its holder: the worker, a lead's choice, an agent's handover."""


@dataclass(frozen=True, slots=True)
class Agent:
    """A user as routing sees them. ``languages`` and ``channels`` empty: all of them."""

    user_id: uuid.UUID
    presence: str
    open_claims: int
    capacity: int
    languages: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    last_assigned_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Waiting:
    """An unassigned conversation in the queue's order, with what skills match on."""

    conversation_id: int
    channel: str
    language: str | None = None


def effective_presence(
    stored: str | None, last_active: datetime | None, now: datetime, idle: timedelta
) -> str:
    """What the team sees: the state the user set, unless they have been idle longer than
    ``idle`` (no desk request, no presence update): then offline, whatever they set."""
    if stored is None or last_active is None or now - last_active > idle:
        return "offline"
    return stored


def speaks(agent: Agent, conversation: Waiting) -> bool:
    """Whether the agent's skills cover the conversation (an unknown language: anyone)."""
    language = conversation.language
    language_ok = not agent.languages or language is None or language in agent.languages
    return language_ok and (not agent.channels or conversation.channel in agent.channels)


def has_room(agent: Agent) -> bool:
    """Available and below their maximum of open claims."""
    return agent.presence == "available" and agent.open_claims < agent.capacity


def can_take(agent: Agent, conversation: Waiting) -> bool:
    return has_room(agent) and speaks(agent, conversation)


def _fairness(agent: Agent) -> tuple[bool, datetime, str]:
    """Least recently assigned first; never assigned before anyone; the id breaks ties."""
    last = agent.last_assigned_at
    return (last is not None, last or datetime.min, str(agent.user_id))


def choose(agents: Sequence[Agent], conversation: Waiting) -> Agent | None:
    """The agent who gets ``conversation``, or None when nobody available can take it."""
    eligible = [a for a in agents if can_take(a, conversation)]
    return min(eligible, key=_fairness) if eligible else None


@dataclass(frozen=True, slots=True)
class Planned:
    """One assignment of a round: the conversation, its agent, and the instant it counts
    as made (the agent's new "last assigned")."""

    conversation: Waiting
    user_id: uuid.UUID
    at: datetime


def plan(agents: Sequence[Agent], waiting: Sequence[Waiting], now: datetime) -> list[Planned]:
    """Assignments for ``waiting`` (most urgent first), each to one agent, fairly.

    Within one round every assignment is stamped a microsecond after the previous one, so
    the order "least recently assigned" stays exact among assignments made at ``now``.
    """
    team = {a.user_id: a for a in agents}
    made: list[Planned] = []
    for conversation in waiting:
        agent = choose(list(team.values()), conversation)
        if agent is None:
            continue
        stamp = now + timedelta(microseconds=len(made))
        team[agent.user_id] = replace(
            agent, open_claims=agent.open_claims + 1, last_assigned_at=stamp
        )
        made.append(Planned(conversation, agent.user_id, stamp))
    return made


def assign_refusal(
    caller_role: str,
    caller_id: uuid.UUID,
    holder: uuid.UUID | None,
    status: str,
    assignee_active: bool,
) -> tuple[int, str] | None:
    """Why a hand assignment is refused (HTTP status, reason), or None when it may go on.

    A lead or admin assigns any conversation; an agent hands over only one they hold.
    """
    if caller_role not in ("lead", "admin") and holder != caller_id:
        return 403, "Agents hand over only conversations they hold."
    if status == "resolved":
        return 409, "The conversation is resolved: reopen it first."
    if not assignee_active:
        return 422, "That user is deactivated."
    return None


def how_assigned(caller_id: uuid.UUID, holder: uuid.UUID | None) -> str:
    """'handover' when the holder passes it on, else 'lead' (a lead or admin's choice)."""
    return "handover" if holder == caller_id else "lead"
