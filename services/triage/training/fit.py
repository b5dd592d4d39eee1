"""Fit the triage model: three kinds of linear heads over the domain's own features.

- needs_answer and abuse: binary logistic regressions (liblinear, L2);
- intent: a multinomial logistic regression over the ten intents.

Public data helps, but it does not mean exactly what our labels mean. Each head is fitted
with "frustratingly easy" domain adaptation (Daumé III, 2007): every feature has a shared
copy and a copy that fires only on our own labelled posts, so public rows shape the shared
weights and our labels can correct them. The shipped weight of a feature is the sum of its
two copies (what a post of ours sees), so the artifact stays one weight row per feature.

needs_answer is calibrated by cross-validation over our labelled posts: each post is scored
by a model that did not see it, a Platt scaling maps scores to probabilities, and for each
language the threshold is the highest probability that still gives the recall target on those
out-of-fold predictions, rules (brand, spam, closing messages) applied as in production.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp  # type: ignore[import-untyped]
import sklearn  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]

from services.triage.domain import features as feature_extraction
from services.triage.domain.language import detect_normalised
from services.triage.domain.model import INTENTS, MANIFEST, Model, from_arrays
from services.triage.domain.normalise import normalise
from services.triage.domain.rules import own_words, scan
from services.triage.domain.triage import rule_verdict
from services.triage.training.data import SEED, Corpus, Example

MODEL_GENERATION = "2"  # bump when the feature layout or the decision logic changes

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Config:
    c_need: float = 4.0
    c_abuse: float = 4.0
    c_intent: float = 4.0
    folds: int = 5
    recall_target: float = 0.96  # 0.95 wanted; the margin covers fold-to-fold variation
    intent_balanced: bool = True  # rare intents (spam, brand, abuse) weigh as much as common ones
    seed: int = SEED


DEFAULT_CONFIG = Config()


@dataclass(slots=True)
class Matrix:
    """The corpus as the model sees it, plus what the rules settle per row."""

    x: Any  # scipy CSR (rows, N_FEATURES)
    gold: npt.NDArray[np.bool_]
    lang: npt.NDArray[np.str_]
    detected: npt.NDArray[np.str_]
    rule_need: npt.NDArray[np.int8]  # -1 model decides, 0/1 rules settle it
    abuse_cue: npt.NDArray[np.bool_]  # the abuse lexicon names an insult
    need: npt.NDArray[np.int8]  # -1 unknown
    abuse: npt.NDArray[np.int8]
    intent: npt.NDArray[np.int8]  # index into INTENTS, -1 unknown
    weight: FloatArray

    def rows(self, index: npt.NDArray[np.int64]) -> Matrix:
        return Matrix(
            self.x[index],
            self.gold[index],
            self.lang[index],
            self.detected[index],
            self.rule_need[index],
            self.abuse_cue[index],
            self.need[index],
            self.abuse[index],
            self.intent[index],
            self.weight[index],
        )


def featurise(texts: Sequence[str]) -> tuple[Any, list[str], list[int], list[bool]]:
    """Sparse features of each text, exactly as ``Triage.decide`` computes them, with the
    detected language, what the rules settle and whether the abuse lexicon fires."""
    indices, values, pointers = [], [], [0]
    detected, rule_need, abuse_cue = [], [], []
    for text in texts:
        norm = normalise(text)
        own = own_words(norm)
        cues = scan(own) if norm else {}
        verdict = rule_verdict(own, cues)
        found = feature_extraction.extract(own, cues)
        indices.append(found.indices)
        values.append(found.values)
        pointers.append(pointers[-1] + len(found.indices))
        detected.append(detect_normalised(norm))
        rule_need.append(-1 if verdict.needs_answer is None else int(verdict.needs_answer))
        abuse_cue.append("abuse" in cues)
    x = sp.csr_matrix(
        (
            np.concatenate(values) if values else np.zeros(0, np.float32),
            np.concatenate(indices) if indices else np.zeros(0, np.int64),
            np.array(pointers),
        ),
        shape=(len(texts), feature_extraction.N_FEATURES),
        dtype=np.float64,
    )
    x.sum_duplicates()
    return x, detected, rule_need, abuse_cue


def matrix(examples: Sequence[Example]) -> Matrix:
    x, detected, rule_need, abuse_cue = featurise([e.text for e in examples])
    return Matrix(
        x=x,
        gold=np.array([e.gold for e in examples], dtype=np.bool_),
        lang=np.array([e.lang for e in examples]),
        detected=np.array(detected),
        rule_need=np.array(rule_need, dtype=np.int8),
        abuse_cue=np.array(abuse_cue, dtype=np.bool_),
        need=np.array(
            [-1 if e.needs_answer is None else e.needs_answer for e in examples], np.int8
        ),
        abuse=np.array([-1 if e.abuse is None else e.abuse for e in examples], np.int8),
        intent=np.array(
            [INTENTS.index(e.intent) if e.intent else -1 for e in examples], dtype=np.int8
        ),
        weight=np.array([e.weight for e in examples], dtype=np.float64),
    )


def _augment(m: Matrix) -> Any:
    """Shared copy of every feature, plus a copy that fires on our own labelled posts only."""
    own = sp.diags(m.gold.astype(np.float64))
    return sp.hstack([m.x, own @ m.x], format="csr")


def _collapse(coef: FloatArray) -> FloatArray:
    """Weights a post of ours sees: shared + own copy, (heads, 2n) -> (heads, n)."""
    n = feature_extraction.N_FEATURES
    collapsed: FloatArray = coef[:, :n] + coef[:, n:]
    return collapsed


@dataclass(frozen=True, slots=True)
class Linear:
    coef: FloatArray  # (heads, N_FEATURES)
    intercept: FloatArray  # (heads,)

    def scores(self, x: Any) -> FloatArray:
        out: FloatArray = np.asarray(x @ self.coef.T) + self.intercept
        return out


def fit_binary(m: Matrix, labels: npt.NDArray[np.int8], c: float, seed: int) -> Linear:
    known = np.flatnonzero(labels >= 0)
    part = m.rows(known)
    model = _logistic(c, seed)
    model.fit(_augment(part), labels[known], sample_weight=part.weight)
    return Linear(_collapse(model.coef_), np.asarray(model.intercept_, dtype=np.float64))


def _logistic(c: float, seed: int) -> Any:
    """L2 logistic regression solved in the dual: features far outnumber rows."""
    return LogisticRegression(C=c, solver="liblinear", dual=True, max_iter=5000, random_state=seed)


def fit_intent(m: Matrix, c: float, seed: int, balanced: bool = True) -> Linear:
    """One-vs-rest logistic regressions, one per intent (the decision takes the argmax)."""
    known = np.flatnonzero(m.intent >= 0)
    part = m.rows(known)
    x = _augment(part)
    weight = part.weight.copy()
    if balanced:
        # each intent's rows weigh, in all, as much as any other intent's
        totals = np.bincount(part.intent, weights=weight, minlength=len(INTENTS))
        present = totals > 0
        weight *= (totals[present].mean() / np.where(present, totals, 1.0))[part.intent]
    coef = np.zeros((len(INTENTS), feature_extraction.N_FEATURES))
    intercept = np.full(len(INTENTS), -30.0)  # an intent never seen in training never wins
    for k in range(len(INTENTS)):
        labels = (part.intent == k).astype(np.int8)
        if 0 < labels.sum() < len(labels):
            model = _logistic(c, seed).fit(x, labels, sample_weight=weight)
            coef[k] = _collapse(model.coef_)[0]
            intercept[k] = model.intercept_[0]
    return Linear(coef, intercept)


def platt(scores: FloatArray, labels: npt.NDArray[np.int8]) -> tuple[float, float]:
    """p = sigmoid(a * score + b), fitted on out-of-fold scores."""
    model = LogisticRegression(C=1e4, solver="lbfgs")
    model.fit(scores.reshape(-1, 1), labels)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def _sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = 1.0 / (1.0 + np.exp(-x))
    return out


def need_decisions(p: FloatArray, rule_need: npt.NDArray[np.int8], threshold: float) -> Any:
    """The production rule: rules settle some posts, the threshold the rest."""
    return np.where(rule_need >= 0, rule_need == 1, p >= threshold)


def recall_threshold(
    p: FloatArray, labels: npt.NDArray[np.int8], rule_need: npt.NDArray[np.int8], target: float
) -> float:
    """Highest threshold whose recall (rules applied) reaches ``target``."""
    positives = labels == 1
    if not positives.any():
        return 0.5
    best = 0.0
    for threshold in np.unique(np.concatenate([p, [0.0]])):
        decided = need_decisions(p, rule_need, float(threshold))
        recall = (decided & positives).sum() / positives.sum()
        if recall >= target:
            best = max(best, float(threshold))
    return best


def best_f1_threshold(
    p: FloatArray, labels: npt.NDArray[np.int8], lexicon: npt.NDArray[np.bool_]
) -> float:
    """The threshold with the best F1, the lexicon's hits counting as positive anyway."""
    best, best_f1 = 0.5, -1.0
    for threshold in np.unique(p):
        predicted = lexicon | (p >= threshold)
        tp = int((predicted & (labels == 1)).sum())
        fp = int((predicted & (labels == 0)).sum())
        fn = int((~predicted & (labels == 1)).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best_f1:
            best, best_f1 = float(threshold), f1
    return best


@dataclass(slots=True)
class Trained:
    need: Linear
    abuse: Linear
    intent: Linear
    need_platt: tuple[float, float]
    need_thresholds: dict[str, float]
    abuse_platt: tuple[float, float]
    abuse_threshold: float
    oof: dict[str, Any] = field(default_factory=dict)


def train(m: Matrix, config: Config = DEFAULT_CONFIG) -> Trained:
    """Fit every head on ``m``; calibrate on out-of-fold predictions over its gold rows."""
    gold = np.flatnonzero(m.gold & (m.need >= 0))
    need_oof = np.zeros(len(gold))
    abuse_oof = np.zeros(len(gold))
    folds = StratifiedKFold(config.folds, shuffle=True, random_state=config.seed)
    strata = np.char.add(m.lang[gold], m.need[gold].astype(str))
    for _, held_part in folds.split(gold, strata):
        held = gold[held_part]
        keep = np.ones(len(m.need), dtype=np.bool_)
        keep[held] = False
        rest = m.rows(np.flatnonzero(keep))
        need_oof[held_part] = fit_binary(rest, rest.need, config.c_need, config.seed).scores(
            m.x[held]
        )[:, 0]
        abuse_oof[held_part] = fit_binary(rest, rest.abuse, config.c_abuse, config.seed).scores(
            m.x[held]
        )[:, 0]
    need_platt = platt(need_oof, m.need[gold])
    p_need = _sigmoid(need_platt[0] * need_oof + need_platt[1])
    thresholds = {}
    for lang in ("fr", "en"):
        rows = m.lang[gold] == lang
        thresholds[lang] = recall_threshold(
            p_need[rows], m.need[gold][rows], m.rule_need[gold][rows], config.recall_target
        )
    abuse_rows = m.abuse[gold] >= 0
    abuse_platt = platt(abuse_oof[abuse_rows], m.abuse[gold][abuse_rows])
    p_abuse = _sigmoid(abuse_platt[0] * abuse_oof[abuse_rows] + abuse_platt[1])
    abuse_threshold = best_f1_threshold(
        p_abuse, m.abuse[gold][abuse_rows], m.abuse_cue[gold][abuse_rows]
    )
    return Trained(
        need=fit_binary(m, m.need, config.c_need, config.seed),
        abuse=fit_binary(m, m.abuse, config.c_abuse, config.seed),
        intent=fit_intent(m, config.c_intent, config.seed, config.intent_balanced),
        need_platt=need_platt,
        need_thresholds=thresholds,
        abuse_platt=abuse_platt,
        abuse_threshold=abuse_threshold,
        oof={"gold_rows": gold, "need_p": p_need, "abuse_scores": abuse_oof},
    )


def quantise(trained: Trained) -> dict[str, npt.NDArray[Any]]:
    """All heads side by side, one row per feature: hashed rows as int8 with a scale per
    head (a few hundred KB compressed), flag rows as float32 (few, and weighing more)."""
    coef = np.vstack([trained.need.coef, trained.abuse.coef, trained.intent.coef])  # (heads, n)
    intercept = np.concatenate(
        [trained.need.intercept, trained.abuse.intercept, trained.intent.intercept]
    )
    hashed = coef[:, : feature_extraction.HASHED]
    peak = np.abs(hashed).max(axis=1)
    scales = np.where(peak > 0, peak / 127.0, 1.0)
    weights = np.clip(np.rint(hashed / scales[:, None]), -127, 127).astype(np.int8)
    return {
        "weights": np.ascontiguousarray(weights.T),
        "scales": scales.astype(np.float32),
        "flags": np.ascontiguousarray(coef[:, feature_extraction.HASHED :].T, dtype=np.float32),
        "intercepts": intercept.astype(np.float32),
    }


def heads() -> list[str]:
    return ["needs_answer", "abuse", *(f"intent:{name}" for name in INTENTS)]


def build(
    trained: Trained, corpus: Corpus, config: Config, extra: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """The artifact's metadata and arrays; the version names the weights' content."""
    arrays = quantise(trained)
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(arrays[name].tobytes())
    version = f"triage-{MODEL_GENERATION}-{digest.hexdigest()[:10]}"
    meta: dict[str, Any] = {
        "version": version,
        "weights_file": f"{version}.npz",
        "heads": heads(),
        "features": {
            "hashed_bits": feature_extraction.HASHED_BITS,
            "char_ngrams": list(feature_extraction.CHAR_NGRAMS),
            "flags": list(feature_extraction.FLAGS),
        },
        "calibration": {
            "needs_answer": {
                "a": trained.need_platt[0],
                "b": trained.need_platt[1],
                "thresholds": trained.need_thresholds,
                "recall_target": config.recall_target,
            },
            "abuse": {
                "a": trained.abuse_platt[0],
                "b": trained.abuse_platt[1],
                "threshold": trained.abuse_threshold,
            },
        },
        "training": {
            "data_digest": corpus.digest,
            "rows": len(corpus.examples),
            "sources": corpus.counts(),
            "seed": config.seed,
            "config": {
                "c_need": config.c_need,
                "c_abuse": config.c_abuse,
                "c_intent": config.c_intent,
                "folds": config.folds,
                "recall_target": config.recall_target,
                "intent_balanced": config.intent_balanced,
            },
            "scikit_learn": sklearn.__version__,
            "numpy": np.__version__,
        },
        **(extra or {}),
    }
    return json.loads(json.dumps(meta, default=plain)), arrays


def in_memory(trained: Trained, corpus: Corpus, config: Config) -> Model:
    """The model exactly as it would ship (quantised), without writing it."""
    meta, arrays = build(trained, corpus, config)
    return from_arrays(meta, arrays)


def export(
    meta: dict[str, Any], arrays: dict[str, npt.NDArray[Any]], directory: Path
) -> list[Path]:
    """Write ``triage-<version>.npz`` and ``triage.json``; remove older weights."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("triage-*.npz"):
        if old.name != meta["weights_file"]:
            old.unlink()
    weights = directory / meta["weights_file"]
    np.savez_compressed(
        weights,
        weights=arrays["weights"],
        scales=arrays["scales"],
        flags=arrays["flags"],
        intercepts=arrays["intercepts"],
    )
    manifest = directory / MANIFEST
    manifest.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return [weights, manifest]


def plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(f"not JSON: {type(value)}")
