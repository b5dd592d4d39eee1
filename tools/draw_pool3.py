"""Draw labelling pool 3 (issue 15): more of what the model still gets wrong, after pool 2's
error analysis (`docs/needs_answer_experiments.md`): English hard negatives to brands other
than airlines (the complaints corpus's non-complaints to support accounts, which carry no
label in training today), more first contacts and thread follow-ups to ~100 brands, French
posts to Free (colloquial needs and commentary), airline praise and banter, French insults.

Drawn the way pool 2 was (`tools.draw_pool2.pick`: half at random, half where the shipped
model is least sure, at most 12 posts per brand), never a post of dev, pool 1 or pool 2. The
uncertain half depends on the model shipped when it runs (a later model draws another half),
so the committed CSV, not a new run, is the pool. Writes ``data/labels/pool3.csv`` (id,
lang, source, brand, parent, text).

    python -m tools.draw_pool3
"""

from __future__ import annotations

import csv

from tools.draw_pool2 import (
    LABELS,
    SHARED_DATA,
    Candidate,
    _rows,
    _seen_ids,
    airline_negatives,
    draw_from,
    free_posts,
    insults,
    twcs,
    write,
)

SEED = 20261208
OUT = LABELS / "pool3.csv"


def support_non_complaints(seen: set[str]) -> list[Candidate]:
    """Tweets to nine sectors' support accounts that their source says are not complaints:
    questions, praise, banter and relays, the negatives the other-brands slice lacks."""
    out = []
    path = SHARED_DATA / "complaints_preotiuc2019" / "complaints-data.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        for tweet_id, text, label, domain in csv.reader(handle):
            key = f"en-cplt-{tweet_id}"
            if label == "0" and not domain.startswith("random") and key not in seen:
                out.append(Candidate(key, "en", "complaints", domain, text))
    return out


def draw() -> list[Candidate]:
    seen = _seen_ids() | {r["id"] for r in _rows(LABELS / "pool2.csv")}
    firsts, follow_ups = twcs(seen)
    free = [c for c in free_posts(seen) if c.source == "free"]
    plan = [
        (firsts, 350),
        (follow_ups, 200),
        (support_non_complaints(seen), 250),
        (airline_negatives(seen), 100),
        (free, 250),
        ([c for c in insults() if c.lang == "fr" and c.id not in seen], 50),
    ]
    return draw_from(plan, SEED)


if __name__ == "__main__":
    write(draw(), OUT)
