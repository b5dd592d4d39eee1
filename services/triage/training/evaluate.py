"""Measuring triage on a labelled file: ``python -m services.triage eval --data FILE.csv``.

FILE has columns ``id,text,needs_answer`` and optionally ``lang,intent,abuse,parent``. Labels
are read from FILE only, and nothing is trained on it: each row goes through the same
``Triage.decide`` the consumer calls. A non-empty ``parent`` is the brand's post the row
replies to: the row is decided with that thread (``Thread("answered", parent)``), and the
replies are also measured apart (``in_thread``). A row whose optional label is empty is left
out of that label's metric. Needs only numpy (no scikit-learn), like the services.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.triage.domain.model import INTENTS
from services.triage.domain.triage import ANSWERED, Decision, Thread, Triage

LANGUAGES = ("fr", "en")


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    text: str
    needs_answer: int | None
    lang: str | None
    intent: str | None
    abuse: int | None
    parent: str = ""  # the brand's post this row replies to ("" = not a thread reply)


def _flag(value: str | None) -> int | None:
    value = (value or "").strip().lower()
    if value in ("1", "true", "yes"):
        return 1
    if value in ("0", "false", "no"):
        return 0
    return None


def read_rows(path: Path) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"id", "text", "needs_answer"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        rows = []
        for record in reader:
            intent = (record.get("intent") or "").strip()
            lang = (record.get("lang") or "").strip()
            rows.append(
                Row(
                    id=record["id"],
                    text=record["text"] or "",
                    needs_answer=_flag(record["needs_answer"]),
                    lang=lang or None,
                    intent=intent if intent in INTENTS else None,
                    abuse=_flag(record.get("abuse")),
                    parent=(record.get("parent") or "").strip(),
                )
            )
    return rows


def binary(truth: Sequence[int], predicted: Sequence[int]) -> dict[str, float | int]:
    """Precision, recall and F1 of the positive class, macro-F1 over both classes, n."""
    tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t and p)
    fp = sum(1 for t, p in zip(truth, predicted, strict=True) if not t and p)
    fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t and not p)
    tn = len(truth) - tp - fp - fn
    f1 = _f1(tp, fp, fn)
    return {
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": round(f1, 4),
        "macro_f1": round((f1 + _f1(tn, fn, fp)) / 2, 4),
        "n": len(truth),
    }


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Mean F1 over the classes present in the truth."""
    classes = sorted(set(truth))
    if not classes:
        return 0.0
    scores = []
    for c in classes:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == c and p == c)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if t != c and p == c)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t == c and p != c)
        scores.append(_f1(tp, fp, fn))
    return round(sum(scores) / len(scores), 4)


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def report(
    rows: Sequence[Row], decisions: Sequence[Decision], model_version: str
) -> dict[str, Any]:
    """The eval command's JSON object for rows and the decisions made on them."""
    pairs = list(zip(rows, decisions, strict=True))
    need = [(r, d) for r, d in pairs if r.needs_answer is not None]
    by_lang = {}
    for lang in LANGUAGES:
        part = [(r, d) for r, d in need if (r.lang or d.language) == lang]
        by_lang[lang] = binary(
            [int(r.needs_answer or 0) for r, _ in part], [int(d.needs_answer) for _, d in part]
        )
    abuse = [(r, d) for r, d in pairs if r.abuse is not None]
    abuse_metrics = binary([int(r.abuse or 0) for r, _ in abuse], [int(d.abuse) for _, d in abuse])
    abuse_metrics.pop("macro_f1")
    intents = [(r, d) for r, d in pairs if r.intent is not None]
    replies = [(r, d) for r, d in need if r.parent]
    return {
        "needs_answer": binary(
            [int(r.needs_answer or 0) for r, _ in need], [int(d.needs_answer) for _, d in need]
        ),
        "by_lang": by_lang,
        "in_thread": binary(
            [int(r.needs_answer or 0) for r, _ in replies],
            [int(d.needs_answer) for _, d in replies],
        ),
        "abuse": abuse_metrics,
        "intent_macro_f1": macro_f1(
            [str(r.intent) for r, _ in intents], [d.intent for _, d in intents]
        ),
        "model_version": model_version,
    }


def decide_all(triage: Triage, rows: Iterable[Row]) -> list[Decision]:
    """Each row as the consumer would decide it, with its thread when it has a parent."""
    return [
        triage.decide(r.text, thread=Thread(ANSWERED, r.parent) if r.parent else None) for r in rows
    ]


def evaluate_file(path: Path, triage: Triage) -> dict[str, Any]:
    rows = read_rows(path)
    return report(rows, decide_all(triage, rows), triage.model.version)
