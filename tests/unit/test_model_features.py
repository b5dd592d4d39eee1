"""Features: what the model reads must not depend on how a post happens to be typed."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from services.triage.domain.features import FLAG_INDEX, FLAGS, HASHED, N_FEATURES, extract
from services.triage.domain.normalise import normalise
from services.triage.domain.rules import own_words, scan


def features_of(text: str) -> dict[int, float]:
    own = own_words(normalise(text))
    found = extract(own, scan(own))
    return dict(zip(found.indices.tolist(), found.values.tolist(), strict=True))


@pytest.mark.parametrize(
    ("live", "exported"),
    [
        # live traffic vs the French export: case, accents, handles, glued line breaks
        (
            "@Free Bonjour\nJe n'ai plus Internet depuis 3 jours",
            "bonjournje n'ai plus internet depuis 3 jours",
        ),
        ("PLUS DE RÉSEAU À LYON", "plus de reseau a lyon"),
        ("@united my bag is lost", "my bag is lost"),
        ("je n’ai plus d’internet", "je n'ai plus d'internet"),
        ("<p>Ma box est <b>HS</b></p>", "ma box est hs"),
    ],
)
def test_the_same_words_typed_differently_read_the_same(live: str, exported: str) -> None:
    assert features_of(live) == features_of(exported)


def test_digits_are_folded_so_numbers_share_features() -> None:
    assert features_of("flight 1234 delayed") == features_of("flight 5678 delayed")


def test_repeating_a_word_does_not_make_it_weigh_more() -> None:
    once, spammed = extract("panne"), extract(normalise("panne " * 300))
    assert spammed.n_chars == once.n_chars
    chars = slice(0, once.n_chars)
    assert spammed.indices[chars].tolist() == once.indices[chars].tolist()
    assert spammed.values[chars].tolist() == once.values[chars].tolist()


def test_values_are_normalised_per_block() -> None:
    own = own_words(normalise("my bag never arrived, can you help?"))
    found = extract(own, scan(own))
    hashed = found.n_chars + found.n_tokens
    chars = found.values[: found.n_chars]
    words = found.values[found.n_chars : hashed]
    assert np.isclose(np.sum(chars**2), 1.0)
    assert np.isclose(np.sum(words**2), 1.0)
    assert np.all(found.values[hashed:] == 1.0)


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("where is my bag?", "has_question_mark"),
        ("no internet!", "has_exclamation"),
        ("look https://t.co/x", "has_link"),
        ("ask @jane about it", "mentions_someone"),
        ("panne", "words_1_3"),
        ("plus de réseau depuis ce matin", "cue_outage"),
        ("c'est réglé merci", "cue_resolved"),
    ],
)
def test_flags(text: str, flag: str) -> None:
    assert FLAG_INDEX[flag] in features_of(text)


def test_a_leading_handle_only_says_who_is_addressed() -> None:
    assert FLAG_INDEX["mentions_someone"] not in features_of("@united where is my bag")


@pytest.mark.parametrize(
    "text", ["", "😂😂😂", "x\ud800y", "a" * 10_000, "<b>" * 500, "\x00\x1b[2J", "n" * 3000]
)
def test_any_text_gives_valid_indices(text: str) -> None:
    own = own_words(normalise(text))
    found = extract(own, scan(own))
    assert found.indices.dtype == np.int64
    assert np.all((found.indices >= 0) & (found.indices < N_FEATURES))
    assert len(found.indices) == len(found.values)
    assert np.all(np.isfinite(found.values))
    assert len(found.tokens) == len(found.token_buckets)


def test_hashes_are_the_same_in_every_process() -> None:
    """Python's own hash() changes per process; the model's must not, or the artifact breaks."""
    code = (
        "from services.triage.domain.features import extract;"
        "print(extract('plus de reseau depuis hier').indices.tolist())"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2")
    }
    assert runs == {str(extract("plus de reseau depuis hier").indices.tolist()) + "\n"}


def test_the_layout_the_artifact_depends_on() -> None:
    """Changing these changes every feature index: retrain (make train) when you do."""
    assert HASHED == 2**18
    assert FLAGS[:4] == ("has_question_mark", "has_exclamation", "has_link", "mentions_someone")
    assert sorted(extract("panne").indices.tolist())[:3] == [6768, 7438, 31964]
