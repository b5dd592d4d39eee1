"""A workspace's rules: when a triaged message matches, what happens to its conversation.

Rules are data a lead writes (``Rule``: conditions and actions); ``evaluate`` reads them in
order against a plain view of the decided message (``Subject``) and returns the effects, each
with its rule's name as the reason an agent reads. ``apply`` folds the effects that change
the conversation itself (priority, closing, abuse) into its state; the intake writes the
others (tags, routes, webhooks, the hide request) and audits every firing.

Bounds: a rule sets any priority from P1 to P4, but never lowers a conversation triage found
to be P1 (a danger or safety report: a words rule must not bury it). Priority and route are
single-valued: the first rule in order that sets one wins, later ones do not fire for it.
Pure: no I/O, no clock (``now`` is passed in and stamps each effect).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from services.triage.domain.conversation import ConversationState
from services.triage.domain.normalise import normalise

ACTION_KINDS = ("tag", "set_priority", "route", "close", "mark_abuse", "notify")
"""Every kind of action (the ``kind`` label of the rules-fired metric: a closed set)."""
HIGHEST = 1


@dataclass(frozen=True, slots=True)
class When:
    """Conditions, all of which must hold; an empty set or None does not constrain."""

    intents: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    platforms: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    priorities: frozenset[int] = frozenset()
    abuse: bool | None = None
    words: tuple[str, ...] = ()  # any of them, whole words, case and accents ignored
    author_seen_before: bool | None = None
    in_incident: bool | None = None


@dataclass(frozen=True, slots=True)
class Action:
    kind: str  # one of ACTION_KINDS
    tag_id: int | None = None
    tag_name: str = ""  # read with the rule, for the reason
    priority: int | None = None
    language: str | None = None
    channel: str | None = None
    reason: str = ""  # why a close needs no answer
    hide: bool = False  # mark_abuse: hide the comment on platforms that allow it


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    name: str
    when: When
    then: tuple[Action, ...]
    position: int = 0
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Subject:
    """The decided message and its conversation, as rules read them."""

    text: str
    intent: str
    language: str
    platform: str
    channel: str
    priority: int  # the conversation's, once the message is applied
    abuse: bool
    author_seen_before: bool = False
    in_incident: bool = False


@dataclass(frozen=True, slots=True)
class Effect:
    rule_id: int
    rule_name: str
    action: Action
    at: datetime
    reason: str


@functools.lru_cache(maxsize=1024)
def _pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """One alternation per word list (compiled once: rules run on every message)."""
    wanted = [normalise(w) for w in words]
    alternation = "|".join(re.escape(w) for w in wanted if w)
    return re.compile(rf"(?<!\w)(?:{alternation})(?!\w)") if alternation else None


def has_any_word(text: str, words: Sequence[str]) -> bool:
    """Whether ``text`` holds one of ``words`` as a whole word (or phrase), whatever the case
    and accents: "Remboursé" matches "rembourse", "scam" does not match "scamper"."""
    return _found(normalise(text), words)


def _found(normalised: str, words: Sequence[str]) -> bool:
    pattern = _pattern(tuple(words))
    return pattern is not None and pattern.search(normalised) is not None


def matches(when: When, s: Subject, normalised: str | None = None) -> bool:
    """Whether every condition of ``when`` holds for ``s`` (``normalised``: its text in
    normalised form, when the caller has it already)."""
    checks = (
        not when.intents or s.intent in when.intents,
        not when.languages or s.language in when.languages,
        not when.platforms or s.platform in when.platforms,
        not when.channels or s.channel in when.channels,
        not when.priorities or s.priority in when.priorities,
        when.abuse is None or s.abuse == when.abuse,
        when.author_seen_before is None or s.author_seen_before == when.author_seen_before,
        when.in_incident is None or s.in_incident == when.in_incident,
    )
    if not all(checks):
        return False
    if not when.words:
        return True
    return _found(normalise(s.text) if normalised is None else normalised, when.words)


def describe(action: Action) -> str:
    """What an action did, in an agent's words."""
    if action.kind == "tag":
        return f"tagged “{action.tag_name}”" if action.tag_name else "tagged"
    if action.kind == "set_priority":
        return f"priority P{action.priority}"
    if action.kind == "route":
        return "routed to " + " and ".join(
            part
            for part in (
                f"{action.language} speakers" if action.language else "",
                f"channel {action.channel}" if action.channel else "",
            )
            if part
        )
    if action.kind == "close":
        return "closed as no answer" + (f" ({action.reason})" if action.reason else "")
    if action.kind == "mark_abuse":
        return "marked abusive" + (", hide requested" if action.hide else "")
    return "webhook notified"


def _allowed(action: Action, s: Subject) -> bool:
    """The priority bound: P1 found by triage is never lowered by a rule."""
    if action.kind == "set_priority":
        return not (s.priority == HIGHEST and (action.priority or HIGHEST) > HIGHEST)
    return True


def evaluate(rules: Sequence[Rule], s: Subject, now: datetime) -> list[Effect]:
    """The effects of the enabled rules matching ``s``, in rule order (position, then id);
    a single-valued kind fires once (the first rule wins), a tag once per tag."""
    effects: list[Effect] = []
    done: set[tuple[str, int | None]] = set()
    # The text is normalised once for every rule (it costs ~10 µs a tweet, the match ~1).
    normalised = normalise(s.text) if any(r.when.words for r in rules) else ""
    for rule in sorted(rules, key=lambda r: (r.position, r.id)):
        if not rule.enabled or not matches(rule.when, s, normalised):
            continue
        for action in rule.then:
            once = (action.kind, action.tag_id if action.kind == "tag" else None)
            if once in done or not _allowed(action, s):
                continue
            done.add(once)
            reason = f"rule “{rule.name}”: {describe(action)}"
            effects.append(Effect(rule.id, rule.name, action, now, reason))
    return effects


def apply(state: ConversationState, effects: Sequence[Effect]) -> ConversationState:
    """The conversation once the effects that change it are applied: abuse marked, priority
    set (while it needs an answer), closed as needing no answer; every reason shown first."""
    if not effects:
        return state
    after = state
    for effect in effects:
        action = effect.action
        if action.kind == "mark_abuse":
            after = replace(after, abuse=True)
        elif action.kind == "set_priority" and after.needs_answer and action.priority:
            after = replace(after, priority=action.priority)
        elif action.kind == "close":
            after = replace(after, needs_answer=False, waiting_since=None, priority=4)
    reasons = tuple(e.reason for e in effects)
    return replace(after, reasons=reasons + tuple(r for r in state.reasons if r not in reasons))
