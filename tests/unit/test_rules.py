"""Rule cue families: the readable rules that feed the model, the priority and the reasons."""

from __future__ import annotations

import inspect

import pytest

from services.triage.domain import features, language, normalise, rules, triage
from services.triage.domain.normalise import normalise as norm
from services.triage.domain.rules import FAMILIES, has_words, own_words, scan


def families(text: str) -> set[str]:
    return set(scan(own_words(norm(text))))


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("@Free panne internet depuis ce matin", "outage"),
        ("je n'ai plus de réseau", "outage"),
        ("@united website down again??", "outage"),
        ("vous m'avez prélevé deux fois", "money"),
        ("I was charged twice for the same ticket", "money"),
        ("still waiting for my refund", "refund"),
        ("je veux être remboursé", "refund"),
        ("mon compte est bloqué", "access"),
        ("I can't log in to my account", "access"),
        ("de la fumée sort de ma box", "safety"),
        ("smoke coming from the engine", "safety"),
        ("le câble arraché pend dans la rue", "safety"),
        ("URGENT svp", "urgent"),
        ("ma mère de 85 ans est sans téléphone", "vulnerable"),
        ("I had surgery last week", "health"),
        ("toujours pas de réponse", "followup"),
        ("le problème n'est toujours pas réglé", "notresolved"),
        ("c'est réglé, merci", "resolved"),
        ("All sorted now, thanks!", "resolved"),
        ("comment faire pour changer mon offre ?", "question"),
        ("merci de me rappeler", "request"),
        ("vous êtes des connards", "abuse"),
        ("@united your agent is a stupid bitch", "abuse"),
        ("great crew today, thanks!", "praise"),
        ("lol 😂", "banter"),
        ("Tag a friend to win a free trip", "spam"),
        ("We're sorry to hear that. Please DM us your confirmation number", "brand"),
        ("flight 1234 confirmation number ABC", "details"),
    ],
)
def test_each_family_recognises_its_phrases(text: str, family: str) -> None:
    assert family in families(text)


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        # a health situation is not a danger happening now (the "surgery" false alarm)
        ("Please refund my flight, I had surgery and cannot travel", "safety"),
        ("hospital letter attached, please cancel my booking", "safety"),
        # swearing not aimed at anyone is not an insult
        ("putain encore en panne", "abuse"),
        ("this is f***ing ridiculous", "abuse"),
        # "not resolved" is not a closing message
        ("still not resolved after 3 calls", "resolved"),
        # "bloquée à l'étape 2" is a box stuck at boot, not a locked account
        ("freebox bloquée à l'étape 2", "access"),
    ],
)
def test_families_do_not_fire_on_look_alikes(text: str, absent: str) -> None:
    assert absent not in families(text)


def test_a_phrase_is_counted_each_time_it_appears() -> None:
    assert scan(norm("panne, encore une panne, toujours en panne"))["outage"] >= 3


def test_words_quoted_from_the_brand_are_not_the_authors() -> None:
    text = norm('"@Free: nous sommes désolés pour la panne" merci bien')
    assert "brand" not in scan(own_words(text))
    assert "brand" in scan(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", False), ("😂😂", False), ("url @user", False), ("ok", True), ("panne", True)],
)
def test_has_words(text: str, expected: bool) -> None:
    assert has_words(norm(text)) is expected


def test_every_family_is_a_model_feature() -> None:
    """The model reads one flag per family; a family the model cannot see is a silent rule."""
    assert {f"cue_{family}" for family in FAMILIES} == {
        f for f in features.FLAGS if f.startswith("cue_")
    }


def test_long_repetitive_input_is_scanned() -> None:
    text = norm("toujours pas de reponse depuis 3 jours " * 300)
    assert "followup" in scan(text)


@pytest.mark.parametrize("module", [rules, language, normalise, features, triage])
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
