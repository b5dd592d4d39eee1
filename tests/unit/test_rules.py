"""Rule-based triage: what a care team expects from the first scorer."""

from __future__ import annotations

import dataclasses
import inspect
import math
import random
import time

import pytest

from services.triage.domain import language, normalise, rules
from services.triage.domain.rules import INTENTS, MODEL_VERSION, Decision, decide

HOUR = 3600.0


def assert_well_formed(d: Decision) -> None:
    assert isinstance(d, Decision)
    assert d.intent in INTENTS
    assert d.language in ("fr", "en", "other")
    assert d.priority in (1, 2, 3, 4)
    assert 0.0 <= d.confidence <= 1.0
    assert len(d.reasons) in range(1, 5)
    assert all(isinstance(r, str) and r for r in d.reasons)
    assert d.model_version == MODEL_VERSION == "rules-1"
    if not d.needs_answer:
        assert d.priority == 4


# --- problems: outage, money, access, safety --------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "@Free panne internet depuis ce matin à Lyon, plus rien ne marche !",
        "@Freebox Bonjour, je n'ai plus Internet depuis 3 jours 😡 https://t.co/abc",
        "Plus de réseau ni de télé depuis hier soir dans le 78",
        "freebox bloquée à l'étape 2 depuis ce midi",
        "@AmericanAir your app is down, I can't check in",
        "@Comcast no internet since this morning, whole street is out",
        "@united website down again??",
    ],
)
def test_outage_is_an_urgent_problem(text: str) -> None:
    d = decide(text)
    assert_well_formed(d)
    assert d.needs_answer
    assert d.intent == "problem"
    assert d.priority <= 2
    assert "reports an outage" in d.reasons


def test_pre_cleaned_french_still_reads_as_a_problem() -> None:
    d = decide("bonjournje n'ai plus internet depuis 3 jours")
    assert d.needs_answer
    assert d.intent == "problem"
    assert d.language == "fr"
    assert d.priority <= 2


@pytest.mark.parametrize(
    "text",
    [
        "@Free vous m'avez prélevé deux fois ce mois-ci !!",
        "On m'a facturé 49€ pour un rendez-vous que vous avez annulé",
        "@Delta I was charged twice for the same ticket",
        "@united you charged my card but the booking never went through",
        "@JetBlue still waiting for my refund after 6 weeks",
    ],
)
def test_money_lost_is_flagged_and_prioritised(text: str) -> None:
    d = decide(text)
    assert d.needs_answer
    assert d.intent == "problem"
    assert "mentions money lost" in d.reasons
    assert d.priority <= 2


@pytest.mark.parametrize(
    "text",
    [
        "@Free mon compte est bloqué, impossible de me connecter",
        "je ne peux plus accéder à mon espace abonné",
        "@united I can't log in to my account since yesterday",
        "@Delta my account was locked after the update",
    ],
)
def test_lost_access_is_a_priority_problem(text: str) -> None:
    d = decide(text)
    assert d.needs_answer
    assert d.intent == "problem"
    assert "reports lost access" in d.reasons
    assert d.priority <= 2


@pytest.mark.parametrize(
    "text",
    [
        "URGENT de la fumée sort de ma box, danger",
        "@united passenger next to me is having a medical emergency and crew is not responding",
        "le câble arraché pend dans la rue, c'est dangereux pour les enfants",
    ],
)
def test_safety_issue_is_p1(text: str) -> None:
    d = decide(text)
    assert d.needs_answer
    assert d.priority == 1
    assert "safety issue" in d.reasons


def test_urgency_word_raises_priority() -> None:
    calm = decide("@Free ma ligne fixe ne fonctionne plus")
    urgent = decide("@Free URGENT ma ligne fixe ne fonctionne plus")
    assert urgent.priority == calm.priority - 1
    assert "marked urgent" in urgent.reasons


# --- questions and requests -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "@Free comment changer mon offre ?",
        "Bonjour, est-ce que la fibre est disponible à Rennes",
        "@JetBlue How do I add a checked bag to my booking?",
        "@SouthwestAir is there a way to change my seat online",
    ],
)
def test_question_needs_an_answer(text: str) -> None:
    d = decide(text)
    assert d.needs_answer
    assert d.intent == "question"
    assert "asks a question" in d.reasons


@pytest.mark.parametrize(
    "text",
    [
        "@Free merci de me rappeler au plus vite pour ma résiliation",
        "pouvez-vous me contacter en message privé",
        "@united please call me back on the number I sent",
        "@AmericanAir I need to speak to an agent, not a bot",
    ],
)
def test_request_needs_an_answer(text: str) -> None:
    d = decide(text)
    assert d.needs_answer
    assert d.intent == "request"


# --- nothing to act on ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "@SouthwestAir great crew today, thanks!",
        "@Free merci pour l'installation, technicien au top !",
        "Bravo à l'équipe, super efficace 👍",
        "@JetBlue love you guys ❤️",
    ],
)
def test_praise_needs_no_answer(text: str) -> None:
    d = decide(text)
    assert not d.needs_answer
    assert d.intent == "praise"
    assert d.priority == 4
    assert "praise with nothing to act on" in d.reasons


@pytest.mark.parametrize(
    "text",
    [
        "@JetBlue lol same",
        "mdr trop bien le match ce soir",
        "@united good morning!",
        "ouais enfin 😂",
    ],
)
def test_banter_needs_no_answer(text: str) -> None:
    d = decide(text)
    assert not d.needs_answer
    assert d.intent == "banter"


@pytest.mark.parametrize(
    "text",
    [
        "Follow me and check out my channel!! https://a.co/x https://b.co/y",
        "🎁 Concours : gagnez 2 places ! RT + follow, tirage au sort vendredi",
        "Tag a friend to win a free trip to Hawaii!",
        "panne en cours : 20 freenautes ont signalé des pannes depuis 19h, ville concernée : dax",
        "@JetBlue Celebrates 15-Year Anniversary With New Livery - Digital Journal http://t.co/U5H",
    ],
)
def test_spam_needs_no_answer(text: str) -> None:
    d = decide(text)
    assert not d.needs_answer
    assert d.intent == "spam"
    assert "looks like spam" in d.reasons


@pytest.mark.parametrize(
    "text",
    [
        "Bonjour, la messagerie privée X n'est plus disponible, retrouvez-moi sur Messenger",
        "We're sorry to hear that. Please DM us your confirmation number. ^AB",
        "Merci pour votre retour, on regarde ça ^JD",
    ],
)
def test_brand_posts_need_no_answer(text: str) -> None:
    d = decide(text)
    assert not d.needs_answer
    assert d.intent == "brand"


@pytest.mark.parametrize(
    "text",
    [
        "c'est réglé, merci !",
        "C'est bon ça remarche, merci",
        "problème résolu, merci pour votre aide",
        "All sorted now, thanks!",
        "@united never mind, my bag just showed up. thanks",
    ],
)
def test_resolved_matter_needs_no_answer(text: str) -> None:
    d = decide(text)
    assert not d.needs_answer
    assert d.intent in ("praise", "other")
    assert "says the matter is resolved" in d.reasons


@pytest.mark.parametrize(
    "text",
    [
        "le problème n'est toujours pas réglé ?",
        "still not resolved after 3 calls",
        "ce n'est pas réglé du tout, toujours pas d'internet",
    ],
)
def test_unresolved_follow_up_still_needs_an_answer(text: str) -> None:
    d = decide(text)
    assert d.needs_answer
    assert d.intent == "problem"


def test_opinion_with_nothing_concrete_needs_no_answer() -> None:
    for text in ("vous êtes le pire opérateur", "@united you're terrible."):
        d = decide(text)
        assert d.intent == "complaint"
        assert not d.needs_answer


def test_complaint_about_a_concrete_experience_needs_an_answer() -> None:
    d = decide("@AmericanAir rude gate agent on AA363 just now, made me check a bag that fit")
    assert d.intent == "complaint"
    assert d.needs_answer


# --- abuse --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "@Free vous êtes des connards, bande de fdp",
        "@united your agent is a stupid bitch",
        "le conseiller au téléphone est un vrai boulet, abruti",
        "@Delta f*ck you all, I hope you die",
    ],
)
def test_insults_aimed_at_people_are_abuse(text: str) -> None:
    d = decide(text)
    assert d.abuse
    assert d.intent == "abuse"
    assert not d.needs_answer
    assert "insults someone" in d.reasons


@pytest.mark.parametrize(
    "text",
    [
        "putain encore en panne",
        "this is f***ing ridiculous, my bag is lost again",
        "service client de merde, 3 semaines sans internet",
        "@united wtf, 4 hours on the tarmac, shit happens I guess",
    ],
)
def test_swearing_not_aimed_at_anyone_is_not_abuse(text: str) -> None:
    d = decide(text)
    assert not d.abuse
    assert d.needs_answer


@pytest.mark.parametrize(
    "text",
    [
        "@Free bande de fdp ça fait 3 jours sans internet",
        "vous êtes des connards, plus de réseau depuis ce matin",
        "@Comcast you idiots, the internet is down AGAIN",
    ],
)
def test_rude_post_reporting_an_outage_is_problem_and_abuse(text: str) -> None:
    d = decide(text)
    assert d.intent == "problem"
    assert d.abuse
    assert d.needs_answer
    assert d.priority <= 2
    assert "insults someone" in d.reasons


# --- escalation: repeat contact, waiting time, DMs ---------------------------------


@pytest.mark.parametrize(
    "text",
    ["@Free comment changer mon offre ?", "@united my bag did not arrive", "@Free panne internet"],
)
def test_repeat_contact_raises_priority_by_one(text: str) -> None:
    first = decide(text)
    again = decide(text, repeat_contact=True)
    assert again.priority == max(1, first.priority - 1)
    assert "second message while waiting" in again.reasons
    assert "second message while waiting" not in first.reasons


def test_repeat_contact_never_goes_above_p1() -> None:
    d = decide("URGENT fumée qui sort de la box", repeat_contact=True, waited_seconds=9 * HOUR)
    assert d.priority == 1
    assert "second message while waiting" in d.reasons
    assert "waiting over 4 hours" in d.reasons


@pytest.mark.parametrize(
    ("waited", "raised"),
    [(0.0, False), (3.9 * HOUR, False), (4 * HOUR, True), (30 * HOUR, True), (math.inf, True)],
)
def test_long_wait_raises_priority(waited: float, raised: bool) -> None:
    text = "@JetBlue how do I change my flight?"
    base = decide(text).priority
    d = decide(text, waited_seconds=waited)
    assert d.priority == (base - 1 if raised else base)
    assert ("waiting over 4 hours" in d.reasons) is raised


@pytest.mark.parametrize("waited", [math.nan, -5.0, -math.inf])
def test_nonsense_wait_is_ignored(waited: float) -> None:
    text = "@JetBlue how do I change my flight?"
    assert decide(text, waited_seconds=waited).priority == decide(text).priority


def test_escalation_does_not_make_praise_need_an_answer() -> None:
    d = decide("great crew today, thanks!", repeat_contact=True, waited_seconds=10 * HOUR)
    assert not d.needs_answer
    assert d.priority == 4


@pytest.mark.parametrize(
    "text",
    [
        "ma box ne fonctionne plus depuis hier",
        "comment résilier mon abonnement ?",
        "I was charged twice",
        "lol",
        "bonjour",
    ],
)
def test_dm_is_never_less_urgent_than_a_mention(text: str) -> None:
    mention = decide(text, kind="mention")
    dm = decide(text, kind="dm")
    assert dm.needs_answer >= mention.needs_answer
    if mention.needs_answer:
        assert dm.priority <= mention.priority


def test_plain_dm_gets_read() -> None:
    d = decide("bonjour", kind="dm")
    assert d.needs_answer
    assert "direct message to the brand" in d.reasons


def test_reasons_stay_within_four_and_keep_escalations() -> None:
    d = decide(
        "URGENT fumée de la box, panne, prélevé deux fois et compte bloqué, toujours rien",
        repeat_contact=True,
        waited_seconds=5 * HOUR,
    )
    assert len(d.reasons) == 4
    assert "second message while waiting" in d.reasons
    assert "waiting over 4 hours" in d.reasons


# --- bad inputs never raise ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no words to read"),
        ("   \n ", "no words to read"),
        ("😂😂😂", "no words to read"),
        ("🔥❤️👍", "no words to read"),
        ("https://t.co/abc123", "no words to read"),
        ("@Free https://t.co/abc", "no words to read"),
    ],
)
def test_nothing_to_read_needs_no_answer(text: str, reason: str) -> None:
    d = decide(text)
    assert_well_formed(d)
    assert not d.needs_answer
    assert d.intent == "other"
    assert d.reasons == (reason,)


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
    ],
)
def test_odd_inputs_never_raise(text: str) -> None:
    assert_well_formed(decide(text))
    assert_well_formed(decide(text, kind="dm", repeat_contact=True, waited_seconds=5 * HOUR))


def test_random_strings_never_raise() -> None:
    rng = random.Random(1234)
    alphabet = "abcdefghijklmnopqrstuvwxyzéèàçù '?!.,@#/:-\n\t0123456789😂❤️\ud800\u0301<>&;"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        assert_well_formed(decide(text))


def test_unknown_kind_is_treated_like_a_mention() -> None:
    text = "@Free panne internet"
    assert decide(text, kind="carrier-pigeon") == decide(text)


def test_long_adversarial_input_is_fast() -> None:
    # guards against regex backtracking blow-ups: 10k characters must stay cheap
    text = ("toujours pas de reponse depuis 3 jours " * 300)[:10_000]
    start = time.perf_counter()
    decide(text)
    assert time.perf_counter() - start < 0.5


# --- API contract -------------------------------------------------------------------


def test_public_api_shape() -> None:
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
    params = inspect.signature(decide).parameters
    assert list(params) == ["text", "kind", "repeat_contact", "waited_seconds"]
    assert all(params[name].kind is inspect.Parameter.KEYWORD_ONLY for name in list(params)[1:])
    assert params["kind"].default == "mention"
    assert params["repeat_contact"].default is False
    assert params["waited_seconds"].default == 0.0


def test_decision_is_frozen() -> None:
    d = decide("panne")
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.priority = 1  # type: ignore[misc]


def test_same_input_same_decision() -> None:
    text = "@Free plus d'internet depuis hier, vous faites quoi ?"
    assert decide(text) == decide(text)


@pytest.mark.parametrize("module", [rules, language, normalise])
def test_modules_stay_pure(module: object) -> None:
    source = inspect.getsource(module)  # type: ignore[arg-type]
    for forbidden in (
        "import aiohttp",
        "import sqlalchemy",
        "import asyncpg",
        "import prometheus_client",
        "import time",
        "import datetime",
        "from datetime",
        "open(",
    ):
        assert forbidden not in source
