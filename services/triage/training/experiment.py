"""``python -m services.triage.training.experiment``: measure one configuration quickly.

The same honest protocol as ``make train`` (``cv``: 5-fold CV on every gold row, English
leave-one-brand-out, thresholds from each measuring model's own inner folds), without
writing an artifact or the card, with the config's knobs on the command line. It prints one
line of figures per slice, and can write every out-of-fold error (text, slice, reasons) to a
JSON file for error analysis. ``--skip lobo`` or ``--skip cv`` measures half as long; the
demo check is always run (a product check, never a set to tune on).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from services.triage.domain.triage import Decision, Triage
from services.triage.training import cv, data, evaluate, fit, run

_SLICES = ("fr", "en-airline", "en-brands", "en-threads", "all")


def _line(name: str, f: dict[str, Any]) -> str:
    abuse = f["abuse"]
    return (
        f"{name:<14} n={f['n']:<5} P={f['precision']:.3f} R={f['recall']:.3f} "
        f"macroF1={f['macro_f1']:.3f} abuseF1={abuse['f1']:.3f} "
        f"intent={f['intent_macro_f1']:.3f}"
    )


def _errors(
    rows: list[data.Example], decisions: list[Decision], protocol: str
) -> list[dict[str, Any]]:
    return [
        {
            "protocol": protocol,
            "id": e.id,
            "slice": cv.slice_of(e) if not e.parent else "en-threads",
            "label": e.needs_answer,
            "decided": d.needs_answer,
            "abuse": e.abuse,
            "abuse_decided": d.abuse,
            "confidence": d.confidence,
            "intent": e.intent,
            "reasons": list(d.reasons),
            "text": e.text,
            "parent": e.parent,
        }
        for e, d in zip(rows, decisions, strict=True)
        if bool(e.needs_answer) != d.needs_answer
        or (e.abuse is not None and bool(e.abuse) != d.abuse)
    ]


def _collecting(sink: list[tuple[data.Example, Decision]]) -> cv.Decide:
    def decide(triage: Triage, e: data.Example) -> Decision:
        d = run.decide_in_thread(triage, e)
        sink.append((e, d))
        return d

    return decide


def quick(config: fit.Config, errors: Path | None) -> dict[str, Any]:
    """One fit: each gold post scored out of fold by the calibration's own inner folds,
    thresholds from the same predictions, rules applied (optimistic by a little, and about
    twelve times faster than ``measure``): for comparing configurations, not for reporting."""
    started = time.monotonic()
    corpus = data.load()
    m = fit.matrix(corpus.examples, fit.word_table() if config.vectors else None)
    trained = fit.train(m, config)
    gold = trained.oof["gold_rows"]
    p = trained.oof["need_p"]
    rows = [corpus.examples[int(i)] for i in gold]
    decided = [
        bool(m.rule_need[i] == 1)
        if m.rule_need[i] >= 0
        else p[k] >= trained.need_thresholds[e.lang]
        for k, (i, e) in enumerate(zip(gold, rows, strict=True))
    ]
    out: dict[str, Any] = {}
    for name in _SLICES:
        part = [
            (e, d)
            for e, d in zip(rows, decided, strict=True)
            if name == "all"
            or (name == "en-threads" and bool(e.parent))
            or (name != "en-threads" and cv.slice_of(e) == name)
        ]
        f = evaluate.binary([int(e.needs_answer or 0) for e, _ in part], [int(d) for _, d in part])
        out[name] = f
        print(
            f"quick {name:<11} n={f['n']:<5} P={f['precision']:.3f} R={f['recall']:.3f} "
            f"macroF1={f['macro_f1']:.3f}",
            flush=True,
        )
    if errors is not None:
        wrong = [
            {
                "id": e.id,
                "slice": cv.slice_of(e),
                "label": e.needs_answer,
                "p": round(float(p[k]), 3),
                "text": e.text,
                "parent": e.parent,
            }
            for k, (e, d) in enumerate(zip(rows, decided, strict=True))
            if bool(e.needs_answer) != d
        ]
        errors.write_text(json.dumps(wrong, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return out


def measure(config: fit.Config, skip: set[str], errors: Path | None) -> dict[str, Any]:
    started = time.monotonic()
    corpus = data.load()
    m = fit.matrix(corpus.examples, fit.word_table() if config.vectors else None)
    quiet = lambda _message: None  # noqa: E731
    out: dict[str, Any] = {}
    wrong: list[dict[str, Any]] = []
    if "cv" not in skip:
        seen: list[tuple[data.Example, Decision]] = []
        result = cv.cross_validate(corpus, m, config, quiet, _collecting(seen))
        out["cv"] = result
        for name in _SLICES:
            if name in result:
                print(_line(f"cv {name}", result[name]), flush=True)
        wrong += _errors([e for e, _ in seen], [d for _, d in seen], "cv")
    if "lobo" not in skip:
        seen = []
        result = cv.leave_one_brand_out(corpus, m, config, quiet, _collecting(seen))
        out["lobo"] = result
        print(_line("lobo pooled", result["pooled"]), flush=True)
        for name in ("en-airline", "en-brands"):
            print(_line(f"lobo {name}", result[name]), flush=True)
        wrong += _errors([e for e, _ in seen], [d for _, d in seen], "lobo")
    if "demo" not in skip:
        demo = run.demo_check(Triage(fit.in_memory(fit.train(m, config), corpus, config)))
        queue = demo["queue"]
        out["demo"] = queue
        print(
            f"demo: {queue['no_answer_in_queue']} of {queue['no_answer_messages']} no-answer "
            f"queued, {queue['needed_missed']} needed missed",
            flush=True,
        )
    if errors is not None:
        errors.write_text(json.dumps(wrong, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.triage.training.experiment")
    for knob in dataclasses.fields(fit.Config):
        flag = "--" + knob.name.replace("_", "-")
        kind = type(knob.default)
        if kind is bool:
            parser.add_argument(flag, type=lambda v: v.lower() in ("1", "true", "yes", "on"))
        else:
            parser.add_argument(flag, type=kind)
    parser.add_argument("--skip", default="", help="comma-separated: cv, lobo, demo")
    parser.add_argument("--quick", action="store_true", help="one fit, inner-fold figures")
    parser.add_argument("--errors", type=Path, help="write every out-of-fold error here")
    args = parser.parse_args(argv)
    changes = {
        k.name: getattr(args, k.name)
        for k in dataclasses.fields(fit.Config)
        if getattr(args, k.name) is not None
    }
    config = dataclasses.replace(fit.DEFAULT_CONFIG, **changes)
    print(f"config: {changes or 'default'}", flush=True)
    if args.quick:
        quick(config, args.errors)
    else:
        measure(config, {s for s in args.skip.split(",") if s}, args.errors)


if __name__ == "__main__":
    main()
