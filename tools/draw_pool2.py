"""Draw labelling pool 2 (issue 15): posts the model has not been judged on, chosen for what it
gets wrong: many brands and sectors, English hard negatives, French negatives, thread
follow-ups shown with the post they answer, and insults in both languages.

Half of each source's share is drawn at random (seeded) and half where the shipped model is
least sure (its need probability nearest its threshold), so labelling effort goes where the
model learns most while the random half keeps the figures honest. No dev or pool-1 row is
drawn again. The uncertain half depends on the model shipped when it runs (a later model
draws another half), so the committed CSV, not a new run, is the pool. Writes
``data/labels/pool2.csv`` (id, lang, source, brand, parent, text).

    python -m tools.draw_pool2
"""

from __future__ import annotations

import csv
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from services.triage.domain import features as feature_extraction
from services.triage.domain.model import load
from services.triage.domain.normalise import normalise
from services.triage.domain.rules import own_words, scan
from services.triage.training.data import DEV, LABELS, SHARED_DATA, undo_airline_artefact

SEED = 20261207
OUT = LABELS / "pool2.csv"
FIELDS = ("id", "lang", "source", "brand", "parent", "text")


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    lang: str
    source: str
    brand: str
    text: str
    parent: str = ""


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _seen_ids() -> set[str]:
    seen = {r["id"] for r in _rows(DEV)}
    return seen | {r["id"] for r in _rows(LABELS / "pool1.csv")}


def twcs(seen: set[str]) -> tuple[list[Candidate], list[Candidate]]:
    """Inbound customer tweets of 2017 support threads: first contacts (brand from the
    mention) and follow-ups that answer a brand's tweet (shown with it)."""
    rows = _rows(SHARED_DATA / "twcs_customer_support_on_twitter" / "twcs_first5000.csv")
    by_id = {r["tweet_id"]: r for r in rows}
    firsts, follow_ups = [], []
    for row in rows:
        if row["inbound"] != "True" or f"en-twcs-{row['tweet_id']}" in seen:
            continue
        parent_id = (row["in_response_to_tweet_id"] or "").removesuffix(".0")
        parent = by_id.get(parent_id)
        if parent is not None and parent["inbound"] == "False":
            follow_ups.append(
                Candidate(
                    f"en-twcs-{row['tweet_id']}",
                    "en",
                    "twcs_follow_up",
                    parent["author_id"],
                    row["text"],
                    parent["text"],
                )
            )
        elif not parent_id:
            mention = re.search(r"@([A-Za-z]\w+)", row["text"])
            brand = mention.group(1) if mention else "unknown"
            firsts.append(Candidate(f"en-twcs-{row['tweet_id']}", "en", "twcs", brand, row["text"]))
    return firsts, follow_ups


def complaints() -> list[Candidate]:
    """Tweets to customer-service accounts of many sectors (their domain is the brand column)."""
    out = []
    path = SHARED_DATA / "complaints_preotiuc2019" / "complaints-data.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        for tweet_id, text, _label, domain in csv.reader(handle):
            if not domain.startswith("random"):
                out.append(Candidate(f"en-cplt-{tweet_id}", "en", "complaints", domain, text))
    return out


def airline_negatives(seen: set[str]) -> list[Candidate]:
    """Airline tweets their source called positive or neutral: praise, banter, relays."""
    out = []
    for row in _rows(SHARED_DATA / "twitter_us_airline_sentiment" / "Tweets.csv"):
        key = f"en-airline-{row['tweet_id']}"
        if key in seen or row["airline_sentiment"] == "negative":
            continue
        text = undo_airline_artefact(row["text"])
        out.append(Candidate(key, "en", "airline", row["airline"], text))
    return out


def free_posts(seen: set[str]) -> list[Candidate]:
    """French posts to Free, the operator's own accounts and retweets left out."""
    silver = {
        r["tweet_id"].zfill(6): r["besoin_reponse"]
        for r in _rows(SHARED_DATA / "free_telecom_fr_tweets" / "free_tweets_SILVER_llm_labels.csv")
    }
    out = []
    for row in _rows(SHARED_DATA / "free_telecom_fr_tweets" / "free_tweet_export_raw.csv"):
        key = f"fr-free-{row['tweet_id']}"
        if key in seen or row["author"] in ("Freebox", "free", "Free_1337"):
            continue
        if row["text"].lower().startswith("rt ") or len(row["text"]) < 8:
            continue
        # The silver "no answer" rows first: French negatives are what we lack.
        source = "free_silver_no" if silver.get(row["tweet_id"]) == "False" else "free"
        out.append(Candidate(key, "fr", source, "Free", row["text"]))
    return out


def insults() -> list[Candidate]:
    """Hostile tweets (MLMA) in both languages: abusive, offensive or hateful, direct."""
    out = []
    for lang in ("fr", "en"):
        for row in _rows(SHARED_DATA / "mlma_hate_speech" / f"{lang}_dataset.csv"):
            tags = set(row["sentiment"].split("_"))
            if tags & {"abusive", "offensive"} and row["directness"] == "direct":
                out.append(
                    Candidate(f"{lang}-mlma-{row['HITId']}", lang, "mlma", "none", row["tweet"])
                )
    return out


def need_probability(text: str) -> float:
    model = _MODEL
    own = own_words(normalise(text))
    scores = model.scores(feature_extraction.extract(own, scan(own)))
    return model.need_probability(scores.needs_answer)


_MODEL = load()


def pick(candidates: list[Candidate], n: int, rng: random.Random) -> list[Candidate]:
    """Half at random, half where the model is least sure; at most 12 per brand so no single
    account dominates."""
    per_brand: dict[str, int] = defaultdict(int)
    pool = list(candidates)
    rng.shuffle(pool)
    capped = []
    for c in pool:
        if per_brand[c.brand] < 12 or not c.source.startswith("twcs"):
            per_brand[c.brand] += 1
            capped.append(c)
    chosen = capped[: n // 2]
    rest = capped[n // 2 :]
    threshold = {"fr": _MODEL.need_threshold("fr"), "en": _MODEL.need_threshold("en")}
    rest.sort(key=lambda c: abs(need_probability(c.text) - threshold[c.lang]))
    return chosen + rest[: n - len(chosen)]


Plan = list[tuple[list[Candidate], int]]


def draw_from(plan: Plan, seed: int) -> list[Candidate]:
    """Each source's share picked in turn (a post or text taken once), then shuffled."""
    rng = random.Random(seed)
    drawn: list[Candidate] = []
    taken: set[str] = set()
    for candidates, n in plan:
        fresh = [c for c in candidates if c.id not in taken and c.text not in taken]
        for c in pick(fresh, n, rng):
            taken.update((c.id, c.text))
            drawn.append(c)
    rng.shuffle(drawn)
    # A source may list one post twice (the airline file does): keep its first place.
    return list({c.id: c for c in drawn}.values())


def draw() -> list[Candidate]:
    seen = _seen_ids()
    firsts, follow_ups = twcs(seen)
    free = free_posts(seen)
    plan = [
        (firsts, 420),
        (follow_ups, 200),
        (complaints(), 300),
        (airline_negatives(seen), 200),
        ([c for c in free if c.source == "free_silver_no"], 200),
        ([c for c in free if c.source == "free"], 130),
        ([c for c in insults() if c.lang == "fr"], 60),
        ([c for c in insults() if c.lang == "en"], 50),
    ]
    return draw_from(plan, SEED)


def write(rows: list[Candidate], out: Path) -> None:
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        for c in rows:
            writer.writerow((c.id, c.lang, c.source, c.brand, c.parent, c.text))
    print(f"{out}: {len(rows)} posts")


if __name__ == "__main__":
    write(draw(), OUT)
