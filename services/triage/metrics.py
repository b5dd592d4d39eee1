"""Triage's Prometheus metrics (labels from closed sets only).

Counters and histograms are observed by the replica that did the work, once, so summing over
replicas is right. Gauges computed from the database (clocks by state, event backlog) are
the same on every replica: dashboards and rules take ``max`` over instances, never ``sum``.

The SLA figures carry a ``brand``: the workspace's name as a slug for the oldest
``TRIAGE_METRICS_BRANDS`` workspaces, "other" for the rest (``bounded_labels``), so a
manager can split first response and breaches by brand while the series stay bounded.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncEngine

from services.infra.events import Event, backlog
from services.infra.metrics import OTHER_LABEL, bounded_labels
from services.infra.worker import run_worker
from services.triage.domain.automation import ACTION_KINDS
from services.triage.domain.sla import DEFAULT_POLICY, KINDS, Clock
from services.triage.domain.triage import INTENTS, Decision
from services.triage.incidents.detector import IncidentNews
from services.triage.sla.scheduler import Transition
from services.triage.stats import store as stats

REPLY_ORIGINS = (
    "written",
    "saved_personalised",
    "saved_unchanged",
    "incident_note_personalised",
    "incident_note_unchanged",
)
"""Where a reply started from: typed, a saved reply or an incident's status note, and whether
that starting point was edited for the person."""

SUGGESTION_OUTCOMES = ("shown", "used", "sent_edited", "sent_unchanged")
"""What became of a suggested reply: shown under the reply box, put in it ("Use"), and sent
after an edit or word for word."""

log = logging.getLogger("ecoute.triage.metrics")


def _sla_buckets(kind: str) -> tuple[float, ...]:
    """Bucket edges at the default policy's targets for ``kind``, plus usual marks."""
    targets = {t.of(kind) for t in DEFAULT_POLICY.targets.values()}
    marks = {
        60,
        300,
        900,
        1800,
        3600,
        2 * 3600,
        4 * 3600,
        8 * 3600,
        24 * 3600,
        72 * 3600,
        168 * 3600,
    }
    return tuple(sorted(float(v) for v in targets | marks))


PRIORITIES = ("P1", "P2", "P3", "P4")
CLOCK_STATES = ("ok", "at_risk", "breached", "paused")
INCIDENT_KINDS = ("customer", "moderation")


@dataclass(frozen=True)
class TriageMetrics:
    triaged: Counter
    failures: Counter
    first_response: Histogram
    resolution: Histogram
    breaches: Counter
    at_risk: Counter
    transition_lag: Histogram
    clocks_started: Counter
    clocks_stopped: Counter
    clocks: Gauge
    event_backlog: Gauge
    queue_size: Gauge
    replies_requested: Counter
    suggestions: Counter
    queue_oldest: Gauge
    erasures: Counter
    purged: Counter
    incidents_opened: Counter
    incidents_open: Gauge
    incident_messages: Histogram
    incident_detect_lag: Histogram
    rules_fired: Counter
    brand_cap: int = 10
    _brands: dict[uuid.UUID, str] = field(default_factory=dict)

    @classmethod
    def create(cls, registry: CollectorRegistry, brand_cap: int = 10) -> TriageMetrics:
        return cls(
            **_triage_series(registry),
            **_sla_series(registry),
            **_desk_series(registry),
            **_incident_series(registry),
            brand_cap=brand_cap,
        )

    def initialise(self) -> TriageMetrics:
        """Create every child of the bounded label sets at zero, so the first event of a
        series counts in ``increase()`` and ratios are 0, not NaN, before anything happens."""
        self._initialise_brand(OTHER_LABEL)
        for priority in PRIORITIES:
            for intent in INTENTS:
                for need in ("true", "false"):
                    self.triaged.labels(intent, priority, need)
        for origin in REPLY_ORIGINS:
            self.replies_requested.labels(origin)
        for outcome in SUGGESTION_OUTCOMES:
            self.suggestions.labels(outcome)
        for stage in ("requested", "completed"):
            self.erasures.labels(stage)
        for action in ACTION_KINDS:
            self.rules_fired.labels(action)
        for kind in INCIDENT_KINDS:
            self.incidents_opened.labels(kind)
            self.incidents_open.labels(kind)
            self.incident_messages.labels(kind)
            self.incident_detect_lag.labels(kind)
        return self

    def _initialise_brand(self, brand: str) -> None:
        for priority in PRIORITIES:
            self.first_response.labels(brand, priority)
            self.resolution.labels(brand, priority)
            for kind in KINDS:
                self.breaches.labels(brand, kind, priority)
                self.at_risk.labels(brand, kind, priority)
                self.clocks_started.labels(brand, kind, priority)
                for outcome in ("met", "missed", "cancelled"):
                    self.clocks_stopped.labels(brand, kind, priority, outcome)

    def brand(self, workspace_id: uuid.UUID) -> str:
        """The workspace's ``brand`` label ("other" beyond the cap, or until it is known)."""
        return self._brands.get(workspace_id, OTHER_LABEL)

    async def refresh_brands(self, engine: AsyncEngine) -> None:
        """Read the workspaces' names again: a new or renamed workspace gets its label."""
        # A few spare rows: a workspace whose slug is empty or taken falls to "other".
        async with engine.connect() as conn:
            named = await stats.oldest_workspaces(conn, 2 * self.brand_cap + 16)
        labels = bounded_labels(named, self.brand_cap)
        for brand in set(labels.values()) - set(self._brands.values()):
            self._initialise_brand(brand)
        self._brands.clear()
        self._brands.update(labels)

    async def refresh_brands_forever(
        self, engine: AsyncEngine, stop: asyncio.Event, every: float = 15.0
    ) -> None:
        await _repeat("triage brand labels", self.refresh_brands, engine, stop, every)

    def count_erasure(self, stage: str) -> None:
        self.erasures.labels(stage).inc()

    def count_purged(self, conversations: int) -> None:
        self.purged.inc(conversations)

    def count_incident(self, news: IncidentNews) -> None:
        """What the detector did: opened (with its lag) or closed (with its size)."""
        if news.change == "opened":
            self.incidents_opened.labels(news.kind).inc()
            self.incident_detect_lag.labels(news.kind).observe(news.lag_seconds)
        elif news.change == "closed":
            self.incident_messages.labels(news.kind).observe(news.message_count)

    def count_rule_fired(self, kind: str) -> None:
        """One action a rule took (``kind`` one of ``ACTION_KINDS``)."""
        self.rules_fired.labels(kind if kind in ACTION_KINDS else OTHER_LABEL).inc()

    def count_reply_origin(self, origin: str) -> None:
        self.replies_requested.labels(origin).inc()

    def count_suggestion(self, outcome: str) -> None:
        self.suggestions.labels(outcome if outcome in SUGGESTION_OUTCOMES else OTHER_LABEL).inc()

    def count_decision(self, decision: Decision) -> None:
        self.triaged.labels(
            decision.intent, f"P{decision.priority}", "true" if decision.needs_answer else "false"
        ).inc()

    def count_failure(self, event: Event, _exc: BaseException) -> None:
        self.failures.labels(event.topic if event.topic.count(".") == 1 else "other").inc()

    def count_clock_stop(
        self, workspace_id: uuid.UUID, event: str, clock: Clock, elapsed_seconds: float
    ) -> None:
        """A clock started or stopped: the SLI counters and the duration histograms."""
        brand, priority = self.brand(workspace_id), f"P{clock.priority}"
        if event == "started":
            self.clocks_started.labels(brand, clock.kind, priority).inc()
            return
        outcome = clock.outcome or "cancelled"
        self.clocks_stopped.labels(brand, clock.kind, priority, outcome).inc()
        if clock.outcome not in ("met", "missed"):
            return
        if clock.kind == "first_response":
            self.first_response.labels(brand, priority).observe(elapsed_seconds)
        elif clock.kind == "resolution":
            self.resolution.labels(brand, priority).observe(elapsed_seconds)

    def count_transition(self, transition: Transition) -> None:
        counter = self.breaches if transition.state == "breached" else self.at_risk
        brand = self.brand(transition.workspace_id)
        counter.labels(brand, transition.kind, f"P{transition.priority}").inc()
        lag = (transition.raised_at - transition.crossed_at).total_seconds()
        self.transition_lag.observe(max(0.0, lag))

    async def refresh_from_database(self, engine: AsyncEngine) -> None:
        """Set the database-derived gauges once."""
        async with engine.connect() as conn:
            rows = await stats.running_clocks(conn)
            waiting = await backlog(conn)
            open_incidents = await stats.open_incidents(conn)
            queued = await stats.queue_by_priority(conn)
        counts = {(r.kind, r.state, f"P{r.priority}"): r.n for r in rows}
        for kind, clock_state, priority in product(KINDS, CLOCK_STATES, PRIORITIES):
            self.clocks.labels(kind, clock_state, priority).set(
                counts.get((kind, clock_state, priority), 0)
            )
        for kind in INCIDENT_KINDS:
            self.incidents_open.labels(kind).set(open_incidents.get(kind, 0))
        by_priority = {f"P{r.priority}": r for r in queued}
        for priority in PRIORITIES:
            row = by_priority.get(priority)
            self.queue_size.labels(priority).set(row.n if row else 0)
            if row is not None and row.oldest is not None:
                self.queue_oldest.labels(priority).set(row.oldest.timestamp())
            else:
                self.queue_oldest.labels(priority).set(float("nan"))
        for consumer in ("triage", "triage-webhooks", *waiting):
            self.event_backlog.labels(consumer).set(waiting.get(consumer, 0))

    async def refresh_forever(
        self, engine: AsyncEngine, stop: asyncio.Event, every: float = 15.0
    ) -> None:
        await _repeat("triage gauges", self.refresh_from_database, engine, stop, every)


async def _repeat(
    name: str,
    refresh: Callable[[AsyncEngine], Awaitable[None]],
    engine: AsyncEngine,
    stop: asyncio.Event,
    every: float,
) -> None:
    """Run ``refresh`` every ``every`` seconds until ``stop`` (a failure is retried)."""

    async def step() -> float:
        await refresh(engine)
        return every

    await run_worker(name, step, stop)


def _triage_series(registry: CollectorRegistry) -> dict[str, Any]:
    """Triage itself: messages decided, events it could not handle."""
    return dict(
        triaged=Counter(
            "ecoute_messages_triaged_total",
            "Inbound messages triaged, by intent, priority and need.",
            ["intent", "priority", "needs_answer"],
            registry=registry,
        ),
        failures=Counter(
            "ecoute_triage_failures_total",
            "Events triage could not handle (retried, then dead-lettered).",
            ["topic"],
            registry=registry,
        ),
    )


def _sla_series(registry: CollectorRegistry) -> dict[str, Any]:
    """SLA clocks: durations, thresholds raised, clocks started, stopped and running."""
    return dict(
        first_response=Histogram(
            "ecoute_first_response_seconds",
            "Business time from the customer's first unanswered message to the first "
            "reply delivered, by brand and priority (bucket edges at the default targets).",
            ["brand", "priority"],
            buckets=_sla_buckets("first_response"),
            registry=registry,
        ),
        resolution=Histogram(
            "ecoute_resolution_seconds",
            "Business time from the first unanswered message to resolution, by brand and priority.",
            ["brand", "priority"],
            buckets=_sla_buckets("resolution"),
            registry=registry,
        ),
        breaches=Counter(
            "ecoute_sla_breaches_total",
            "SLA clocks that reached their target unanswered, by brand, kind and priority.",
            ["brand", "kind", "priority"],
            registry=registry,
        ),
        at_risk=Counter(
            "ecoute_sla_at_risk_total",
            "SLA clocks that passed the at-risk share of their target.",
            ["brand", "kind", "priority"],
            registry=registry,
        ),
        transition_lag=Histogram(
            "ecoute_sla_transition_lag_seconds",
            "Delay between an SLA threshold falling due and its event being raised.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=registry,
        ),
        clocks_started=Counter(
            "ecoute_sla_clocks_started_total",
            "SLA clocks started, by brand, kind and priority.",
            ["brand", "kind", "priority"],
            registry=registry,
        ),
        clocks_stopped=Counter(
            "ecoute_sla_clocks_stopped_total",
            "SLA clocks stopped, by brand, kind, priority and outcome (met, missed, cancelled).",
            ["brand", "kind", "priority", "outcome"],
            registry=registry,
        ),
        clocks=Gauge(
            "ecoute_sla_clocks",
            "Running SLA clocks by kind, state and priority (from the database: "
            "the same on every replica, aggregate with max).",
            ["kind", "state", "priority"],
            registry=registry,
        ),
    )


def _desk_series(registry: CollectorRegistry) -> dict[str, Any]:
    """The desk and its jobs: event backlog, replies, the queue, erasures, retention."""
    return dict(
        event_backlog=Gauge(
            "ecoute_event_backlog",
            "Events waiting for a consumer (from the database: the same on "
            "every replica, aggregate with max).",
            ["consumer"],
            registry=registry,
        ),
        rules_fired=Counter(
            "ecoute_rules_fired_total",
            "Actions workspace rules took on triaged messages, by kind (tag, set_priority, "
            "route, close, mark_abuse, notify).",
            ["kind"],
            registry=registry,
        ),
        replies_requested=Counter(
            "ecoute_replies_requested_total",
            "Replies agents sent, by origin: written, saved_personalised (a saved reply "
            "edited for the person), saved_unchanged, incident_note_personalised (an "
            "incident's status note edited for the person) or incident_note_unchanged.",
            ["origin"],
            registry=registry,
        ),
        suggestions=Counter(
            "ecoute_suggestions_total",
            "Suggested replies (answers of similar resolved conversations) by outcome: shown "
            "under the reply box, used (put in it), sent_edited or sent_unchanged.",
            ["outcome"],
            registry=registry,
        ),
        queue_size=Gauge(
            "ecoute_queue_conversations",
            "Open conversations waiting for an answer, by priority (from the database: "
            "aggregate with max).",
            ["priority"],
            registry=registry,
        ),
        queue_oldest=Gauge(
            "ecoute_queue_oldest_waiting_since_timestamp_seconds",
            "When the longest-waiting person of each priority wrote (oldest wait = now - "
            "this; from the database: aggregate with min).",
            ["priority"],
            registry=registry,
        ),
        erasures=Counter(
            "ecoute_privacy_erasures_total",
            "Erasure requests, by stage: requested (an admin asked), completed (both "
            "services erased their copy).",
            ["stage"],
            registry=registry,
        ),
        purged=Counter(
            "ecoute_retention_purged_conversations_total",
            "Conversations emptied by the retention job (idle longer than kept).",
            registry=registry,
        ),
    )


def _incident_series(registry: CollectorRegistry) -> dict[str, Any]:
    """Incidents: opened, open, their size and how fast they were detected."""
    return dict(
        incidents_opened=Counter(
            "ecoute_incidents_opened_total",
            "Incidents the detector opened (bursts of similar messages), by kind.",
            ["kind"],
            registry=registry,
        ),
        incidents_open=Gauge(
            "ecoute_incidents_open",
            "Open incidents by kind (from the database: aggregate with max).",
            ["kind"],
            registry=registry,
        ),
        incident_messages=Histogram(
            "ecoute_incident_messages",
            "Messages in an incident when the detector closes it after a quiet period.",
            ["kind"],
            buckets=(5, 10, 20, 50, 100, 200, 500, 1000, 5000),
            registry=registry,
        ),
        incident_detect_lag=Histogram(
            "ecoute_incident_detect_lag_seconds",
            "Time from a burst's first message to its incident being opened (target 60 s).",
            ["kind"],
            buckets=(5, 10, 15, 30, 45, 60, 90, 120, 300, 600),
            registry=registry,
        ),
    )
