"""Triage decisions per second on one core, one message at a time, as the consumer calls it.

Each call does everything the consumer's ``decide`` does: normalisation, language, rule cues
(danger kinds included), features, the model (n-grams and the word-vector mean), priority
and reasons (with the evidence check where the model alone explains a need); one call in
four is a reply in a thread the brand answered, so the thread rules run too. Real posts:
inbound customer-support tweets (English, many brands) and French posts to a telecom
operator, from the shared data folder (a fixed sentence otherwise). The process is pinned
to one CPU; the figures are those of the best of ``--rounds`` rounds (as ``timeit`` does:
other processes on a shared machine can only slow a round down). Writes
``triage_msgs_per_s``, ``triage_p50_ms``, ``triage_p99_ms`` and ``triage_model_version`` to
bench/results.json.
"""

from __future__ import annotations

import argparse
import csv
import os
import time

from bench.common import ROOT, customer_texts, report
from services.triage.domain.triage import ANSWERED, Thread, default_triage

FRENCH = ROOT.parent / "shared" / "data" / "free_telecom_fr_tweets" / "free_tweet_export_raw.csv"


def french_texts(limit: int = 3000) -> list[str]:
    if not FRENCH.exists():
        return ["bonjour, plus d'internet depuis ce matin, la box clignote rouge"]
    with FRENCH.open(encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle) if row.get("text")][:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=0, help="the one CPU to run on")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    english, french = customer_texts(), french_texts()
    texts = [t for pair in zip(english, french, strict=False) for t in pair]
    kinds = ("mention", "mention", "reply", "dm")
    brand = Thread(ANSWERED, "Sorry to hear that! Please DM us your booking reference.")
    calls = [
        (
            texts[i % len(texts)],
            kinds[i % 4],
            i % 5 == 0,
            float((i * 997) % 30_000),
            brand if kinds[i % 4] == "reply" else None,
        )
        for i in range(args.messages)
    ]
    triage = default_triage()
    for text, kind, repeat, waited, thread in calls[:2000]:  # warm up caches and branches
        triage.decide(text, kind=kind, repeat_contact=repeat, waited_seconds=waited, thread=thread)

    clock = time.perf_counter_ns
    best: tuple[float, list[int]] = (float("inf"), [])
    for _ in range(args.rounds):
        durations = []
        started = clock()
        for text, kind, repeat, waited, thread in calls:
            t0 = clock()
            triage.decide(
                text, kind=kind, repeat_contact=repeat, waited_seconds=waited, thread=thread
            )
            durations.append(clock() - t0)
        elapsed = (clock() - started) / 1e9
        if elapsed < best[0]:
            best = (elapsed, durations)
    elapsed, durations = best
    durations.sort()
    figures = {
        "triage_msgs_per_s": round(len(calls) / elapsed),
        "triage_p50_ms": round(durations[len(durations) // 2] / 1e6, 3),
        "triage_p99_ms": round(durations[int(len(durations) * 0.99)] / 1e6, 3),
        "triage_max_ms": round(durations[-1] / 1e6, 3),
        "triage_messages": len(calls),
        "triage_rounds": args.rounds,
        "triage_model_version": triage.model.version,
    }
    report(figures)


if __name__ == "__main__":
    main()
