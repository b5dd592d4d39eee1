"""Honest measurement on all our gold labels: 5-fold cross-validation and leave-one-brand-out.

Every figure is on posts the measuring model never trained on, and its calibration and
thresholds come from its own inner folds over its training rows (``fit.train``): nothing is
tuned on the reported fold. Public rows whose text equals any gold post are never trained
on (``data.load``), so a held-out post cannot come back through a public copy.

- ``cross_validate``: the gold rows (dev, pool 1, pool 2; pool 3 is held out) in 5 folds
  stratified by language, label and origin; figures per language and per slice (French to
  Free, English to airlines, English to other brands' support accounts, thread follow-ups).
- ``leave_one_brand_out``: for each English brand group or sector, a model trained without
  any of its gold rows, nor the public rows of that sector, decides them: the proxy for a
  brand the model has never seen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold  # type: ignore[import-untyped]

from services.triage.domain.normalise import normalise
from services.triage.domain.triage import Decision, Triage
from services.triage.training import data, evaluate, fit

Log = Callable[[str], None]
Decide = Callable[[Triage, data.Example], Decision]

# English support accounts and sectors grouped by what their customers write about.
_AIRLINES = {
    "airasiasupport",
    "alaskaair",
    "americanair",
    "british_airways",
    "delta",
    "jetblue",
    "southwestair",
    "sw_help",
    "virginamerica",
    "virginatlantic",
    "united",
    "american",
    "southwest",
    "us airways",
    "virgin america",
}
_GROUPS = {
    "telecom": (
        "ask_spectrum comcastcares coxhelp verizonsupport sprintcare tmobilehelp o2 boostcare "
        "uscellularcares airtel_care idea_cares glocare centurylinkhelp services"
    ),
    "tech": (
        "applesupport microsofthelps adobecare dropboxsupport azuresupport hpsupport "
        "godaddyhelp xboxsupport askplaystation atviassist spotifycares hulu_support "
        "neweggservice jackbox electronics software"
    ),
    "retail": (
        "amazonhelp tesco sainsburys morrisons marksandspencer argoshelpers walmart asktarget "
        "askebay chipotletweets mcdonalds dunkindonuts askpapajohns nikesupport food apparel "
        "retail"
    ),
    "transport": (
        "uber_support asklyft virgintrains nationalrailenq gwrhelp londonmidland tfl upshelp "
        "postmates_help kimpton transport cars"
    ),
    "finance": "askpaypal bofa_help ask_wellsfargo chasesupport askamex askciti asurioncares",
}
_GROUP_OF = {name: group for group, names in _GROUPS.items() for name in names.split()}
# Complaints sectors (the public set's ``domain``) per group, for leaving them out too.
_COMPLAINT_DOMAINS = {
    "telecom": {"services"},
    "tech": {"electronics", "software"},
    "retail": {"food", "apparel", "retail"},
    "transport": {"transport", "cars"},
    "other": {"other"},
}
LOBO_GROUPS = ("airline", "telecom", "tech", "retail", "transport", "finance", "other")


def slice_of(e: data.Example) -> str:
    """fr | en-airline (posts to US airlines) | en-brands (other brands' support accounts,
    first contacts and follow-ups, and complaints to customer-service accounts) | en-hostile
    (hostile tweets addressed to no brand) | other."""
    if e.lang == "fr":
        return "fr"
    if e.lang != "en":
        return "other"
    if e.origin == "airline":
        return "en-airline"
    if e.origin in ("twcs", "twcs_follow_up", "complaints"):
        return "en-brands"
    return "en-hostile"


def group_of(e: data.Example) -> str | None:
    """The English brand group or sector of a gold post (None: not addressed to a brand)."""
    if e.lang != "en" or e.origin == "mlma":
        return None
    if e.origin == "airline":
        return "airline"
    brand = e.brand.lower()
    if brand in _AIRLINES:
        return "airline"
    return _GROUP_OF.get(brand, "other")


def keep_public_without(group: str) -> data.PublicFilter:
    """Public rows a model may train on when ``group`` is left out: not its sector's."""
    domains = _COMPLAINT_DOMAINS.get(group, set())

    def keep(e: data.Example) -> bool:
        if group == "airline" and e.source == "airline":
            return False
        return not (e.source == "complaints" and e.brand in domains)

    return keep


def assign_folds(rows: Sequence[data.Example], folds: int, seed: int) -> dict[str, int]:
    """A fold per gold id, stratified by language, label and origin; posts with the same
    text share a fold (a copy must not be trained on while its twin is measured)."""
    ordered = sorted(rows, key=lambda e: e.id)
    strata = [f"{e.lang}{e.needs_answer}{e.origin}" for e in ordered]
    texts = [normalise(e.text) for e in ordered]
    split = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    fold_of: dict[str, int] = {}
    for k, (_, held) in enumerate(split.split(np.zeros(len(ordered)), strata, texts)):
        for i in held:
            fold_of[ordered[int(i)].id] = k
    return fold_of


def plain_decide(triage: Triage, e: data.Example) -> Decision:
    return triage.decide(e.text)


@dataclass(slots=True)
class Measured:
    """Gold rows and the decisions made on them by models that never saw them."""

    rows: list[data.Example]
    decisions: list[Decision]

    def add(self, rows: Sequence[data.Example], decisions: Sequence[Decision]) -> None:
        self.rows.extend(rows)
        self.decisions.extend(decisions)


def _as_row(e: data.Example) -> evaluate.Row:
    return evaluate.Row(e.id, e.text, e.needs_answer, e.lang, e.intent, e.abuse)


def figures(rows: Sequence[data.Example], decisions: Sequence[Decision]) -> dict[str, Any]:
    """needs_answer precision, recall, F1 and macro-F1, abuse F1 and intent macro-F1."""
    truth = [_as_row(e) for e in rows]
    report = evaluate.report(truth, list(decisions), "")
    need = report["needs_answer"]
    return {
        **need,
        "positives": sum(1 for e in rows if e.needs_answer == 1),
        "abuse_positives": sum(1 for e in rows if e.abuse == 1),
        "abuse": report["abuse"],
        "intent_macro_f1": report["intent_macro_f1"],
        "intent_n": sum(1 for e in rows if e.intent),
    }


def breakdown(measured: Measured) -> dict[str, Any]:
    """Figures per language, per slice and for thread follow-ups."""
    pairs = list(zip(measured.rows, measured.decisions, strict=True))
    parts: dict[str, list[tuple[data.Example, Decision]]] = {
        "fr": [p for p in pairs if p[0].lang == "fr"],
        "en": [p for p in pairs if p[0].lang == "en"],
        "en-airline": [p for p in pairs if slice_of(p[0]) == "en-airline"],
        "en-brands": [p for p in pairs if slice_of(p[0]) == "en-brands"],
        "en-threads": [p for p in pairs if p[0].lang == "en" and p[0].parent],
        "all": pairs,
    }
    return {
        name: figures([e for e, _ in part], [d for _, d in part])
        for name, part in parts.items()
        if part
    }


def _scope(m: fit.Matrix, keep: np.ndarray) -> fit.Matrix:
    return m.rows(np.flatnonzero(keep))


def cross_validate(
    corpus: data.Corpus,
    m: fit.Matrix,
    config: fit.Config,
    log: Log,
    decide: Decide = plain_decide,
    *,
    test_rows: Sequence[data.Example] | None = None,
    make: Callable[[fit.Matrix], Triage] | None = None,
) -> dict[str, Any]:
    """5-fold CV over every gold row (``test_rows``, default: the corpus's gold rows)."""
    tests = list(test_rows) if test_rows is not None else [e for e in corpus.examples if e.gold]
    tests = [e for e in tests if e.needs_answer is not None and e.lang in ("fr", "en")]
    fold_of = assign_folds(tests, config.folds, config.seed + 1)
    build = make or (lambda part: Triage(fit.in_memory(fit.train(part, config), corpus, config)))
    measured = Measured([], [])
    thresholds = []
    for k in range(config.folds):
        held = {i for i, f in fold_of.items() if f == k}
        keep = np.array([not (e.gold and e.id in held) for e in corpus.examples])
        triage = build(_scope(m, keep))
        thresholds.append(triage.model.need_thresholds)
        part = [e for e in tests if e.id in held]
        measured.add(part, [decide(triage, e) for e in part])
        log(f"  fold {k + 1}/{config.folds} done")
    result = breakdown(measured)
    result["fold_thresholds"] = thresholds
    return result


def leave_one_brand_out(
    corpus: data.Corpus,
    m: fit.Matrix,
    config: fit.Config,
    log: Log,
    decide: Decide = plain_decide,
    *,
    make: Callable[[fit.Matrix], Triage] | None = None,
) -> dict[str, Any]:
    """English gold rows of each brand group decided by a model trained without that group
    (its gold rows and its sector's public rows)."""
    build = make or (lambda part: Triage(fit.in_memory(fit.train(part, config), corpus, config)))
    measured = Measured([], [])
    per_group: dict[str, Any] = {}
    for group in LOBO_GROUPS:
        tests = [
            e
            for e in corpus.examples
            if e.gold and e.needs_answer is not None and group_of(e) == group
        ]
        if not tests:
            continue
        held = {e.id for e in tests}
        keep_public = keep_public_without(group)
        keep = np.array([(e.id not in held) if e.gold else keep_public(e) for e in corpus.examples])
        triage = build(_scope(m, keep))
        decisions = [decide(triage, e) for e in tests]
        measured.add(tests, decisions)
        per_group[group] = figures(tests, decisions)
        log(f"  without {group}: {len(tests)} posts decided")
    pooled = figures(measured.rows, measured.decisions)
    return {"groups": per_group, "pooled": pooled, **_slices(measured)}


def _slices(measured: Measured) -> dict[str, Any]:
    pairs = list(zip(measured.rows, measured.decisions, strict=True))
    out = {}
    for name in ("en-airline", "en-brands"):
        part = [p for p in pairs if slice_of(p[0]) == name]
        if part:
            out[name] = figures([e for e, _ in part], [d for _, d in part])
    return out
