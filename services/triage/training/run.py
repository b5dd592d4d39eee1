"""``python -m services.triage train``: fit, measure honestly, write the artifact and the card.

Measured before the final fit, each time on posts the measuring model did not train on:

- dev set, 5-fold cross-validation: each fold is decided by a model trained on everything
  except that fold (calibration and thresholds included, from its own inner folds);
- pool 1, the same way (a second, larger set of our labels);
- a held-out file: dev.csv decided by a model trained without any dev row, through the same
  code as ``python -m services.triage eval``;
- the complaints task of Preotiuc-Pietro et al. (2019) on a held-out split, beside the paper;
- the demo corpus (hand-written live-style posts with expected labels), never trained on.

Everything is seeded; the same files give the same artifact, byte for byte.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.model_selection import (  # type: ignore[import-untyped]
    StratifiedKFold,
    StratifiedShuffleSplit,
)

from services.triage.domain.model import DEFAULT_DIRECTORY, Model
from services.triage.domain.triage import Triage
from services.triage.training import card, data, evaluate, fit

Log = Callable[[str], None]
DEMO = data.REPO / "demo" / "messages.json"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cross_validate(
    corpus: data.Corpus,
    m: fit.Matrix,
    source: str,
    raw: dict[str, evaluate.Row],
    config: fit.Config,
    log: Log,
) -> dict[str, Any]:
    """Decide each ``source`` row with a model trained on every row but its fold's."""
    rows = np.array([i for i, e in enumerate(corpus.examples) if e.source == source])
    strata = np.char.add(m.lang[rows], m.need[rows].astype(str))
    folds = StratifiedKFold(config.folds, shuffle=True, random_state=config.seed + 1)
    truth: list[evaluate.Row] = []
    decisions = []
    thresholds = []
    for k, (_, held_part) in enumerate(folds.split(rows, strata)):
        held = rows[held_part]
        keep = np.ones(len(corpus.examples), dtype=np.bool_)
        keep[held] = False
        trained = fit.train(m.rows(np.flatnonzero(keep)), config)
        triage = Triage(fit.in_memory(trained, corpus, config))
        thresholds.append(trained.need_thresholds)
        for i in held:
            example = corpus.examples[int(i)]
            row = raw.get(example.id) or evaluate.Row(
                example.id,
                example.text,
                example.needs_answer,
                example.lang,
                example.intent,
                example.abuse,
            )
            truth.append(row)
            decisions.append(triage.decide(row.text))
        log(f"  {source} fold {k + 1}/{config.folds} done")
    result = evaluate.report(truth, decisions, "cross-validated")
    result["fold_thresholds"] = thresholds
    return result


def held_out(data_dir: Path, config: fit.Config, log: Log) -> tuple[dict[str, Any], Model]:
    """dev.csv decided by a model that never saw a dev row (nor their public copies)."""
    corpus = data.load(data_dir, include_dev=False)
    trained = fit.train(fit.matrix(corpus.examples), config)
    model = fit.in_memory(trained, corpus, config)
    result = evaluate.evaluate_file(data_dir / "ecoute_dev" / "dev.csv", Triage(model))
    log("  held-out evaluation done")
    return result, model


def complaint_task(data_dir: Path, config: fit.Config) -> dict[str, Any]:
    """Complaint vs not on the 1,974 customer-service tweets, with our features and a
    logistic regression: an 80/20 stratified held-out split, and 10-fold cross-validation
    (the paper's protocol)."""
    texts, labels, _domains = data.complaint_task(data_dir)
    x, _, _, _ = fit.featurise(texts)
    y = np.array(labels)

    def scores(train: Any, test: Any) -> dict[str, float]:
        model = LogisticRegression(
            C=config.c_need, solver="liblinear", dual=True, max_iter=5000, random_state=config.seed
        ).fit(x[train], y[train])
        predicted = model.predict(x[test])
        result = evaluate.binary(list(y[test]), list(predicted))
        result["accuracy"] = round(float((predicted == y[test]).mean()), 4)
        return result

    split = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=config.seed)
    train, test = next(split.split(texts, y))
    held = scores(train, test)
    predicted = np.zeros(len(y), dtype=np.int64)
    for tr, te in StratifiedKFold(10, shuffle=True, random_state=config.seed).split(texts, y):
        model = LogisticRegression(
            C=config.c_need, solver="liblinear", dual=True, max_iter=5000, random_state=config.seed
        ).fit(x[tr], y[tr])
        predicted[te] = model.predict(x[te])
    cv = evaluate.binary(list(y), list(predicted))
    cv["accuracy"] = round(float((predicted == y).mean()), 4)
    return {"rows": len(texts), "complaints": int(y.sum()), "held_out_20pct": held, "cv_10fold": cv}


def demo_agreement(triage: Triage) -> dict[str, Any]:
    """The demo corpus: hand-written live-style posts with the labels they should get."""
    corpus = json.loads(DEMO.read_text(encoding="utf-8"))
    rows, decisions = [], []
    for n, message in enumerate(corpus["messages"]):
        if message.get("direction", "in") != "in":
            continue
        expect = message["expect"]
        rows.append(
            evaluate.Row(
                str(n),
                message["text"],
                int(expect["needs_answer"]),
                None,
                expect.get("intent"),
                int(expect["abuse"]),
            )
        )
        decisions.append(triage.decide(message["text"], kind=message.get("kind", "mention")))
    return evaluate.report(rows, decisions, triage.model.version)


def train_command(
    data_dir: Path = data.SHARED_DATA,
    out: Path = DEFAULT_DIRECTORY,
    card_path: Path | None = data.REPO / "docs" / "model_card.md",
    *,
    measure: bool = True,
    config: fit.Config = fit.DEFAULT_CONFIG,
    log: Log = _stderr,
) -> dict[str, Any]:
    started = time.monotonic()
    corpus = data.load(data_dir)
    log(f"{len(corpus.examples)} training rows from {len(corpus.counts())} sources")
    m = fit.matrix(corpus.examples)
    evaluation: dict[str, Any] = {}
    if measure:
        raw = {r.id: r for r in evaluate.read_rows(data_dir / "ecoute_dev" / "dev.csv")}
        log("dev set, cross-validated:")
        evaluation["dev_cv"] = cross_validate(corpus, m, "dev", raw, config, log)
        log("pool 1, cross-validated:")
        evaluation["pool1_cv"] = cross_validate(corpus, m, "pool1", {}, config, log)
        evaluation["held_out_dev"], _ = held_out(data_dir, config, log)
        evaluation["complaints"] = complaint_task(data_dir, config)
        log("  complaints task done")
    trained = fit.train(m, config)
    meta, arrays = fit.build(trained, corpus, config)
    model = fit.in_memory(trained, corpus, config)
    if measure:
        evaluation["demo"] = demo_agreement(Triage(model))
        meta["evaluation"] = json.loads(json.dumps(evaluation, default=fit.plain))
    written = fit.export(meta, arrays, out)
    size = sum(p.stat().st_size for p in written)
    meta["artifact_bytes"] = size
    if card_path is not None and measure:
        card_path.parent.mkdir(parents=True, exist_ok=True)
        card_path.write_text(card.render(meta, data.SOURCES), encoding="utf-8")
    log(
        f"wrote {', '.join(str(p) for p in written)} ({size / 1e6:.2f} MB) in "
        f"{time.monotonic() - started:.0f} s; version {meta['version']}"
    )
    return meta
