"""Meaning features: the average of a post's static word vectors (e5 words, PCA-reduced).

The table (``words-<hash>.npz`` beside the model, built once by
``python -m services.triage.training.vectors``) maps each known word, in normalised form, to
a small float16 vector. A post's vector is the mean over its distinct known words: "plus de
réseau", "no signal" and "internet down" land close together even without a shared n-gram,
so the linear heads can read meaning, not only the topic words they were trained on.

Pure: a dictionary lookup per word and one small numpy mean; no encoder at serving time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["TABLE_PREFIX", "WORD", "WordVectors", "load_table"]

TABLE_PREFIX = "words-"
WORD = re.compile(r"[^\W\d_]+")  # the words of features.py: runs of letters


@dataclass(frozen=True, slots=True)
class WordVectors:
    """Known words and their vectors; ``mean`` turns a post's words into one vector."""

    name: str  # the table's file name (it carries its content hash)
    words: tuple[str, ...]
    vectors: npt.NDArray[np.float32]  # (len(words), dims)
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.vectors.shape[0] != len(self.words):
            raise ValueError(f"{len(self.words)} words but {self.vectors.shape[0]} vectors")
        object.__setattr__(self, "_index", {w: i for i, w in enumerate(self.words)})

    @property
    def dims(self) -> int:
        return int(self.vectors.shape[1])

    def row_of(self, word: str) -> int | None:
        return self._index.get(word)

    def rows(self, tokens: Iterable[str]) -> list[int]:
        """Table rows of the distinct known words among ``tokens`` (in no set order)."""
        found = set(map(self._index.get, tokens))
        found.discard(None)
        return list(found)  # type: ignore[arg-type]

    def mean(self, tokens: Iterable[str]) -> npt.NDArray[np.float32]:
        """The post's vector: mean of its distinct known words' vectors (zeros if none)."""
        rows = self.rows(tokens)
        if not rows:
            return np.zeros(self.dims, dtype=np.float32)
        mean: npt.NDArray[np.float32] = self.vectors[rows].mean(axis=0)
        return mean


def load_table(path: Path) -> WordVectors:
    """Read a table written by the vectors command (words as UTF-8 lines, float16 rows)."""
    with np.load(path, allow_pickle=False) as arrays:
        words = tuple(bytes(arrays["words"]).decode("utf-8").split("\n"))
        vectors = arrays["vectors"].astype(np.float32)
    return WordVectors(path.name, words, np.ascontiguousarray(vectors))
