"""Triage decisions with the committed model: what a care team expects of each post."""

from __future__ import annotations

import dataclasses
import inspect
import math
import random

import pytest

from services.triage.domain.model import load
from services.triage.domain.triage import (
    INTENTS,
    MAX_REASONS,
    Decision,
    Triage,
    decide,
    default_triage,
)

HOUR = 3600.0
MODEL = load()


def assert_well_formed(d: Decision) -> None:
    assert isinstance(d, Decision)
    assert d.intent in INTENTS
    assert d.language in ("fr", "en", "other")
    assert d.priority in (1, 2, 3, 4)
    assert 0.0 <= d.confidence <= 1.0
    assert len(d.reasons) in range(1, MAX_REASONS + 1)
    assert all(isinstance(r, str) and r for r in d.reasons)
    assert d.model_version == MODEL.version
    if not d.needs_answer:
        assert d.priority == 4


# --- people with a real problem reach an agent, most urgent first -----------------


@pytest.mark.parametrize(
    ("text", "reason", "worst_priority"),
    [
        (
            "@Free panne internet depuis ce matin à Lyon, plus rien ne marche !",
            "reports an outage",
            2,
        ),
        ("@Freebox Bonjour, je n'ai plus Internet depuis 3 jours 😡", "reports an outage", 2),
        ("bonjournje n'ai plus internet depuis 3 jours", "reports an outage", 2),
        ("@AmericanAir your app is down, I can't check in", "reports an outage", 2),
        (
            "No internet since this morning, the whole street is down, outage!",
            "reports an outage",
            2,
        ),
        ("@Free vous m'avez prélevé deux fois ce mois-ci !!", "mentions money lost", 2),
        ("@Delta I was charged twice for the same ticket", "mentions money lost", 2),
        ("@Free mon compte est bloqué, impossible de me connecter", "reports lost access", 2),
        ("@united I can't log in to my account since yesterday", "reports lost access", 2),
        (
            "There is smoke coming from the engine, the crew is ignoring us!",
            "safety risk: smoke",
            1,
        ),
        ("URGENT de la fumée sort de ma box, danger", "safety risk: smoke", 1),
        (
            "le câble arraché pend dans la rue, c'est dangereux pour les enfants",
            "safety risk: fallen cable",
            1,
        ),
        ("@JetBlue still waiting for my refund after 6 weeks", "asks for money back", 2),
    ],
)
def test_faults_need_an_answer_with_priority_and_reason(
    text: str, reason: str, worst_priority: int
) -> None:
    d = decide(text)
    assert_well_formed(d)
    assert d.needs_answer
    assert d.intent in ("problem", "request", "question")
    assert d.priority <= worst_priority
    # the family, and the post's own phrase that raised it
    assert any(r == reason or r.startswith(f'{reason}: "') for r in d.reasons), d.reasons


@pytest.mark.parametrize(
    "text",
    [
        "How do I change the date of my flight?",
        "@JetBlue How do I add a checked bag to my booking?",
        "@Free comment faire pour changer mon offre ?",
        "Bonjour, est-ce que la fibre est disponible à Rennes ?",
        "@united please call me back on the number I sent",
        "@Free merci de me rappeler au plus vite pour ma résiliation",
        "@united my bag never arrived",
        "le technicien n'est jamais venu, toujours rien",
    ],
)
def test_questions_requests_and_problems_need_an_answer(text: str) -> None:
    d = decide(text)
    assert_well_formed(d)
    assert d.needs_answer
    assert d.intent in ("problem", "question", "request")
    assert d.priority <= 3


def test_a_health_situation_raises_priority_but_is_not_an_emergency() -> None:
    """The old scorer's false alarm: a refund request mentioning surgery went to P1."""
    d = decide(
        "Please cancel my booking ZL83KD and refund to the original card. "
        "I can no longer travel due to surgery"
    )
    assert d.needs_answer
    assert d.priority == 2
    assert not any(r.startswith("safety risk") for r in d.reasons)
    assert "mentions a health situation" in d.reasons


# --- nothing to act on: no answer, but still classified and explained -------------


@pytest.mark.parametrize(
    ("text", "intents", "reason"),
    [
        ("@SouthwestAir great crew today, thanks!", {"praise"}, "praise with nothing to act on"),
        ("Great crew today, thanks!", {"praise"}, "praise with nothing to act on"),
        ("Bravo à l'équipe, super efficace 👍", {"praise"}, "praise with nothing to act on"),
        ("Follow me and check out my channel for free giveaways", {"spam"}, "looks like spam"),
        (
            "🎁 Concours : gagnez 2 places ! RT + follow, tirage au sort",
            {"spam"},
            "looks like spam",
        ),
        ("Tag a friend to win a free trip to Hawaii!", {"spam"}, "looks like spam"),
        (
            "Bonjour, la messagerie privée X n'est plus disponible, retrouvez-moi sur Messenger",
            {"brand"},
            "written by the brand",
        ),
        (
            "We're sorry to hear that. Please DM us your confirmation number. ^AB",
            {"brand"},
            "written by the brand",
        ),
        ("c'est réglé, merci !", {"praise", "other"}, "says the matter is resolved"),
        ("C'est bon ça remarche, merci", {"praise", "other"}, "says the matter is resolved"),
        ("All sorted now, thanks!", {"praise", "other"}, "says the matter is resolved"),
    ],
)
def test_posts_with_nothing_to_act_on_need_no_answer(
    text: str, intents: set[str], reason: str
) -> None:
    d = decide(text)
    assert_well_formed(d)
    assert not d.needs_answer
    assert d.intent in intents
    assert d.priority == 4
    assert reason in d.reasons


@pytest.mark.parametrize(
    "text",
    [
        "le problème n'est toujours pas réglé ?",
        "still not resolved after 3 calls",
        "ce n'est pas réglé du tout, toujours pas d'internet",
    ],
)
def test_a_follow_up_saying_not_resolved_still_needs_an_answer(text: str) -> None:
    d = decide(text)
    assert d.needs_answer
    assert "says the matter is resolved" not in d.reasons


def test_closing_message_lowers_the_need_of_the_same_words() -> None:
    problem = decide("plus d'internet depuis ce matin")
    closing = decide("plus d'internet depuis ce matin mais c'est réglé, merci")
    assert problem.needs_answer and not closing.needs_answer


# --- abuse goes to moderation; a real problem inside still gets answered ----------


@pytest.mark.parametrize(
    "text",
    [
        "@Free vous êtes des connards, bande de fdp",
        "@united your agent is a stupid bitch",
        "bande d'abrutis, allez vous faire foutre",
    ],
)
def test_pure_insults_go_to_moderation_not_the_answer_queue(text: str) -> None:
    d = decide(text)
    assert d.abuse
    assert not d.needs_answer
    assert d.intent == "abuse"
    assert any(r.startswith("insults someone") for r in d.reasons)


@pytest.mark.parametrize(
    "text",
    [
        "@Free bande de fdp ça fait 3 jours sans internet",
        "vous êtes des connards, plus de réseau depuis ce matin",
        "@Comcast you idiots, the internet is down AGAIN",
    ],
)
def test_an_abusive_post_reporting_a_real_problem_is_still_answered(text: str) -> None:
    d = decide(text)
    assert d.abuse
    assert d.needs_answer
    assert d.intent == "problem"
    assert d.priority <= 2
    assert any(r.startswith("insults someone") for r in d.reasons)


@pytest.mark.parametrize(
    "text",
    ["putain encore en panne", "service client de merde, 3 semaines sans internet"],
)
def test_swearing_at_nobody_is_not_abuse(text: str) -> None:
    d = decide(text)
    assert not d.abuse
    assert d.needs_answer


# --- priority from need only: repeat contact, waiting time, DMs -------------------


@pytest.mark.parametrize(
    "text",
    [
        "How do I change the date of my flight?",
        "@united my bag did not arrive",
        "@Free panne internet",
    ],
)
def test_a_second_message_while_waiting_raises_priority_by_one(text: str) -> None:
    first = decide(text)
    again = decide(text, repeat_contact=True)
    assert again.priority == max(1, first.priority - 1)
    assert "second message while waiting" in again.reasons
    assert "second message while waiting" not in first.reasons


@pytest.mark.parametrize(
    ("waited", "raised"),
    [(0.0, False), (3.9 * HOUR, False), (4 * HOUR, True), (30 * HOUR, True), (math.inf, True)],
)
def test_a_long_wait_raises_priority(waited: float, raised: bool) -> None:
    text = "How do I change the date of my flight?"
    base = decide(text).priority
    d = decide(text, waited_seconds=waited)
    assert d.priority == (base - 1 if raised else base)
    assert ("waiting over 4 hours" in d.reasons) is raised


@pytest.mark.parametrize("waited", [math.nan, -5.0, -math.inf])
def test_nonsense_waiting_time_is_ignored(waited: float) -> None:
    text = "How do I change the date of my flight?"
    assert decide(text, waited_seconds=waited).priority == decide(text).priority


def test_escalation_never_makes_praise_need_an_answer() -> None:
    d = decide("great crew today, thanks!", repeat_contact=True, waited_seconds=10 * HOUR)
    assert not d.needs_answer
    assert d.priority == 4


def test_priority_never_goes_above_p1_and_keeps_its_reasons() -> None:
    d = decide(
        "URGENT fumée de la box, panne, prélevé deux fois et compte bloqué, toujours rien",
        repeat_contact=True,
        waited_seconds=5 * HOUR,
    )
    assert d.priority == 1
    assert len(d.reasons) == MAX_REASONS
    assert "second message while waiting" in d.reasons
    assert "waiting over 4 hours" in d.reasons


@pytest.mark.parametrize(
    "text",
    [
        "ma box ne fonctionne plus depuis hier",
        "comment résilier mon abonnement ?",
        "lol",
        "bonjour",
    ],
)
def test_a_dm_is_never_less_urgent_than_the_same_mention(text: str) -> None:
    mention, dm = decide(text), decide(text, kind="dm")
    assert dm.needs_answer >= mention.needs_answer
    if mention.needs_answer:
        assert dm.priority <= mention.priority


def test_a_plain_dm_gets_read() -> None:
    d = decide("bonjour", kind="dm")
    assert d.needs_answer
    assert d.priority == 4 or d.intent in ("question", "request", "problem")


def test_follower_count_is_not_an_input() -> None:
    assert list(inspect.signature(decide).parameters) == [
        "text",
        "kind",
        "repeat_contact",
        "waited_seconds",
        "thread",
    ]


# --- reasons an agent can read -----------------------------------------------------


def test_a_post_needing_an_answer_says_what_moved_the_decision() -> None:
    d = decide("@united my bag never arrived, file ref BOS-20417, can someone help?")
    assert d.needs_answer
    assert any(
        r.startswith(("reports a problem", "asks a question", "asks for an action"))
        or r.startswith("words that point to a need")
        for r in d.reasons
    ), d.reasons


def test_model_evidence_quotes_words_of_the_post() -> None:
    d = decide("ma commande n'est jamais arrivée et le suivi ne bouge plus")
    evidence = [r for r in d.reasons if r.startswith("words that point to a need")]
    for reason in evidence:
        quoted = [w.strip('" ') for w in reason.split(":", 1)[1].split(",")]
        assert all(
            w in "ma commande n'est jamais arrivee et le suivi ne bouge plus" for w in quoted
        )


# --- bad input: a decision with sensible reasons, never an exception ---------------


@pytest.mark.parametrize(
    "text",
    ["", "   \n ", "😂😂😂", "🔥❤️👍", "https://t.co/abc123", "@Free https://t.co/abc"],
)
def test_nothing_to_read_needs_no_answer(text: str) -> None:
    d = decide(text)
    assert_well_formed(d)
    assert not d.needs_answer
    assert d.intent == "other"
    assert d.reasons == ("no words to read",)


@pytest.mark.parametrize(
    "text",
    [
        "a" * 10_000,
        "panne " * 2_000,
        "<html><body><script>alert(1)</script><p>Ma box est HS</p></body></html>",
        "Hello, ma box ne fonctionne plus since yesterday, please help",
        "x\ud800y panne",
        "\udfff",
        "\x00\x07\x1b[2J",
        "\u202e\u0645\u0631\u062d\u0628\u0627 \u4f60\u597d",
        "Z̵̡̢̛̗͈̹̪͕̲̤a̷l̶g̵o̴ ?",
        "?" * 5_000,
        "(" * 3_000 + "[" * 3_000,
        "depuis " * 1_500 + "!",
        "n" * 10_000,
        "hola, el vuelo esta cancelado y no tengo mi maleta",
    ],
)
def test_odd_inputs_never_raise(text: str) -> None:
    assert_well_formed(decide(text))
    assert_well_formed(decide(text, kind="dm", repeat_contact=True, waited_seconds=5 * HOUR))


def test_random_strings_never_raise() -> None:
    rng = random.Random(1234)
    alphabet = "abcdefghijklmnopqrstuvwxyzéèàçù '?!.,@#/:-\n\t0123456789😂❤️\ud800\u0301<>&;"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        assert_well_formed(decide(text))


def test_a_long_garbage_post_is_not_flagged_as_abuse_or_urgent() -> None:
    d = decide("a" * 10_000)
    assert not d.abuse
    assert d.priority >= 3


def test_other_languages_are_marked_other_and_still_triaged() -> None:
    d = decide("hola, el vuelo esta cancelado y no tengo mi maleta, ayuda por favor")
    assert d.language == "other"
    assert_well_formed(d)


@pytest.mark.parametrize("kind", ["carrier-pigeon", "", "MENTION"])
def test_an_unknown_kind_is_treated_like_a_mention(kind: str) -> None:
    text = "@Free panne internet"
    assert decide(text, kind=kind) == decide(text)


# --- API contract ----------------------------------------------------------------


def test_decision_shape_is_what_the_consumer_stores() -> None:
    assert [f.name for f in dataclasses.fields(Decision)] == [
        "needs_answer",
        "intent",
        "abuse",
        "language",
        "priority",
        "confidence",
        "reasons",
        "model_version",
    ]
    assert INTENTS == (
        "problem",
        "question",
        "request",
        "complaint",
        "praise",
        "banter",
        "spam",
        "abuse",
        "brand",
        "other",
    )


def test_decision_is_frozen_and_deterministic() -> None:
    d = decide("@Free plus d'internet depuis hier, vous faites quoi ?")
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.priority = 1  # type: ignore[misc]
    assert decide("@Free plus d'internet depuis hier, vous faites quoi ?") == d


def test_the_committed_model_is_loaded_once() -> None:
    default_triage.cache_clear()
    first, again = default_triage(), default_triage()
    assert default_triage.cache_info().misses == 1  # the second call read no file
    assert again.model is first.model
    assert Triage(MODEL).decide("panne") == decide("panne")


def test_calibrated_thresholds_exist_for_both_languages() -> None:
    assert set(MODEL.need_thresholds) == {"fr", "en"}
    assert all(0.0 < t < 1.0 for t in MODEL.need_thresholds.values())
    assert MODEL.need_threshold("other") == min(MODEL.need_thresholds.values())
