"""Merge two annotators' labels and the adjudications into one file, as the dev set was made.

Rows where both agree on needs_answer and abuse keep those labels; their intent is kept when
both chose the same one, else left empty (``agreed_na_abuse``: leave it out of intent
metrics). Disputed rows take the adjudicator's labels (``adjudicated``).

    python -m tools.merge_labels data/labels/pool1
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def merge(prefix: Path) -> Path:
    pool = _rows(prefix.parent / f"{prefix.name}.csv")
    a = {r["id"]: r for r in _rows(Path(f"{prefix}_labeller_a.csv"))}
    b = {r["id"]: r for r in _rows(Path(f"{prefix}_labeller_b.csv"))}
    judged = {r["id"]: r for r in _rows(Path(f"{prefix}_adjudicated.csv"))}
    out = Path(f"{prefix}_labels.csv")
    with out.open("w", newline="", encoding="utf-8") as handle:
        # Context a pool may carry (source, brand, the post it answers) is kept after them.
        extra = [f for f in ("source", "brand", "parent") if f in pool[0]]
        fields = ["id", "lang", "text", "needs_answer", "intent", "abuse", "agreement", *extra]
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in pool:
            x, y = a[row["id"]], b[row["id"]]
            if row["id"] in judged:
                j = judged[row["id"]]
                labels = (j["needs_answer"], j["intent"], j["abuse"], "adjudicated")
            elif x["intent"] == y["intent"]:
                labels = (x["needs_answer"], x["intent"], x["abuse"], "agreed")
            else:
                labels = (x["needs_answer"], "", x["abuse"], "agreed_na_abuse")
            values = (row["id"], row["lang"], row["text"], *labels, *(row[f] for f in extra))
            writer.writerow(dict(zip(fields, values, strict=True)))
    return out


if __name__ == "__main__":
    print(merge(Path(sys.argv[1])))
