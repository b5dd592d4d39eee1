"""Triage's Prometheus metrics (labels from closed sets only)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from services.infra.events import Event
from services.triage.domain.rules import Decision


@dataclass(frozen=True)
class TriageMetrics:
    triaged: Counter
    failures: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> TriageMetrics:
        return cls(
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

    def count_decision(self, decision: Decision) -> None:
        self.triaged.labels(
            decision.intent, f"P{decision.priority}", "true" if decision.needs_answer else "false"
        ).inc()

    def count_failure(self, event: Event, _exc: BaseException) -> None:
        self.failures.labels(event.topic if event.topic.count(".") == 1 else "other").inc()
