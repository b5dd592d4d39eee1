"""The rules evaluator: each condition, each action, the order rules run in, switched-off
rules, the priority bound, and how effects change a conversation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.triage.domain.automation import (
    Action,
    Rule,
    Subject,
    When,
    apply,
    evaluate,
    has_any_word,
)
from services.triage.domain.conversation import ConversationState
from services.triage.rules.usecases import to_rule

NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # the night the clocks change in Paris
SPAM = Subject(
    text="Gagnez un iPhone GRATUIT au Casino, cliquez!",
    intent="spam",
    language="fr",
    platform="x",
    channel="support-fr",
    priority=4,
    abuse=False,
)
CLOSE = Action("close", reason="spam")


def rule(when: When, *then: Action, id: int = 1, name: str = "Close spam", **kw: object) -> Rule:
    return Rule(id=id, name=name, when=when, then=then or (CLOSE,), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("when", "fires"),
    [
        (When(), True),
        (When(intents=frozenset({"spam"})), True),
        (When(intents=frozenset({"question"})), False),
        (When(languages=frozenset({"fr"})), True),
        (When(languages=frozenset({"en"})), False),
        (When(platforms=frozenset({"x"})), True),
        (When(platforms=frozenset({"facebook"})), False),
        (When(channels=frozenset({"support-fr"})), True),
        (When(channels=frozenset({"support-en"})), False),
        (When(priorities=frozenset({4})), True),
        (When(priorities=frozenset({1, 2})), False),
        (When(abuse=False), True),
        (When(abuse=True), False),
        (When(words=("casino",)), True),
        (When(words=("gratuit", "free")), True),
        (When(words=("cas",)), False),  # whole words only
        (When(words=("refund",)), False),
        (When(author_seen_before=False), True),
        (When(author_seen_before=True), False),
        (When(in_incident=False), True),
        (When(in_incident=True), False),
        (When(intents=frozenset({"spam"}), languages=frozenset({"en"})), False),  # all must hold
    ],
)
def test_each_condition(when: When, fires: bool) -> None:
    assert bool(evaluate([rule(when)], SPAM, NOW)) is fires


def test_author_and_incident_facts_come_from_the_subject() -> None:
    seen = replace(SPAM, author_seen_before=True, in_incident=True)
    assert evaluate([rule(When(author_seen_before=True, in_incident=True))], seen, NOW)


@pytest.mark.parametrize(
    ("text", "words", "found"),
    [
        ("Je veux être REMBOURSÉ", ("rembourse",), True),
        ("je veux etre rembourse", ("Remboursé",), True),
        ("scamper away", ("scam",), False),
        ("total scam!", ("scam",), True),
        ("my parcel never arrived", ("never arrived",), True),
        ("anything", (), False),
    ],
)
def test_words_ignore_case_and_accents_and_match_whole_words(
    text: str, words: tuple[str, ...], found: bool
) -> None:
    assert has_any_word(text, words) is found


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (CLOSE, "rule “Close spam”: closed as no answer (spam)"),
        (Action("tag", tag_id=7, tag_name="Spam"), "rule “Close spam”: tagged “Spam”"),
        (Action("set_priority", priority=2), "rule “Close spam”: priority P2"),
        (Action("route", language="fr"), "rule “Close spam”: routed to fr speakers"),
        (Action("route", channel="vip"), "rule “Close spam”: routed to channel vip"),
        (Action("mark_abuse", hide=True), "rule “Close spam”: marked abusive, hide requested"),
        (Action("mark_abuse"), "rule “Close spam”: marked abusive"),
        (Action("notify"), "rule “Close spam”: webhook notified"),
    ],
)
def test_each_action_is_an_effect_named_by_its_rule(action: Action, reason: str) -> None:
    (effect,) = evaluate([rule(When(), action)], SPAM, NOW)
    assert (effect.rule_id, effect.action, effect.reason, effect.at) == (1, action, reason, NOW)


def test_rules_run_by_position_then_id_and_the_first_priority_wins() -> None:
    later = rule(When(), Action("set_priority", priority=3), id=1, name="Later", position=5)
    first = rule(When(), Action("set_priority", priority=2), id=9, name="First", position=1)
    tie = rule(When(), Action("tag", tag_id=1, tag_name="a"), id=2, name="Tie", position=5)
    effects = evaluate([later, tie, first], SPAM, NOW)
    assert [e.rule_name for e in effects] == ["First", "Tie"]
    assert effects[0].action.priority == 2


def test_tags_add_up_but_each_tag_fires_once() -> None:
    a = rule(When(), Action("tag", tag_id=1), Action("tag", tag_id=2), id=1)
    b = rule(When(), Action("tag", tag_id=2), Action("tag", tag_id=3), id=2, name="b")
    assert [e.action.tag_id for e in evaluate([a, b], SPAM, NOW)] == [1, 2, 3]


def test_a_switched_off_rule_does_nothing() -> None:
    assert evaluate([rule(When(), enabled=False)], SPAM, NOW) == []


def test_a_rule_never_lowers_a_p1_but_may_raise_to_it() -> None:
    urgent = replace(SPAM, priority=1)
    lower = rule(When(), Action("set_priority", priority=3))
    assert evaluate([lower], urgent, NOW) == []
    raise_ = rule(When(), Action("set_priority", priority=1))
    assert [e.action.priority for e in evaluate([raise_], SPAM, NOW)] == [1]


WAITING = ConversationState(
    needs_answer=True,
    priority=3,
    reasons=("asks a question",),
    waiting_since=NOW,
    last_inbound_at=NOW,
)


def test_close_takes_the_conversation_out_of_the_queue_with_the_rule_as_reason() -> None:
    after = apply(WAITING, evaluate([rule(When())], SPAM, NOW))
    assert (after.needs_answer, after.waiting_since, after.priority) == (False, None, 4)
    assert after.reasons == ("rule “Close spam”: closed as no answer (spam)", "asks a question")


def test_priority_and_abuse_change_the_conversation() -> None:
    effects = evaluate(
        [rule(When(), Action("set_priority", priority=1), Action("mark_abuse", hide=True))],
        SPAM,
        NOW,
    )
    after = apply(WAITING, effects)
    assert (after.priority, after.abuse, after.needs_answer) == (1, True, True)


def test_priority_does_not_apply_to_a_conversation_needing_no_answer() -> None:
    done = replace(WAITING, needs_answer=False, priority=4)
    after = apply(done, evaluate([rule(When(), Action("set_priority", priority=1))], SPAM, NOW))
    assert after.priority == 4


def test_no_effect_leaves_the_conversation_as_it_was() -> None:
    assert apply(WAITING, []) is WAITING


def test_a_stored_rule_reads_as_the_api_wrote_it() -> None:
    stored = {
        "id": 4,
        "name": "VIP",
        "position": 2,
        "enabled": True,
        "when": {"priorities": ["P1", "P2"], "words": ["vip"], "abuse": None},
        "then": [
            {"kind": "set_priority", "priority": "P1"},
            {"kind": "tag", "tag_id": 3, "tag_name": "VIP"},
        ],
    }
    parsed = to_rule(stored)
    assert parsed.when.priorities == frozenset({1, 2})
    assert parsed.when.words == ("vip",)
    assert parsed.then[0] == Action("set_priority", priority=1)
    assert parsed.then[1] == Action("tag", tag_id=3, tag_name="VIP")
