"""Reasons agents believe, and bad input that still gets a decision with a reason."""

from __future__ import annotations

import re

import pytest

from services.triage.domain.normalise import normalise
from services.triage.domain.reasons import (
    MIN_EVIDENCE_DROP,
    asks_someone,
    evidence_candidates,
    is_plain_word,
)
from services.triage.domain.rules import found
from services.triage.domain.triage import FOREIGN, NO_WORDS, Decision, default_triage

TRIAGE = default_triage()
_QUOTED = re.compile(r'^[^"]+: "([^"]+?)…?"$')

NEEDS = [
    "@united my bag never arrived, file ref BOS-20417, can someone help?",
    "ma commande n'est jamais arrivée et le suivi ne bouge plus",
    "plus d'internet depuis ce matin à Lyon",
    "@Delta how do I add a checked bag to my booking?",
    "@Free merci de me rappeler au plus vite pour ma résiliation",
    "@AmazonHelp the package shows delivered but it's not here",
    "@Uber_Support the driver took a detour and charged me double",
    "@SpotifyCares premium keeps logging me out on my laptop",
    "@XboxSupport my controller won't pair anymore after the update",
    "le décodeur redémarre tout seul toutes les 10 minutes",
    "la clim du TGV est en rade, il fait 35 degrés dans la voiture",
    "@Tesco my online order came with half the items substituted",
]


def quoted(reason: str) -> str | None:
    match = _QUOTED.match(reason)
    return match.group(1) if match else None


def without(text: str, phrase: str) -> str:
    """The post with the quoted phrase taken out (compared in normalised form)."""
    words = set(phrase.split())
    from services.triage.domain.normalise import normalise

    return " ".join(w for w in normalise(text).split() if w.strip(".,;:!?\"'()") not in words)


@pytest.mark.parametrize("text", NEEDS)
def test_the_evidence_quoted_raises_the_need(text: str) -> None:
    d = TRIAGE.decide(text)
    assert d.needs_answer
    evidence = [q for r in d.reasons if (q := quoted(r))]
    if not evidence:  # no phrase stood out: the reason names the model's doubt, not a word
        assert d.reasons == ("may need an answer",), d.reasons
        return
    phrase = evidence[0]
    drop = TRIAGE.need_probability(text) - TRIAGE.need_probability(without(text, phrase))
    assert drop > 0, (phrase, drop)


@pytest.mark.parametrize("text", NEEDS)
def test_no_reason_is_a_lone_common_word(text: str) -> None:
    d = TRIAGE.decide(text)
    for reason in d.reasons:
        phrase = quoted(reason)
        if phrase is not None and reason.startswith("words that point"):
            assert " " in phrase or not is_plain_word(phrase), reason


# Posts no cue family explains, where the previous model quoted one ordinary word as the
# evidence of a need ("water", "wifi", "nuit", "agent", "bought", "message", "train").
PLAIN_WORD_POSTS = [
    "@united the water on board costs more than the seat",
    "@AmericanAir wifi on this flight is something else",
    "@Free ma box fait un bruit bizarre la nuit",
    "@SouthwestAir the gate agent who checked us in was on point",
    "@Tesco bought bread yesterday, mouldy today",
    "@Free le décodeur affiche un message chelou",
    "@SNCF le train de 8h12 encore supprimé",
    "@Delta ordered a sandwich onboard and it was cold",
]


@pytest.mark.parametrize("text", PLAIN_WORD_POSTS + NEEDS)
def test_model_evidence_is_a_phrase_or_an_uncommon_word_that_really_counts(text: str) -> None:
    d = TRIAGE.decide(text)
    for reason in d.reasons:
        phrase = quoted(reason)
        if phrase is None or not reason.startswith("words that point"):
            continue
        if " " not in phrase:
            assert not is_plain_word(phrase, TRIAGE.model.common_words), reason
        drop = TRIAGE.need_probability(text) - TRIAGE.need_probability(without(text, phrase))
        assert drop >= MIN_EVIDENCE_DROP, (reason, drop)


def test_common_words_are_never_evidence_alone() -> None:
    tokens = ["which", "water", "the", "ticket", "refund", "desk"]
    weights = [3.0, 2.5, 2.0, 0.5, 0.4, -1.0]
    common = frozenset({"water", "ticket"})
    picked = evidence_candidates("which water the ticket refund desk", tokens, weights, common)
    assert picked[0] == "ticket refund"
    assert "which" not in picked and "water" not in picked and "the" not in picked
    assert "desk" not in picked  # weighs against a need


def test_a_phrase_never_ends_on_a_function_word() -> None:
    tokens = ["chante", "sous", "la", "pluie"]
    weights = [1.0, 1.0, 0.1, 0.1]
    picked = evidence_candidates("chante sous la pluie", tokens, weights, frozenset())
    assert "chante sous" not in picked and "sous" not in picked


def test_a_phrase_is_two_words_written_side_by_side() -> None:
    tokens = ["one", "night", "hotel", "booking"]
    weights = [0.1, 1.0, 1.0, 0.2]
    picked = evidence_candidates("one night. hotel booking", tokens, weights, frozenset())
    assert "night hotel" not in picked
    assert "hotel booking" in picked


@pytest.mark.parametrize(
    "text",
    [
        "@JetBlue which reminds me, the snacks were good",
        "the upgrade, which I loved, made my week",
    ],
)
def test_a_relative_which_is_not_a_question(text: str) -> None:
    assert "question" not in found(normalise(text))
    d = TRIAGE.decide(text)
    assert not any(r.startswith("asks a question") for r in d.reasons), d.reasons


@pytest.mark.parametrize(
    ("text", "phrase", "asks"),
    [
        ("which is also the number of emails i have", "which", False),
        ("which gate do i go to", "which gate do i", True),
        ("pourquoi", "pourquoi", False),
        ("pourquoi ?", "pourquoi", True),
        ("can you check my booking", "can you", True),
        ("pouvez-vous me rappeler", "pouvez-vous", True),
    ],
)
def test_a_question_reason_needs_a_question_put_to_someone(
    text: str, phrase: str, asks: bool
) -> None:
    assert asks_someone(text, phrase) is asks


@pytest.mark.parametrize(
    "text",
    [
        "Best cabin crew ever on the Edinburgh flight this morning 💙",
        "Franchement depuis que je suis passé chez vous zéro souci, débit au top 👏",
        "Shoutout to the ground staff who found my kid's bag under seat 22C and ran it out 🐰",
        "Credit where it's due: you handled our diverted flight really well, hotel sorted",
        "merci pour la fibre, enfin du réseau chez mes parents",
        "love the new app, the chat is so quick now",
    ],
)
def test_praise_never_reports_a_problem(text: str) -> None:
    d = TRIAGE.decide(text)
    assert not any(r.startswith("reports a problem") for r in d.reasons), d.reasons


def assert_decision(d: Decision) -> None:
    assert isinstance(d, Decision)
    assert 1 <= len(d.reasons) <= 4
    assert all(isinstance(r, str) and r for r in d.reasons)


@pytest.mark.parametrize("text", ["", "   ", "😂😂😂", "🔥❤️👍", "\u200b\u200b", "!!!???"])
def test_nothing_to_read(text: str) -> None:
    d = TRIAGE.decide(text)
    assert_decision(d)
    assert d.reasons == (NO_WORDS,)
    assert not d.needs_answer


@pytest.mark.parametrize(
    "text",
    [
        "hola, el vuelo esta cancelado y no tengo mi maleta",
        "Wo ist mein Koffer? Danke",
        "郵便局に電話したけど荷物が届きません",
        "\u0645\u0631\u062d\u0628\u0627 \u0627\u0644\u0637\u0631\u062f \u0644\u0645 \u064a\u0635\u0644",  # noqa: E501
    ],
)
def test_an_unsupported_language_is_routed_for_a_look(text: str) -> None:
    d = TRIAGE.decide(text)
    assert_decision(d)
    assert d.language == "other"
    assert d.needs_answer
    assert d.priority == 4
    assert FOREIGN in d.reasons


@pytest.mark.parametrize(
    "text",
    [
        "my bag never arrived " * 600,  # over 10,000 characters
        "a" * 10_000,
        "Hello, ma box ne fonctionne plus since yesterday, please help",
        "Bonjour, my flight to Paris was delayed et personne ne répond",
        "x\ud800y panne",
        "(" * 3_000 + "smoke",
    ],
)
def test_long_mixed_or_broken_text_gets_a_decision(text: str) -> None:
    d = TRIAGE.decide(text)
    assert_decision(d)
    assert d.language in ("fr", "en", "other")


def test_a_very_long_post_is_judged_on_its_words() -> None:
    assert TRIAGE.decide("my bag never arrived " * 600).needs_answer


def test_a_mixed_language_post_is_read_in_its_main_language() -> None:
    d = TRIAGE.decide("Hello, ma box ne fonctionne plus depuis hier soir, please help")
    assert d.language == "fr"
    assert d.needs_answer
