"""Incident detection: similar messages arriving well above their usual rate become one incident.

Pure decisions over plain data, ``now`` passed in. A message becomes a *signal* with the
MinHash sketch and content words of ``similarity`` (re-exported here). In the detection
window, signals are grouped by similarity (LSH banding for candidates, verified on the full
sketch). A group opens an incident when it is cohesive (some words shared by a good part of
it) and its independent *voices* — distinct authors, a retweet counting as its original
author's post, identical long copies as one — reach ``min_voices`` and exceed ``ratio``
times the usual count of similar messages in such a window (the baseline: similar signals
over the previous day, or the history observed if shorter, scaled to the window). Abusive
signals only group with abusive ones and open a ``moderation`` incident. Open incidents grow
with matching signals and close after a quiet period.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.triage.domain.similarity import (
    author_key,
    label_for,
    merged_sketch,
    similarity,
    sketch,
    sketch_of_terms,
    terms,
)

__all__ = [
    "Closed",
    "Grown",
    "Member",
    "OpenIncident",
    "Opened",
    "Params",
    "Plan",
    "Signal",
    "author_key",
    "label_for",
    "merged_sketch",
    "plan",
    "similarity",
    "sketch",
    "sketch_of_terms",
    "terms",
]

BAND_ROWS = 2  # 32 bands of 2 rows: pairs above ~0.25 Jaccard almost always meet in a band
COPY_MIN_TERMS = 6  # identical texts this long from different authors are copies of one post


@dataclass(frozen=True, slots=True)
class Signal:
    """An inbound message that needs an answer (or is abusive), as the detector sees it."""

    message_id: int
    conversation_id: int
    author: str
    platform: str
    language: str
    abuse: bool
    at: datetime
    sketch: tuple[int, ...]
    terms: tuple[str, ...]
    incident_id: int | None = None  # already a member of this incident


@dataclass(frozen=True, slots=True)
class Member:
    message_id: int
    conversation_id: int
    author: str
    platform: str
    language: str
    at: datetime
    flooding: bool


@dataclass(frozen=True, slots=True)
class OpenIncident:
    id: int
    kind: str
    sketch: tuple[int, ...]
    first_seen: datetime
    last_seen: datetime
    members: tuple[Member, ...]


@dataclass(frozen=True, slots=True)
class Opened:
    kind: str
    label: str
    terms: tuple[str, ...]
    sketch: tuple[int, ...]
    first_seen: datetime
    last_seen: datetime
    members: tuple[Member, ...]
    author_count: int
    platforms: tuple[str, ...]
    languages: tuple[str, ...]
    samples: tuple[int, ...]  # message ids: early messages from distinct authors


@dataclass(frozen=True, slots=True)
class Grown:
    incident_id: int
    added: tuple[Member, ...]
    flooding: tuple[int, ...]  # message ids (old or new members) now flagged as flooding
    message_count: int
    author_count: int
    last_seen: datetime
    platforms: tuple[str, ...]
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Closed:
    incident_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Plan:
    opened: tuple[Opened, ...] = ()
    grown: tuple[Grown, ...] = ()
    closed: tuple[Closed, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.opened or self.grown or self.closed)


@dataclass(frozen=True, slots=True)
class Params:
    """Detection settings; the defaults are the product's (see README, "Incidents")."""

    window: timedelta = timedelta(minutes=15)
    baseline: timedelta = timedelta(hours=24)
    quiet: timedelta = timedelta(minutes=30)
    threshold: float = 0.25  # estimated Jaccard to count as "the same problem"
    min_voices: int = 5
    ratio: float = 4.0  # voices must exceed ratio x the usual count in a window
    flood_messages: int = 3  # this many messages from one author in one incident = flooding
    grow_with_recent: int = 30  # a new signal is compared with this many recent members
    shared_terms: int = 2  # a burst repeats at least this many of its words...
    shared_share: float = 0.4  # ...each written by this share of its voices


def _kind(signal: Signal) -> str:
    return "moderation" if signal.abuse else "customer"


class _Voices:
    """Independent reports: authors, with identical long copies merged (union-find)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def _find(self, key: str) -> str:
        while self.parent.setdefault(key, key) != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def add(self, signal: Signal | Member, copy: tuple[int, ...] | None) -> None:
        author = self._find("a:" + signal.author)
        if copy is not None:
            other = self._find("c:" + str(hash(copy)))
            self.parent[other] = author

    def count(self) -> int:
        return len({self._find(k) for k in self.parent if k.startswith("a:")})


def _copy_key(signal: Signal) -> tuple[int, ...] | None:
    return signal.sketch if len(signal.terms) >= COPY_MIN_TERMS else None


def _voices(signals: Iterable[Signal]) -> int:
    voices = _Voices()
    for s in signals:
        voices.add(s, _copy_key(s))
    return voices.count()


def _flooders(authors: Iterable[str], limit: int) -> set[str]:
    counts = Counter(authors)
    return {a for a, n in counts.items() if n >= limit}


def _member(signal: Signal, flooding: bool) -> Member:
    return Member(
        signal.message_id,
        signal.conversation_id,
        signal.author,
        signal.platform,
        signal.language,
        signal.at,
        flooding,
    )


BUCKET_PROBES = 16


def _bands(values: tuple[int, ...]) -> list[tuple[int, tuple[int, ...]]]:
    return [(i, values[i : i + BAND_ROWS]) for i in range(0, len(values), BAND_ROWS)]


def _groups(signals: Sequence[Signal], threshold: float) -> list[list[Signal]]:
    """Single-link groups of similar signals (LSH candidates, verified), in time order."""
    buckets: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    parent = list(range(len(signals)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, s in enumerate(signals):
        checked: set[int] = set()
        for band in _bands(s.sketch):
            # Members of one bucket share a band, so they are near each other: linking to the
            # latest few is enough, and keeps a flood of near-identical posts linear, not
            # quadratic (50,000 copies in a window were minutes of CPU per tick otherwise).
            for j in buckets.get(band, ())[-BUCKET_PROBES:]:
                if j in checked:
                    continue
                checked.add(j)
                if find(i) != find(j) and similarity(s.sketch, signals[j].sketch) >= threshold:
                    parent[find(j)] = find(i)
            buckets.setdefault(band, []).append(i)
    groups: dict[int, list[Signal]] = {}
    for i, s in enumerate(signals):
        groups.setdefault(find(i), []).append(s)
    return list(groups.values())


def usual_count(
    group: Sequence[Signal], baseline: Sequence[Signal], params: Params, now: datetime
) -> float:
    """How many voices like this group a window usually holds, from the baseline period.

    The rate is over the history actually observed (from the oldest baseline signal to the
    window, at least one window long): a workspace two hours old judges a topic by those two
    hours, not by a day it has not seen.
    """
    if not baseline:
        return 0.0
    buckets: dict[tuple[int, tuple[int, ...]], list[tuple[int, ...]]] = defaultdict(list)
    for member in group:
        for band in _bands(member.sketch):
            buckets[band].append(member.sketch)
    voices = _Voices()
    seen = False
    for s in baseline:  # like any member of the group, as the group itself was linked
        if s.abuse != group[0].abuse:
            continue
        candidates = {c for band in _bands(s.sketch) for c in buckets.get(band, ())}
        if any(similarity(s.sketch, c) >= params.threshold for c in candidates):
            voices.add(s, _copy_key(s))
            seen = True
    if not seen:
        return 0.0
    observed = now - params.window - min(s.at for s in baseline)
    span = min(max(params.window, observed), max(params.window, params.baseline - params.window))
    return voices.count() * (params.window / span)


def cohesive(group: Sequence[Signal], params: Params) -> bool:
    """One problem, not a chain: some terms are shared by a good part of the voices.

    Single-link grouping can chain messages that only share one common word ("account")
    through intermediaries; a burst about one problem repeats at least two of its words.
    """
    authors: dict[str, set[str]] = defaultdict(set)
    for s in group:
        for word in s.terms:
            authors[word].add(s.author)
    voices = len({s.author for s in group})
    shared = [w for w, who in authors.items() if len(who) >= params.shared_share * voices]
    return len(shared) >= params.shared_terms


def _sorted_unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({v for v in values if v}))


def _open(group: list[Signal], params: Params) -> Opened:
    flooders = _flooders((s.author for s in group), params.flood_messages)
    members = tuple(_member(s, s.author in flooders) for s in group)
    label, top = label_for([s.terms for s in group])
    samples: list[int] = []
    authors: set[str] = set()
    for s in group:
        if s.author not in authors and len(samples) < 3:
            authors.add(s.author)
            samples.append(s.message_id)
    return Opened(
        kind=_kind(group[0]),
        label=label,
        terms=top,
        sketch=merged_sketch([s.sketch for s in group]),
        first_seen=group[0].at,
        last_seen=group[-1].at,
        members=members,
        author_count=len({s.author for s in group}),
        platforms=_sorted_unique(s.platform for s in group),
        languages=_sorted_unique(s.language for s in group),
        samples=tuple(samples),
    )


def _growth(
    incidents: Sequence[OpenIncident], ordered: Sequence[Signal], params: Params
) -> dict[int, list[Signal]]:
    """Which fresh signals join which open incident: the first incident (in the given
    order) with a probe (its sketch or one of its latest members) similar enough.

    Candidates come from the LSH bands of the probes, as in ``_groups``: comparing every
    fresh signal with every probe of every incident was minutes of CPU per tick under a
    sustained flood with many incidents open.
    """
    order = {incident.id: n for n, incident in enumerate(incidents)}
    recent: dict[int, list[tuple[int, ...]]] = defaultdict(list)
    for s in ordered:
        if s.incident_id in order:
            recent[s.incident_id].append(s.sketch)
    index: dict[tuple[int, tuple[int, ...]], dict[int, set[tuple[int, ...]]]] = defaultdict(dict)
    for incident in incidents:
        probes = [incident.sketch, *recent[incident.id][-params.grow_with_recent :]]
        for probe in probes:
            for band in _bands(probe):
                index[band].setdefault(order[incident.id], set()).add(probe)
    kinds = [incident.kind for incident in incidents]
    joined: dict[int, list[Signal]] = defaultdict(list)
    for s in ordered:
        if s.incident_id is not None:
            continue
        best: int | None = None
        for band in _bands(s.sketch):
            for n, near in index.get(band, {}).items():
                if (best is not None and n >= best) or kinds[n] != _kind(s):
                    continue
                if any(similarity(s.sketch, p) >= params.threshold for p in near):
                    best = n
        if best is not None:
            joined[incidents[best].id].append(s)
    return joined


def _grow(incident: OpenIncident, matched: Sequence[Signal], params: Params) -> Grown:
    """The incident with these matching signals added (flooding re-judged on everyone)."""
    authors = [m.author for m in incident.members] + [s.author for s in matched]
    flooders = _flooders(authors, params.flood_messages)
    newly_flooding = tuple(
        m.message_id for m in incident.members if m.author in flooders and not m.flooding
    )
    added = tuple(_member(s, s.author in flooders) for s in matched)
    everyone = (*incident.members, *added)
    return Grown(
        incident_id=incident.id,
        added=added,
        flooding=newly_flooding,
        message_count=len(everyone),
        author_count=len({m.author for m in everyone}),
        last_seen=max(incident.last_seen, *(s.at for s in matched)),
        platforms=_sorted_unique(m.platform for m in everyone),
        languages=_sorted_unique(m.language for m in everyone),
    )


def plan(
    window: Sequence[Signal],
    baseline: Sequence[Signal],
    incidents: Sequence[OpenIncident],
    now: datetime,
    params: Params | None = None,
) -> Plan:
    """What to change now: incidents to open, to grow, to close after a quiet period.

    ``window``: signals since ``now - params.window`` (with ``incident_id`` for members);
    ``baseline``: signals of the baseline period before the window (may be empty when no
    group is big enough to need it); ``incidents``: the workspace's open incidents.
    """
    params = params or Params()
    ordered = sorted(
        (s for s in window if s.sketch and s.at <= now), key=lambda s: (s.at, s.message_id)
    )
    joined = _growth(incidents, ordered, params)
    grown = [_grow(i, joined[i.id], params) for i in incidents if joined.get(i.id)]
    taken = {s.message_id for matched in joined.values() for s in matched}
    remaining = [s for s in ordered if s.incident_id is None and s.message_id not in taken]
    opened: list[Opened] = []
    for abuse in (False, True):
        candidates = [s for s in remaining if s.abuse is abuse]
        for group in _groups(candidates, params.threshold):
            voices = _voices(group)
            if voices < params.min_voices or not cohesive(group, params):
                continue
            if voices <= params.ratio * usual_count(group, baseline, params, now):
                continue
            opened.append(_open(sorted(group, key=lambda s: (s.at, s.message_id)), params))
    last_seen = {g.incident_id: g.last_seen for g in grown}
    closed = tuple(
        Closed(i.id, now)
        for i in incidents
        if now - last_seen.get(i.id, i.last_seen) >= params.quiet
    )
    return Plan(tuple(opened), tuple(grown), closed)


def needs_baseline(window: Sequence[Signal], params: Params | None = None) -> bool:
    """Whether any group of unassigned window signals is big enough to compare with usual."""
    params = params or Params()
    fresh = [s for s in window if s.sketch and s.incident_id is None]
    if len({s.author for s in fresh}) < params.min_voices:
        return False
    for abuse in (False, True):
        for group in _groups([s for s in fresh if s.abuse is abuse], params.threshold):
            if _voices(group) >= params.min_voices and cohesive(group, params):
                return True
    return False
