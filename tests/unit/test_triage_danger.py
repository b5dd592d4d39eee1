"""Danger first: safety cues go to P1, vulnerable customers to P2, with a readable reason;
look-alikes (jokes, idioms) stay where they were."""

from __future__ import annotations

import pytest

from services.triage.domain.danger import SAFETY, VULNERABILITY, kind_of
from services.triage.domain.normalise import normalise
from services.triage.domain.rules import found, own_words
from services.triage.domain.triage import decide


def kinds(text: str, family: str) -> set[str]:
    phrases = found(own_words(normalise(text))).get(family, [])
    return {k for p in phrases if (k := kind_of(family, p))}


SAFETY_CASES = [
    ("en", "Smoke coming from the engine while boarding, crew says nothing", "smoke"),
    ("fr", "De la fumée sort de ma box depuis ce matin", "smoke"),
    ("fr", "ça sent le brûlé dans le salon, la box est brûlante", "smoke"),
    ("en", "my router caught fire last night, the whole desk is black", "fire"),
    ("fr", "la prise de la freebox a pris feu !", "fire"),
    (
        "en",
        "The overhead bin popped open in turbulence and a case fell on my son's head",
        "turbulence",
    ),
    (
        "fr",
        "le coffre à bagages s'est ouvert en vol, une valise est tombée sur ma tête",
        "turbulence",
    ),
    ("en", "a passenger was injured when the trolley hit him", "injury"),
    ("fr", "mon fils s'est blessé avec le câble qui traîne", "injury"),
    ("en", "medical emergency on board flight 212, nobody is helping", "medical emergency"),
    (
        "fr",
        "mon père a fait un malaise, crise cardiaque, et la ligne est coupée !",
        "medical emergency",
    ),
    ("en", "a drunk passenger threatened to kill the crew", "threat"),
    ("fr", "le technicien m'a menacée de mort quand j'ai refusé", "threat"),
    (
        "en",
        "my son is alone at the gate, the unaccompanied minor service never came",
        "child alone",
    ),
    ("fr", "ma fille de 9 ans est toute seule à l'aéroport, personne ne répond", "child alone"),
    ("en", "someone broke in and your alarm system is not working", "security risk"),
    (
        "fr",
        "on a été cambriolés et l'alarme ne fonctionne plus depuis votre mise à jour",
        "security risk",
    ),
    ("en", "I can smell gas near the meter, gas leak", "gas leak"),
    ("fr", "odeur de gaz dans la cage d'escalier", "gas leak"),
    ("en", "got an electric shock from the charger you sent", "electric shock"),
    ("fr", "les fils sont dénudés sur la prise du boîtier", "electric shock"),
    ("fr", "le câble arraché pend dans la rue, c'est dangereux pour les enfants", "fallen cable"),
    ("fr", "ma mère de 88 ans a sa téléassistance coupée depuis la panne", "medical alarm"),
]


@pytest.mark.parametrize(("lang", "text", "kind"), SAFETY_CASES)
def test_safety_cues_are_p1_with_the_kind_named(lang: str, text: str, kind: str) -> None:
    assert kind in kinds(text, "safety")
    d = decide(text)
    assert d.needs_answer
    assert d.priority == 1
    assert f"safety risk: {kind}" in d.reasons
    assert d.language == lang


VULNERABLE_CASES = [
    (
        "en",
        "My disabled daughter needs wheelchair assistance at boarding, nobody confirmed it",
        "disability assistance",
    ),
    (
        "fr",
        "mon fils est handicapé, l'assistance PMR n'était pas là à l'arrivée",
        "disability assistance",
    ),
    ("en", "my father passed away and I need to cancel his flight, please help", "bereavement"),
    (
        "fr",
        "suite au décès de mon mari je veux résilier sa ligne, personne ne répond",
        "bereavement",
    ),
    (
        "en",
        "my 15-year-old is flying alone next week as an unaccompanied minor, how does it work?",
        "a minor",
    ),
    ("fr", "mon fils de 12 ans voyage seul, comment réserver l'accompagnement ?", "a minor"),
    (
        "en",
        "I lost my job and can't afford this bill, can we set up a payment plan?",
        "financial distress",
    ),
    (
        "fr",
        "je suis au chômage et vous me prélevez deux fois, je n'ai plus les moyens",
        "financial distress",
    ),
    ("en", "my grandmother is 91 and her landline has been dead for a week", "elderly person"),
]


@pytest.mark.parametrize(("lang", "text", "kind"), VULNERABLE_CASES)
def test_vulnerable_customers_are_at_least_p2(lang: str, text: str, kind: str) -> None:
    assert kind in kinds(text, "vulnerable")
    d = decide(text)
    assert d.needs_answer
    assert d.priority <= 2
    assert f"vulnerable customer: {kind}" in d.reasons
    assert d.language == lang


NEAR_MISSES = [
    "this fee is killing me 😂",
    "your prices are killing me, but the crew was lovely",
    "the new livery is fire 🔥🔥",
    "you guys are on fire today, great job",
    "I'm dying to try the new lounge",
    "j'ai explosé de rire devant la pub 😂",
    "mort de rire, la musique d'attente",
    "just watched a grown man fight the overhead bin for 4 minutes. the bin won.",
    "me watching the safety video for the 40th time 👉👈",
    "that landing was a bomb, well done captain",
    "my complaint fell on deaf ears, as usual",
    "Free fait la sourde oreille depuis des semaines",
    "add insult to injury: the app crashed again",
    "they threatened to cut my line if I don't pay",
    "my phone died so I couldn't check in",
    "smoke and mirrors, that's your pricing",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_jokes_and_idioms_are_not_danger(text: str) -> None:
    assert kinds(text, "safety") == set()
    d = decide(text)
    assert d.priority > 1
    assert not any(r.startswith("safety risk") for r in d.reasons)


@pytest.mark.parametrize(
    "text",
    [
        "Free fait la sourde oreille depuis des semaines",
        "my complaint fell on deaf ears",
        "my phone died at the gate",
    ],
)
def test_idioms_do_not_make_a_customer_vulnerable(text: str) -> None:
    assert kinds(text, "vulnerable") == set()


def test_a_safety_case_outranks_everything_and_keeps_its_reason_first() -> None:
    d = decide(
        "URGENT smoke in the cabin, flight 88 still at the gate, my 84 year old mother is "
        "on board, still no answer",
        repeat_contact=True,
        waited_seconds=5 * 3600.0,
    )
    assert d.priority == 1
    assert d.reasons[0] == "safety risk: smoke"
    assert "vulnerable customer: elderly person" in d.reasons


def test_vulnerability_raises_priority_only_when_there_is_something_to_answer() -> None:
    praise = decide(
        "Flew alone with my 2 toddlers today and the crew helped with everything, thank you!"
    )
    assert not praise.needs_answer
    assert praise.priority == 4


def test_every_kind_has_phrases_in_both_tables() -> None:
    assert all(SAFETY.values()) and all(VULNERABILITY.values())
    assert not set(SAFETY) & set(VULNERABILITY)
