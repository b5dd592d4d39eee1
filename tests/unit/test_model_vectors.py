"""Meaning features: the word-vector table, the stacked meaning head, and how they are served."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.triage.domain.features import extract
from services.triage.domain.model import from_arrays, load
from services.triage.domain.triage import Triage
from services.triage.domain.vectors import WordVectors, load_table
from services.triage.training import data, fit
from services.triage.training.meaning import fit_offset
from services.triage.training.vectors import reduce, write

MODEL = load()


def table(words: list[str], seed: int = 0, dims: int = 4) -> WordVectors:
    vectors = np.random.default_rng(seed).normal(size=(len(words), dims)).astype(np.float32)
    return WordVectors("test", tuple(words), vectors)


def test_a_post_vector_is_the_mean_of_its_distinct_known_words() -> None:
    t = table(["panne", "internet", "lol"])
    expected = (t.vectors[0] + t.vectors[1]) / 2
    got = t.mean(("panne", "panne", "unknown", "internet"))
    assert np.allclose(got, expected)
    assert np.array_equal(t.mean(("nothing", "known")), np.zeros(4, np.float32))
    assert t.mean(()).shape == (4,)


def test_a_table_round_trips_through_its_file(tmp_path: Path) -> None:
    words = ["bagage", "fumee", "luggage", "smoke"]
    raw = np.random.default_rng(1).normal(size=(4, 8)).astype(np.float32)
    path = write(words, reduce(raw, 3), tmp_path)
    assert path.name.startswith("words-")
    loaded = load_table(path)
    assert loaded.words == tuple(words)
    assert loaded.dims == 3
    assert loaded.vectors.dtype == np.float32
    # the same input gives the same file (the name is the content hash)
    assert write(words, reduce(raw, 3), tmp_path) == path
    assert len(list(tmp_path.glob("words-*.npz"))) == 1


def test_reduction_is_centred_and_sign_stable() -> None:
    raw = np.random.default_rng(2).normal(size=(50, 10)).astype(np.float32) + 5.0
    once, again = reduce(raw, 4), reduce(raw.copy(), 4)
    assert np.array_equal(once, again)
    assert np.allclose(once.astype(np.float64).mean(axis=0), 0.0, atol=1e-2)


def test_the_meaning_head_learns_what_the_offset_misses() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(400, 5))
    labels = (vectors[:, 2] > 0).astype(np.int8)  # only the vectors know the label
    head = fit_offset(vectors, np.zeros(400), labels, c=1.0)
    assert head.weights[2] > 0.5
    assert abs(head.weights[0]) < head.weights[2] / 3
    accuracy = ((head.scores(vectors) > 0) == labels.astype(bool)).mean()
    assert accuracy > 0.9
    # already known from the offset: nothing left to add
    strong = np.where(labels == 1, 8.0, -8.0)
    assert np.abs(fit_offset(vectors, strong, labels, c=1.0).weights).max() < 0.5


def test_a_tiny_training_with_a_table_ships_dense_weights() -> None:
    rows = [
        ("plus d'internet depuis ce matin", 1, 0),
        ("ma box ne marche plus", 1, 0),
        ("la fibre est coupée bande d'abrutis", 1, 1),
        ("bravo pour la box", 0, 0),
        ("merci beaucoup", 0, 0),
        ("vous êtes des connards", 0, 1),
    ] * 3
    examples = [
        data.Example(t, "fr", "test", n, "problem" if n else "praise", a, gold=True, id=f"{i}")
        for i, (t, n, a) in enumerate(rows)
    ]
    words = sorted({w for t, _, _ in rows for w in extract(t).tokens})
    m = fit.matrix(examples, table(words, dims=3))
    trained = fit.train(m, fit.Config(folds=2, vectors=True))
    corpus = data.Corpus(examples, "tiny")
    meta, arrays = fit.build(trained, corpus, fit.Config(folds=2, vectors=True))
    assert arrays["dense"].shape == (3, len(meta["heads"]))
    assert np.all(arrays["dense"][:, 2:] == 0.0)  # intents read no vectors
    assert meta["vectors_file"] == "test"
    model = fit.in_memory(trained, corpus, fit.Config(folds=2, vectors=True))
    assert Triage(model).decide("plus d'internet").model_version == model.version
    # the meaning part moves the score of a post whose words are known
    features = extract("plus d'internet")
    rows = model.meaning_rows(features)
    assert rows
    assert not np.allclose(model.dense, 0.0)  # type: ignore[arg-type]


def test_an_exported_model_carries_its_table(tmp_path: Path) -> None:
    rows = [("plus d'internet", 1, 0), ("merci", 0, 0), ("bande de connards", 0, 1)] * 4
    examples = [
        data.Example(t, "fr", "test", n, "problem" if n else "praise", a, gold=True, id=f"{i}")
        for i, (t, n, a) in enumerate(rows)
    ]
    words = sorted({w for t, _, _ in rows for w in extract(t).tokens})
    tables = tmp_path / "tables"
    path = write(words, reduce(np.random.default_rng(4).normal(size=(len(words), 6)), 3), tables)
    m = fit.matrix(examples, load_table(path))
    config = fit.Config(folds=2, vectors=True)
    trained = fit.train(m, config)
    meta, arrays = fit.build(trained, data.Corpus(examples, "tiny"), config)
    out = tmp_path / "model"
    written = fit.export(meta, arrays, out, tables)
    assert (out / path.name) in written
    loaded = load(out)
    assert loaded.vectors is not None and loaded.vectors.name == path.name
    in_memory = fit.in_memory(trained, data.Corpus(examples, "tiny"), config)
    assert Triage(loaded).decide("plus d'internet") == Triage(in_memory).decide("plus d'internet")


def test_the_shipped_model_reads_no_table_while_vectors_are_off() -> None:
    """Measured on our folds, the stacked word vectors did not help (see the model card)."""
    assert not fit.DEFAULT_CONFIG.vectors
    assert MODEL.vectors is None and MODEL.dense is None


def test_an_artifact_that_needs_a_table_is_refused_without_it() -> None:
    meta = dict(MODEL.metadata)
    arrays = {
        "weights": MODEL.weights,
        "scales": MODEL.scales,
        "flags": MODEL.flags,
        "intercepts": MODEL.intercepts,
        "dense": np.zeros((4, len(MODEL.heads)), np.float32),
    }
    with pytest.raises(ValueError, match="word-vector table"):
        from_arrays(meta, arrays)
    with pytest.raises(ValueError, match="do not match the table"):
        from_arrays(meta, arrays, table(["a", "b"], dims=3))
