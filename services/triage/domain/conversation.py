"""How each new message changes what a conversation needs: a pure fold, ``now`` passed in.

The queue shows a conversation while it needs an answer. Its priority is the most urgent of
its unanswered messages, and it waits since the first of them (the person waited from when
they wrote). A brand reply answers everything written before it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, get_args

from services.triage.domain.thread import ANSWERED, Thread

RESOLVED_REASON = "says the matter is resolved"

Priority = Literal["P1", "P2", "P3", "P4"]
"""A priority as the API names it: P1 the most urgent (``priority`` 1)."""
PRIORITIES: tuple[str, ...] = get_args(Priority)
Status = Literal["open", "waiting", "resolved"]
"""Where a conversation stands: open, waiting on the customer, or resolved."""


@dataclass(frozen=True, slots=True)
class ConversationState:
    status: str = "open"  # open | waiting | resolved
    needs_answer: bool = False
    priority: int = 4
    intent: str = "other"
    abuse: bool = False
    reasons: tuple[str, ...] = ()
    waiting_since: datetime | None = None
    last_inbound_at: datetime | None = None
    last_outbound_at: datetime | None = None
    last_message_id: int | None = None


@dataclass(frozen=True, slots=True)
class MessageVerdict:
    """What triage decided about one inbound message (the parts the conversation needs)."""

    message_id: int
    created_at: datetime
    needs_answer: bool
    intent: str
    abuse: bool
    priority: int
    reasons: tuple[str, ...]


def is_repeat_contact(state: ConversationState) -> bool:
    """The person writes again while their earlier message is still unanswered."""
    return state.needs_answer and state.waiting_since is not None


def waited_seconds(state: ConversationState, now: datetime) -> float:
    """How long the oldest unanswered message has waited at ``now``."""
    if state.waiting_since is None:
        return 0.0
    return max(0.0, (now - state.waiting_since).total_seconds())


def thread_before(state: ConversationState, created_at: datetime, brand_text: str) -> Thread | None:
    """The thread a customer's message answers, when the brand wrote the last message before
    it (``brand_text``: that message, "" if unknown): "DM sent" or a booking reference then
    needs an answer, a plain thanks closes the case. None when the brand has not written, or
    the customer already wrote again since (their earlier message carried the context)."""
    brand_at = state.last_outbound_at
    if brand_at is None or brand_at > created_at:
        return None
    if state.last_inbound_at is not None and brand_at < state.last_inbound_at <= created_at:
        return None
    return Thread(ANSWERED, brand_text)


def after_inbound(state: ConversationState, verdict: MessageVerdict) -> ConversationState:
    """The conversation once a customer's message has been triaged."""
    latest = state.last_inbound_at is None or verdict.created_at >= state.last_inbound_at
    shown = replace(
        state,
        last_inbound_at=verdict.created_at if latest else state.last_inbound_at,
        last_message_id=verdict.message_id if latest else state.last_message_id,
    )
    answered_after = (
        state.last_outbound_at is not None and verdict.created_at <= state.last_outbound_at
    )
    if answered_after:
        return shown
    if verdict.needs_answer:
        waiting = is_repeat_contact(state)
        return replace(
            shown,
            status="open",
            needs_answer=True,
            priority=min(state.priority, verdict.priority) if waiting else verdict.priority,
            intent=verdict.intent
            if not waiting or verdict.priority <= state.priority
            else state.intent,
            abuse=state.abuse or verdict.abuse if waiting else verdict.abuse,
            reasons=verdict.reasons,
            waiting_since=(
                min(state.waiting_since, verdict.created_at)
                if waiting and state.waiting_since
                else verdict.created_at
            ),
        )
    if RESOLVED_REASON in verdict.reasons and latest:
        return replace(
            shown, needs_answer=False, waiting_since=None, priority=4, reasons=verdict.reasons
        )
    if not state.needs_answer:
        return replace(
            shown, intent=verdict.intent, abuse=verdict.abuse, reasons=verdict.reasons, priority=4
        )
    return shown


def after_outbound(state: ConversationState, created_at: datetime) -> ConversationState:
    """The conversation once the brand has answered on the platform."""
    if state.last_outbound_at is not None and created_at <= state.last_outbound_at:
        return state
    answered = state.waiting_since is not None and state.waiting_since <= created_at
    if not answered:
        return replace(state, last_outbound_at=created_at)
    if state.last_inbound_at is not None and state.last_inbound_at > created_at:
        # The person wrote again after this reply (seen before it): still waiting, since then.
        return replace(state, last_outbound_at=created_at, waiting_since=state.last_inbound_at)
    return replace(state, last_outbound_at=created_at, needs_answer=False, waiting_since=None)


# The longest reply or note an agent may write (characters); platforms may allow less.
MAX_REPLY = 5000
