"""Training and measuring, on a few rows: reproducible, and measured the way the card says."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from services.triage.domain.model import INTENTS, from_arrays, load
from services.triage.domain.triage import Decision, Triage
from services.triage.training import data, evaluate, fit

ROWS = [
    ("fr", "plus d'internet depuis ce matin", 1, "problem", 0),
    ("fr", "ma box ne marche plus depuis hier", 1, "problem", 0),
    ("fr", "comment résilier mon abonnement ?", 1, "question", 0),
    ("fr", "quand revient la fibre à Lyon ?", 1, "question", 0),
    ("fr", "merci de me rappeler svp", 1, "request", 0),
    ("fr", "bande de connards, toujours pas de réseau", 1, "problem", 1),
    ("fr", "bravo pour la nouvelle box", 0, "praise", 0),
    ("fr", "mdr trop bien le match", 0, "banter", 0),
    ("fr", "vous êtes des abrutis", 0, "abuse", 1),
    ("fr", "jeu concours gagnez une box", 0, "spam", 0),
    ("fr", "super service merci", 0, "praise", 0),
    ("fr", "ouais enfin", 0, "banter", 0),
    ("en", "my bag never arrived", 1, "problem", 0),
    ("en", "flight cancelled and no rebooking", 1, "problem", 0),
    ("en", "how do I change my seat?", 1, "question", 0),
    ("en", "can I bring my bike?", 1, "question", 0),
    ("en", "please refund my ticket", 1, "request", 0),
    ("en", "you idiots lost my luggage again", 1, "problem", 1),
    ("en", "great crew today thanks", 0, "praise", 0),
    ("en", "lol same", 0, "banter", 0),
    ("en", "your agent is a stupid bitch", 0, "abuse", 1),
    ("en", "check out my channel", 0, "spam", 0),
    ("en", "love you guys", 0, "praise", 0),
    ("en", "good morning", 0, "banter", 0),
]


@pytest.fixture(scope="module")
def tiny() -> tuple[data.Corpus, fit.Matrix, fit.Config]:
    examples = [
        data.Example(text, lang, "test", need, intent, abuse, gold=True)
        for lang, text, need, intent, abuse in ROWS
    ]
    corpus = data.Corpus(examples, "tiny")
    return corpus, fit.matrix(examples), fit.Config(folds=2)


@pytest.fixture(scope="module")
def trained(tiny: tuple[data.Corpus, fit.Matrix, fit.Config]) -> fit.Trained:
    _corpus, m, config = tiny
    return fit.train(m, config)


def test_a_tiny_training_gives_a_working_model(
    tiny: tuple[data.Corpus, fit.Matrix, fit.Config], trained: fit.Trained
) -> None:
    corpus, _m, config = tiny
    model = fit.in_memory(trained, corpus, config)
    assert model.version.startswith(f"triage-{fit.MODEL_GENERATION}-")
    assert set(model.need_thresholds) == {"fr", "en"}
    d = Triage(model).decide("plus d'internet depuis ce matin")
    assert isinstance(d, Decision)
    assert d.needs_answer
    assert d.model_version == model.version


def test_training_is_reproducible(
    tiny: tuple[data.Corpus, fit.Matrix, fit.Config], trained: fit.Trained
) -> None:
    corpus, m, config = tiny
    first = fit.build(trained, corpus, config)
    second = fit.build(fit.train(m, config), corpus, config)
    assert first[0]["version"] == second[0]["version"]
    for name, array in first[1].items():
        assert np.array_equal(array, second[1][name])


def test_export_writes_an_artifact_the_domain_loads(
    tiny: tuple[data.Corpus, fit.Matrix, fit.Config], trained: fit.Trained, tmp_path: Path
) -> None:
    corpus, _m, config = tiny
    (tmp_path / "triage-old.npz").write_bytes(b"stale")
    meta, arrays = fit.build(trained, corpus, config)
    written = fit.export(meta, arrays, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {p.name for p in written}
    model = load(tmp_path)
    assert model.version == meta["version"]
    assert Triage(model).decide("lol same") == Triage(from_arrays(meta, arrays)).decide("lol same")


def test_an_artifact_for_another_feature_layout_is_refused(
    tiny: tuple[data.Corpus, fit.Matrix, fit.Config], trained: fit.Trained
) -> None:
    corpus, _m, config = tiny
    meta, arrays = fit.build(trained, corpus, config)
    arrays["weights"] = arrays["weights"][:1000]
    with pytest.raises(ValueError, match="feature layout"):
        from_arrays(meta, arrays)


def test_the_recall_threshold_keeps_recall_with_the_rules_applied() -> None:
    p = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.05])
    labels = np.array([1, 1, 1, 1, 0, 0], dtype=np.int8)
    free = np.full(6, -1, dtype=np.int8)
    assert fit.recall_threshold(p, labels, free, 0.75) == 0.7
    assert fit.recall_threshold(p, labels, free, 1.0) == 0.2
    # a rule already catching the low-scoring positive lets the threshold rise
    ruled = np.array([-1, -1, -1, 1, -1, -1], dtype=np.int8)
    assert fit.recall_threshold(p, labels, ruled, 1.0) == 0.7


def test_public_rows_never_repeat_our_labelled_posts() -> None:
    gold = data.Example("my bag is lost", "en", "dev", 1, gold=True)
    public = [
        data.Example("My bag is LOST", "en", "airline", 1),
        data.Example("other words", "en", "airline", 1),
    ]
    kept = list(data._dedupe(public, {"my bag is lost"}))
    assert [e.text for e in kept] == ["other words"]
    assert gold.gold


def test_the_airline_find_replace_artefact_is_undone() -> None:
    assert data.undo_airline_artefact("flight Cancelled Flightled, Late Flightr") == (
        "flight cancelled, later"
    )


# --- the metrics of the eval command -------------------------------------------


def test_binary_metrics() -> None:
    result = evaluate.binary([1, 1, 1, 0, 0], [1, 1, 0, 1, 0])
    assert result == {
        "precision": 0.6667,
        "recall": 0.6667,
        "f1": 0.6667,
        "macro_f1": 0.5833,
        "n": 5,
    }


def test_macro_f1_averages_the_classes_present() -> None:
    assert evaluate.macro_f1(["a", "a", "b"], ["a", "b", "b"]) == 0.6667
    assert evaluate.macro_f1([], []) == 0.0


def test_report_leaves_out_rows_without_an_optional_label() -> None:
    rows = [
        evaluate.Row("1", "t", 1, "fr", "problem", 1),
        evaluate.Row("2", "t", 0, "en", None, None),
        evaluate.Row("3", "t", None, None, "praise", 0),
    ]
    decision = Decision(True, "problem", True, "fr", 2, 0.9, ("reports a problem",), "v")
    result = evaluate.report(rows, [decision] * 3, "v")
    assert result["needs_answer"]["n"] == 2
    assert result["by_lang"]["fr"]["n"] == 1
    assert result["by_lang"]["en"]["n"] == 1
    assert result["abuse"]["n"] == 2
    assert set(result["abuse"]) == {"precision", "recall", "f1", "n"}
    # problem: 1 right, 1 false alarm (F1 2/3); praise: missed (F1 0)
    assert result["intent_macro_f1"] == 0.3333
    assert result["model_version"] == "v"
    json.dumps(result)


def test_intents_match_the_labelling_guideline() -> None:
    assert data.INTENTS == INTENTS
