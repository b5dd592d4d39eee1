"""How messages change a conversation's need, priority and wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.triage.domain.conversation import (
    RESOLVED_REASON,
    ConversationState,
    MessageVerdict,
    after_inbound,
    after_outbound,
    is_repeat_contact,
    thread_before,
    waited_seconds,
)
from services.triage.domain.thread import Thread

T0 = datetime(2026, 11, 21, 9, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def verdict(
    message_id: int,
    minutes: float,
    *,
    needs: bool = True,
    priority: int = 3,
    intent: str = "problem",
    reasons: tuple[str, ...] = ("reports a problem",),
    abuse: bool = False,
) -> MessageVerdict:
    return MessageVerdict(message_id, at(minutes), needs, intent, abuse, priority, reasons)


def test_a_problem_opens_the_wait_at_the_time_the_person_wrote() -> None:
    state = after_inbound(ConversationState(), verdict(1, 0))
    assert (state.needs_answer, state.waiting_since, state.priority) == (True, at(0), 3)
    assert waited_seconds(state, at(10)) == 600


def test_a_follow_up_keeps_the_first_wait_and_the_highest_priority() -> None:
    state = after_inbound(ConversationState(), verdict(1, 0, priority=2))
    assert is_repeat_contact(state)
    state = after_inbound(state, verdict(2, 30, priority=3))
    assert (state.waiting_since, state.priority, state.last_message_id) == (at(0), 2, 2)
    state = after_inbound(state, verdict(3, 40, priority=1))
    assert state.priority == 1


def test_chatter_does_not_open_a_need_nor_close_one() -> None:
    state = after_inbound(ConversationState(), verdict(1, 0, needs=False, intent="banter"))
    assert not state.needs_answer
    state = after_inbound(state, verdict(2, 1))
    state = after_inbound(state, verdict(3, 2, needs=False, intent="banter"))
    assert state.needs_answer and state.waiting_since == at(1)


def test_saying_it_is_resolved_closes_the_need() -> None:
    state = after_inbound(ConversationState(), verdict(1, 0))
    state = after_inbound(
        state, verdict(2, 5, needs=False, intent="praise", reasons=(RESOLVED_REASON,))
    )
    assert not state.needs_answer and state.waiting_since is None


def test_a_brand_reply_answers_what_came_before_it_only() -> None:
    state = after_inbound(ConversationState(), verdict(1, 0))
    answered = after_outbound(state, at(10))
    assert not answered.needs_answer and answered.waiting_since is None
    state = after_inbound(answered, verdict(2, 20))
    assert state.needs_answer and state.waiting_since == at(20)


def test_a_late_arriving_message_older_than_the_reply_stays_answered() -> None:
    state = after_outbound(after_inbound(ConversationState(), verdict(1, 0)), at(10))
    state = after_inbound(state, verdict(2, 5))
    assert not state.needs_answer


def test_a_reply_seen_after_a_newer_message_leaves_that_message_waiting() -> None:
    state = after_inbound(ConversationState(), verdict(1, 0))
    state = after_inbound(state, verdict(2, 20))
    state = after_outbound(state, at(10))
    assert state.needs_answer and state.waiting_since == at(20)


def test_a_reply_after_the_brand_is_read_in_its_thread_and_only_then() -> None:
    asked = "Please DM us your booking reference."
    problem = after_inbound(ConversationState(), verdict(1, 0))
    answered = after_outbound(problem, at(10))
    assert thread_before(problem, at(20), "") is None  # the brand has not written
    assert thread_before(answered, at(20), asked) == Thread("answered", asked)
    assert thread_before(answered, at(5), asked) is None  # written before the brand's answer
    again = after_inbound(answered, verdict(2, 20, needs=False))
    assert thread_before(again, at(30), asked) is None  # the customer already replied to it
