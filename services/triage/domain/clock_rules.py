"""Which SLA clocks run for a conversation, as its messages and status change (pure).

- A customer's message that needs an answer starts the response clock at the time the
  person first wrote (first response if the brand never answered, next response otherwise),
  and the resolution clock; a clock paused while waiting on the customer resumes.
- A brand reply delivered to the platform stops the response clock: met or missed.
- A customer saying it is sorted cancels the response clock (nobody answered, nobody failed).
- Resolving stops the resolution clock (met or missed) and cancels response clocks; reopening
  starts a new resolution clock; waiting on the customer pauses every running clock.
- A running clock follows its conversation's priority.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.triage.domain.conversation import ConversationState
from services.triage.domain.sla import (
    RESPONSE_KINDS,
    Clock,
    Policy,
    pause,
    resume,
    retarget,
    start,
    stop,
)

Clocks = dict[str, Clock]  # running clocks by kind, plus any stopped by this change


@dataclass(frozen=True, slots=True)
class Change:
    """What happened to a conversation: a message (direction, time) or a status action."""

    kind: str  # "inbound" | "outbound" | "resolve" | "reopen" | "wait"
    at: datetime


def _running(clocks: Clocks) -> Clocks:
    return {k: c for k, c in clocks.items() if c.stopped_at is None}


def _response(clocks: Clocks) -> tuple[str, Clock] | None:
    for kind in RESPONSE_KINDS:
        clock = clocks.get(kind)
        if clock is not None and clock.stopped_at is None:
            return kind, clock
    return None


def apply(
    clocks: Clocks,
    before: ConversationState,
    after: ConversationState,
    change: Change,
    policy: Policy,
) -> Clocks:
    """The clocks after ``change``; stopped clocks stay in the result so they can be saved."""
    calendar = policy.calendar
    out = dict(_running(clocks))
    if change.kind == "inbound":
        out = {k: resume(c, calendar, change.at) for k, c in out.items()}
        if after.needs_answer and after.waiting_since is not None:
            if _response(out) is None:
                kind = "next_response" if after.last_outbound_at is not None else "first_response"
                out[kind] = start(kind, after.priority, after.waiting_since, policy)
            if "resolution" not in out:
                out["resolution"] = start("resolution", after.priority, after.waiting_since, policy)
            out = {
                k: retarget(c, after.priority, policy) if c.priority != after.priority else c
                for k, c in out.items()
            }
        elif before.needs_answer and not after.needs_answer:
            found = _response(out)
            if found is not None:
                out[found[0]] = stop(found[1], calendar, change.at, answered=False)
    elif change.kind == "outbound":
        found = _response(out)
        if found is not None and before.needs_answer and not after.needs_answer:
            out[found[0]] = stop(found[1], calendar, change.at, answered=True)
    elif change.kind == "resolve":
        for kind, clock in out.items():
            out[kind] = stop(clock, calendar, change.at, answered=kind == "resolution")
    elif change.kind == "reopen":
        if "resolution" not in out:
            out["resolution"] = start("resolution", after.priority, change.at, policy)
    elif change.kind == "wait":
        out = {k: pause(c, change.at) for k, c in out.items()}
    return out
