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


def merge(prefix: Path) -> Path:
    pool = list(csv.DictReader((prefix.parent / f"{prefix.name}.csv").open(encoding="utf-8")))
    a = {r["id"]: r for r in csv.DictReader(Path(f"{prefix}_labeller_a.csv").open())}
    b = {r["id"]: r for r in csv.DictReader(Path(f"{prefix}_labeller_b.csv").open())}
    judged = {r["id"]: r for r in csv.DictReader(Path(f"{prefix}_adjudicated.csv").open())}
    out = Path(f"{prefix}_labels.csv")
    with out.open("w", newline="", encoding="utf-8") as handle:
        fields = ["id", "lang", "text", "needs_answer", "intent", "abuse", "agreement"]
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
            writer.writerow(
                dict(zip(fields, (row["id"], row["lang"], row["text"], *labels), strict=True))
            )
    return out


if __name__ == "__main__":
    print(merge(Path(sys.argv[1])))
