"""The model card (``docs/model_card.md``), written by ``make train`` from what it measured."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from services.triage.training.data import Source

_SOURCE_ORDER = (
    "dev",
    "pool1",
    "pool2",
    "corrections",
    "airline",
    "complaints",
    "youtube_spam",
    "mlma",
    "davidson",
    "free_brand",
)


def _pct(value: Any) -> str:
    return f"{float(value):.3f}" if isinstance(value, int | float) else "–"


def _row(result: Mapping[str, Any]) -> str:
    return " | ".join(_pct(result.get(k)) for k in ("f1", "macro_f1", "accuracy"))


def _need_table(result: Mapping[str, Any]) -> str:
    lines = [
        "| language | n | precision | recall | F1 | macro-F1 |",
        "|---|---|---|---|---|---|",
    ]
    for lang in ("fr", "en"):
        r = result["by_lang"][lang]
        lines.append(
            f"| {lang} | {r['n']} | {_pct(r['precision'])} | {_pct(r['recall'])} | "
            f"{_pct(r['f1'])} | {_pct(r['macro_f1'])} |"
        )
    r = result["needs_answer"]
    lines.append(
        f"| all | {r['n']} | {_pct(r['precision'])} | {_pct(r['recall'])} | {_pct(r['f1'])} | "
        f"{_pct(r['macro_f1'])} |"
    )
    return "\n".join(lines)


def _other_heads(result: Mapping[str, Any]) -> str:
    a = result["abuse"]
    return (
        f"abuse: precision {_pct(a['precision'])}, recall {_pct(a['recall'])}, "
        f"F1 **{_pct(a['f1'])}** (n = {a['n']}, positives are rare); "
        f"intent macro-F1 **{_pct(result['intent_macro_f1'])}**."
    )


def _sources(meta: Mapping[str, Any], sources: Mapping[str, Source]) -> str:
    counts = meta["training"]["sources"]
    lines = [
        "| source | licence | rows used | labels it gives (counts) | mapping | weight |",
        "|---|---|---|---|---|---|",
    ]
    for key in _SOURCE_ORDER:
        if key not in counts:
            continue
        s = sources[key]
        c = dict(counts[key])
        rows = c.pop("rows")
        labels = ", ".join(f"{k} {v}" for k, v in c.items())
        lines.append(f"| `{s.path}` | {s.licence} | {rows} | {labels} | {s.mapping} | {s.weight} |")
    return "\n".join(lines)


def render(meta: Mapping[str, Any], sources: Mapping[str, Source]) -> str:
    ev = meta.get("evaluation", {})
    training = meta["training"]
    cal = meta["calibration"]
    complaints = ev.get("complaints", {})
    held = complaints.get("held_out_20pct", {})
    cv10 = complaints.get("cv_10fold", {})
    heldout_json = json.dumps(ev.get("held_out_dev", {}), indent=2, sort_keys=True)
    thresholds = ", ".join(
        f"{k} {v:.3f}" for k, v in sorted(cal["needs_answer"]["thresholds"].items())
    )
    return f"""# Model card: Écoute triage `{meta["version"]}`

*Written by `make train` (`python -m services.triage train`); do not edit by hand: the
numbers below are measured by that command, with seed {training["seed"]}.*

## What it does

For each inbound post addressed to a brand (French or English), triage decides whether a
care agent should answer (`needs_answer`, with a calibrated probability), what the post is
(`intent`: problem, question, request, complaint, praise, banter, spam, abuse, brand,
other), whether it insults someone (`abuse`, routed to moderation), its language, a priority
P1–P4 from need only, and the few reasons that moved the decision. Labels follow
`shared/data/LABELING.md`. It never looks at who the author is or how many followers they
have.

## Design

- **Features** (`services/triage/domain/features.py`, shared by training and serving):
  character 2–5-grams inside words (each word padded with spaces, digits folded to 0), word
  unigrams and bigrams, hashed with a fixed 64-bit hash into 2^{meta["features"]["hashed_bits"]}
  buckets; plus flags: question/exclamation mark, link, handle inside the text, length band, and
  the {sum(1 for f in meta["features"]["flags"] if f.startswith("cue_"))} rule cue families
  (`rules.py`: outage, money, access, safety, question, request, abuse, closing message, …).
  Text is normalised first (case, accents, emoji kept, URLs and handles as placeholders,
  HTML stripped, lone surrogates repaired, the French export's glued "n" line breaks undone).
- **Heads**: logistic regressions (scikit-learn {training["scikit_learn"]}, liblinear, L2):
  needs_answer, abuse, and one-vs-rest intent (each intent's rows weigh as much in all as
  any other's, so rare intents count); the intent shown is the best one consistent with the
  need decision, and a no-need post with thanks and no grievance is praise. Domain
  adaptation ("frustratingly easy",
  Daumé III 2007): each feature has a shared copy and a copy that fires only on our own
  labels, so the public sets shape the shared weights and our labels correct them; the
  shipped weight is the sum.
- **Calibration**: needs_answer scores of our labelled posts are predicted out of fold
  ({training["config"]["folds"]} folds), Platt-scaled (a = {cal["needs_answer"]["a"]:.3f},
  b = {cal["needs_answer"]["b"]:.3f}), and the threshold per language is the highest
  probability that keeps recall ≥ {cal["needs_answer"]["recall_target"]} on those
  out-of-fold predictions, with the rules applied as in production: {thresholds} (the
  target is a point above the 0.95 wanted, to absorb fold-to-fold variation). Other
  languages use the lowest threshold. Abuse is Platt-scaled the same way; its threshold
  ({cal["abuse"]["threshold"]:.3f}) maximises F1 out of fold.
- **Rules kept as rules** (and named in the reasons): nothing to read, posts written by the
  brand, obvious spam and closing messages ("c'est réglé, merci") need no answer; a reported
  fault (danger, outage, money or access lost) always does; a direct message the model finds
  nothing in is still read by someone (P4); the abuse lexicon flags insults outright (the
  abuse head finds the rest). Priority: safety → P1; outage, money or access lost, refund →
  P2; other problems, requests and questions → P3 (P4 when the model is unsure, p < 0.5);
  the rest → P4; one step up for urgency, a vulnerable person, a second message while
  waiting, a wait over 4 hours, and for a follow-up in the text or a health situation (these
  two never above P2 by themselves). Follower counts are not an input.
- **Artifact**: `services/triage/model/{meta["weights_file"]}` (hashed weights as int8 with a
  scale per head, flag weights as float32) and `triage.json`;
  {meta.get("artifact_bytes", 0) / 1e6:.2f} MB in all. Inference is numpy only.

## Training data

{training["rows"]} rows (data digest `{training["data_digest"][:16]}`). Our own labels weigh
1; public rows weigh less and are capped or sampled so they cannot swamp the brand-addressed
data. Public rows whose text equals one of our labelled posts are dropped, and the airline
rows we labelled ourselves are taken from our labels only.

{_sources(meta, sources)}

Not used: the Free silver labels (machine-made; on the 755 Free posts we labelled, their
"no answer needed" was right only 24 % of the time), the X-CI severity file (the same tweets
as the complaints set), UMSAB sentiment (general tweets, not addressed to brands) and the
customer-support-on-Twitter sample (unlabelled; used for the benchmark).

## Evaluation

Every figure is on posts the measuring model did not train on.

### Dev set, 5-fold cross-validation

Each fold decided by a model trained on everything except that fold (its calibration and
thresholds come from its own inner folds).

{_need_table(ev["dev_cv"]) if "dev_cv" in ev else "not measured"}

{_other_heads(ev["dev_cv"]) if "dev_cv" in ev else ""}

### Pool 1 (800 posts of ours), 5-fold cross-validation

{_need_table(ev["pool1_cv"]) if "pool1_cv" in ev else "not measured"}

{_other_heads(ev["pool1_cv"]) if "pool1_cv" in ev else ""}

### Held-out file: `eval` on dev.csv with a model trained without the dev set

The output of `python -m services.triage eval --data dev.csv` for a model trained on
everything except the dev set (less data than the shipped model):

```json
{heldout_json}
```

### Complaints (Preotiuc-Pietro et al., 2019)

The 1,974 customer-service tweets ({complaints.get("complaints", "–")} complaints), our
features and a logistic regression trained on that task alone:

| protocol | complaint F1 | macro-F1 | accuracy |
|---|---|---|---|
| 80/20 stratified held-out split | {_row(held)} |
| 10-fold cross-validation | {_row(cv10)} |
| paper, feature-based, 10-fold (Preotiuc-Pietro et al., 2019) | | 0.79 | |
| fine-tuned transformers (Jin & Aletras, 2020, 2021) | | 0.87–0.88 | |

The paper's "79 F1" is, as far as we can tell, averaged over both classes (Jin & Aletras set
their macro-F1 beside it), so our comparable figure is the macro-F1 column; the complaint
class's own F1 is higher because complaints are the majority class here.

### Demo corpus (live-style posts, never trained on)

{_need_table(ev["demo"]) if "demo" in ev else "not measured"}

{_other_heads(ev["demo"]) if "demo" in ev else ""}

## Limitations

- The dev set is small (French: 29 posts that need no answer, 9 abusive posts in all), so
  its figures move by several points with a handful of posts; pool 1 is the steadier check.
- The rule cue families were written while reading the dev set before this model existed,
  so dev figures may flatter the model a little; pool 1 was labelled afterwards.
- Context is invisible: a short reply in a thread ("UA1469. Just landed.") may need an
  answer that only the thread explains. The recall-first thresholds accept false alarms
  rather than miss people.
- English training data is airline traffic, French is one telecom operator: other sectors
  rely on the public complaint data and the character n-grams to generalise.
- The abuse head learns mostly from public hate-speech sets (not brand-addressed); our
  labels have 20 abusive posts.
- Personal data: the training posts are public social-media posts under the licences above
  (research / non-commercial for several); the shipped artifact holds only hashed weights,
  no text.

## Reproduce

```sh
make setup && make train     # reads ../shared/data and data/labels; no network
```

The same files, seed and library versions give the same artifact (`version` names its
weights' content hash). Agents' corrections exported to `data/labels/corrections.csv`
(`python -m services.triage export-corrections --out data/labels/corrections.csv`) are
included when that file is present.
"""


BASELINE = Path(__file__).with_name("baseline.json")


def baseline() -> dict[str, Any]:
    """The "before" figures: the shipped generation-2 configuration retrained on the same
    folds (measured once, stored beside this module; see its ``how`` field)."""
    if not BASELINE.exists():
        return {}
    loaded: dict[str, Any] = json.loads(BASELINE.read_text(encoding="utf-8"))
    return loaded
