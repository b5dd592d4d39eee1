"""The learned part of triage: linear heads over hashed features, loaded from the artifact.

The artifact (written by ``make train``) is three files in one directory:

- ``triage.json``: version, head names, calibration, thresholds, training summary;
- the weights it names (``triage-<version>.npz``): one int8 row per hashed feature (all heads
  side by side, so a post's features are one contiguous gather), a scale per head, the flag
  and word-vector weights (float32), intercepts;
- the word-vector table it names (``words-<hash>.npz``, see ``vectors``), built separately.

Scoring a post is ``values @ weights[indices] * scale + mean(word vectors) @ dense +
intercept``: a few microseconds. The word vectors' weights are folded into the table once at
load (one row of head scores per word), so a post's meaning part is a gather and a mean.
Pure: arrays and text in, numbers out; the files are read once, from a path passed in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from services.triage.domain.features import FLAGS, HASHED, Features
from services.triage.domain.vectors import WordVectors, load_table

__all__ = [
    "DEFAULT_DIRECTORY",
    "INTENTS",
    "MANIFEST",
    "Intent",
    "Model",
    "Scores",
    "from_arrays",
    "load",
    "sigmoid",
]

DEFAULT_DIRECTORY = Path(__file__).resolve().parents[1] / "model"
MANIFEST = "triage.json"

INTENTS = (
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

if TYPE_CHECKING:  # a type checker needs literal values; pydantic reads the tuple
    Intent = str
else:
    Intent = Literal[INTENTS]
    """An intent as pydantic models read and document it: an enum of ``INTENTS``."""


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


@dataclass(frozen=True, slots=True)
class Scores:
    """A post's raw scores: needs_answer and abuse logits, one logit per intent."""

    needs_answer: float
    abuse: float
    intents: npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Model:
    version: str
    weights: npt.NDArray[np.int8]  # (HASHED, heads), C order: one row per hashed feature
    scales: npt.NDArray[np.float32]  # (heads,): weight = int8 * scale
    flags: npt.NDArray[np.float32]  # (len(FLAGS), heads)
    intercepts: npt.NDArray[np.float32]  # (heads,)
    heads: tuple[str, ...]  # "needs_answer", "abuse", then "intent:<name>" for each intent
    need_calibration: tuple[float, float]  # Platt: p = sigmoid(a * score + b)
    need_thresholds: dict[str, float]  # calibrated probability above which a post needs an answer
    abuse_calibration: tuple[float, float]
    abuse_threshold: float
    metadata: dict[str, Any]
    vectors: WordVectors | None = None  # the word-vector table; None: n-grams and flags only
    dense: npt.NDArray[np.float32] | None = None  # (vectors.dims, heads): weights of the mean

    _dense: npt.NDArray[np.float32] = field(init=False, repr=False, compare=False)
    _need_column: npt.NDArray[np.float32] = field(init=False, repr=False, compare=False)
    _lenient: float = field(init=False, repr=False, compare=False)
    _word_heads: npt.NDArray[np.float32] | None = field(init=False, repr=False, compare=False)
    _flag_need: dict[str, float] = field(init=False, repr=False, compare=False)
    _need_words: npt.NDArray[np.float32] | None = field(init=False, repr=False, compare=False)
    _common: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.heads)
        if self.weights.shape != (HASHED, n) or self.flags.shape != (len(FLAGS), n):
            raise ValueError(
                f"weights {self.weights.shape} and flags {self.flags.shape} do not match "
                f"{HASHED} + {len(FLAGS)} features x {n} heads: the artifact was made for "
                "another feature layout"
            )
        if (
            self.heads[:2] != ("needs_answer", "abuse")
            or tuple(h.removeprefix("intent:") for h in self.heads[2:]) != INTENTS
        ):
            raise ValueError(f"unexpected heads {self.heads}")
        # Every feature's weights dequantised once into one float32 table (12 MB): a post is
        # then one gather and one segment sum per block. The need column is also copied
        # contiguous: gathering from a strided column would copy all of it each time.
        dense = np.vstack([self.weights * self.scales, self.flags]).astype(np.float32)
        object.__setattr__(self, "_dense", np.ascontiguousarray(dense))
        object.__setattr__(self, "_need_column", np.ascontiguousarray(dense[:, 0]))
        object.__setattr__(self, "_lenient", min(self.need_thresholds.values()))
        word_heads = None
        if self.vectors is not None:
            if self.dense is None or self.dense.shape != (self.vectors.dims, n):
                raise ValueError(
                    f"word-vector weights {None if self.dense is None else self.dense.shape} do "
                    f"not match the table ({self.vectors.dims} dims) x {n} heads"
                )
            # Each word's contribution to every head, once: a post then averages its rows.
            word_heads = np.ascontiguousarray(self.vectors.vectors @ self.dense, np.float32)
        object.__setattr__(self, "_word_heads", word_heads)
        need_words = None if word_heads is None else np.ascontiguousarray(word_heads[:, 0])
        object.__setattr__(self, "_need_words", need_words)
        flag_need = dict(zip(FLAGS, self.flags[:, 0].tolist(), strict=True))
        object.__setattr__(self, "_flag_need", flag_need)
        object.__setattr__(self, "_common", frozenset(self.metadata.get("common_words", ())))

    def raw(self, features: Features) -> npt.NDArray[np.float32]:
        """Every head's logit for one post: per block (character n-grams, words, flags) the
        sum of its rows times the block's value."""
        n_chars, n = features.n_chars, features.n_chars + features.n_tokens
        starts, values = [], []
        if n_chars:
            starts.append(0)
            values.append(features.char_value)
        if features.n_tokens:
            starts.append(n_chars)
            values.append(features.token_value)
        if len(features.indices) > n:
            starts.append(n)
            values.append(1.0)
        logits: npt.NDArray[np.float32] = self.intercepts.copy()
        if starts:
            rows = np.take(self._dense, features.indices, axis=0)
            sums = np.add.reduceat(rows, starts, axis=0)
            logits += np.array(values, dtype=np.float32) @ sums
        meaning = self.meaning_rows(features)
        if meaning:
            rows = np.take(self._word_heads, meaning, axis=0)  # type: ignore[arg-type]
            logits += np.add.reduce(rows, axis=0) / len(meaning)
        return logits

    @property
    def flag_need_weights(self) -> dict[str, float]:
        """Each flag's weight in the needs_answer head (> 0: the flag raises the need)."""
        return self._flag_need

    @property
    def common_words(self) -> frozenset[str]:
        """Words frequent in the training posts (``fit.common_words``): too ordinary to be
        shown alone as the evidence of a need."""
        return self._common

    def meaning_rows(self, features: Features) -> list[int]:
        """Table rows of the post's distinct known words (empty without a table)."""
        if self.vectors is None or not features.tokens:
            return []
        return self.vectors.rows(features.tokens)

    def scores(self, features: Features) -> Scores:
        logits = self.raw(features)
        return Scores(float(logits[0]), float(logits[1]), logits[2:])

    def need_probability(self, score: float) -> float:
        a, b = self.need_calibration
        return sigmoid(a * score + b)

    def abuse_probability(self, score: float) -> float:
        a, b = self.abuse_calibration
        return sigmoid(a * score + b)

    def need_threshold(self, language: str) -> float:
        """A language without its own threshold gets the most lenient one (favour recall)."""
        threshold = self.need_thresholds.get(language)
        return self._lenient if threshold is None else threshold

    def word_weights(self, features: Features) -> npt.NDArray[np.float32]:
        """How much each word of the post, on its own, adds to the needs_answer logit: its
        unigram weight times the word block's value, plus its share of the word-vector mean.
        What an agent can be shown as evidence."""
        weights: npt.NDArray[np.float32] = (
            np.take(self._need_column, features.token_buckets) * features.token_value
        )
        if self.vectors is None or self._need_words is None or not features.tokens:
            return weights
        rows = list(map(self.vectors.row_of, features.tokens))
        known = {r for r in rows if r is not None}
        if not known:
            return weights
        found = np.array([-1 if r is None else r for r in rows])
        shares = np.take(self._need_words, np.maximum(found, 0)) / len(known)
        return weights + np.where(found >= 0, shares, 0.0).astype(np.float32)


def from_arrays(
    meta: dict[str, Any],
    arrays: Mapping[str, npt.NDArray[Any]],
    vectors: WordVectors | None = None,
) -> Model:
    """A model from its metadata (``triage.json``), its arrays (the ``.npz``) and the
    word-vector table it names (needed when the arrays hold word-vector weights)."""
    calibration = meta["calibration"]
    need, abuse = calibration["needs_answer"], calibration["abuse"]
    dense = arrays.get("dense")
    if dense is not None and vectors is None:
        raise ValueError(f"the model needs the word-vector table {meta.get('vectors_file')}")
    return Model(
        version=str(meta["version"]),
        weights=np.ascontiguousarray(arrays["weights"], dtype=np.int8),
        scales=np.asarray(arrays["scales"], dtype=np.float32),
        flags=np.ascontiguousarray(arrays["flags"], dtype=np.float32),
        intercepts=np.asarray(arrays["intercepts"], dtype=np.float32),
        heads=tuple(meta["heads"]),
        need_calibration=(float(need["a"]), float(need["b"])),
        need_thresholds={k: float(v) for k, v in need["thresholds"].items()},
        abuse_calibration=(float(abuse["a"]), float(abuse["b"])),
        abuse_threshold=float(abuse["threshold"]),
        metadata=meta,
        vectors=vectors if dense is not None else None,
        dense=None if dense is None else np.ascontiguousarray(dense, dtype=np.float32),
    )


def load(directory: Path = DEFAULT_DIRECTORY) -> Model:
    """Read the artifact from ``directory`` (``triage.json`` and the weights it names)."""
    meta = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    vectors = load_table(directory / meta["vectors_file"]) if meta.get("vectors_file") else None
    with np.load(directory / meta["weights_file"], allow_pickle=False) as arrays:
        return from_arrays(meta, {name: arrays[name] for name in arrays.files}, vectors)
