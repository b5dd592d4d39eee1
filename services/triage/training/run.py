"""``python -m services.triage train``: fit, measure honestly, write the artifact and the card.

Measured before the final fit, each time on posts the measuring model did not train on
(``cv``; calibration and thresholds always come from the measuring model's own inner folds):

- all our gold rows but pool 3 (dev, pool 1, pool 2), 5-fold cross-validation, per language
  and slice;
- pool 3, held out of training: the shipped model on labelled posts it never saw;
- English, leave one brand group out: the proxy for a brand the model has never seen;
- the complaints task of Preotiuc-Pietro et al. (2019) on a held-out split, beside the paper;
- the demo corpus (hand-written live-style posts with expected labels, decided with their
  thread), never trained on.

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

from services.triage.domain.model import DEFAULT_DIRECTORY
from services.triage.domain.triage import ANSWERED, Decision, Thread, Triage
from services.triage.training import card, cv, data, evaluate, fit

Log = Callable[[str], None]
DEMO = data.REPO / "demo" / "messages.json"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def complaint_task(data_dir: Path, config: fit.Config) -> dict[str, Any]:
    """Complaint vs not on the 1,974 customer-service tweets, with our features and a
    logistic regression: an 80/20 stratified held-out split, and 10-fold cross-validation
    (the paper's protocol)."""
    texts, labels, _domains = data.complaint_task(data_dir)
    x = fit.featurise(texts)[0]
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
    folded = evaluate.binary(list(y), list(predicted))
    folded["accuracy"] = round(float((predicted == y).mean()), 4)
    return {
        "rows": len(texts),
        "complaints": int(y.sum()),
        "held_out_20pct": held,
        "cv_10fold": folded,
    }


def thread_of(e: data.Example) -> Thread | None:
    """A gold follow-up replies to the brand's post in ``parent``."""
    return Thread(ANSWERED, e.parent) if e.parent else None


def decide_in_thread(triage: Triage, e: data.Example) -> Decision:
    return triage.decide(e.text, thread=thread_of(e))


def demo_check(triage: Triage) -> dict[str, Any]:
    """The demo corpus, decided as the consumer would: each inbound message with its kind
    and, when it replies to the brand's message, that thread. Counts the no-answer
    messages that would reach the queue and the needed ones that would not."""
    corpus = json.loads(DEMO.read_text(encoding="utf-8"))
    by_id = {m["external_id"]: m for m in corpus["messages"]}
    rows, decisions, listed = [], [], []
    for n, message in enumerate(corpus["messages"]):
        if message.get("direction", "in") != "in":
            continue
        parent = by_id.get(message.get("in_reply_to") or "")
        thread = None
        if parent is not None and parent.get("direction") == "out":
            thread = Thread(ANSWERED, parent["text"])
        expect = message["expect"]
        d = triage.decide(message["text"], kind=message.get("kind", "mention"), thread=thread)
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
        decisions.append(d)
        if d.needs_answer != bool(expect["needs_answer"]):
            listed.append(
                {
                    "id": message["external_id"],
                    "expected": bool(expect["needs_answer"]),
                    "reasons": list(d.reasons),
                }
            )
    result = evaluate.report(rows, decisions, triage.model.version)
    no_need = [d for r, d in zip(rows, decisions, strict=True) if not r.needs_answer]
    needed = [d for r, d in zip(rows, decisions, strict=True) if r.needs_answer]
    result["queue"] = {
        "no_answer_messages": len(no_need),
        "no_answer_in_queue": sum(d.needs_answer for d in no_need),
        "needed_messages": len(needed),
        "needed_missed": sum(not d.needs_answer for d in needed),
        "wrong": listed,
    }
    return result


def unseen_check(triage: Triage) -> dict[str, Any]:
    """The shipped model on pool 3: labelled posts held out of training and of every choice
    made while building it, decided with their thread as the consumer would."""
    rows = [e for e in data.unseen_gold() if e.needs_answer is not None]
    measured = cv.Measured(rows, [decide_in_thread(triage, e) for e in rows])
    return cv.breakdown(measured) if rows else {}


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
    table = fit.word_table() if config.vectors else None
    m = fit.matrix(corpus.examples, table)
    evaluation: dict[str, Any] = {}
    if measure:
        log("all gold rows, 5-fold cross-validation:")
        evaluation["cv"] = cv.cross_validate(corpus, m, config, log, decide_in_thread)
        log("English, leave one brand group out:")
        evaluation["lobo"] = cv.leave_one_brand_out(corpus, m, config, log, decide_in_thread)
        evaluation["complaints"] = complaint_task(data_dir, config)
        log("  complaints task done")
    trained = fit.train(m, config)
    meta, arrays = fit.build(trained, corpus, config)
    model = fit.in_memory(trained, corpus, config)
    if measure:
        evaluation["unseen"] = unseen_check(Triage(model))
        evaluation["demo"] = demo_check(Triage(model))
        evaluation["baseline"] = card.baseline()
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
