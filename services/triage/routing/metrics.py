"""Routing's Prometheus series: assignments by how they were made, how long people waited
for one, and the team's load as a distribution (never an agent id as a label)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.triage.domain.routing import HOW
from services.triage.routing.usecases import Assignment

LOADS = ("0", "1", "2", "3", "4", "5", "6-10", "11+")
"""Open-claim counts as gauge labels: a closed set, whatever the maximum per agent."""
WAIT_BUCKETS = (10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 4 * 3600.0, 8 * 3600.0, 86400.0)


def load_label(open_claims: int) -> str:
    if open_claims <= 5:
        return str(open_claims)
    return "6-10" if open_claims <= 10 else "11+"


@dataclass(frozen=True)
class RoutingMetrics:
    assignments: Counter
    wait: Histogram
    agents_by_load: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> RoutingMetrics:
        made = cls(
            Counter(
                "ecoute_assignments_total",
                "Conversations given to an agent, by outcome: auto (the routing worker), "
                "lead (a lead or admin chose the agent) or handover (the holder passed it on).",
                ["outcome"],
                registry=registry,
            ),
            Histogram(
                "ecoute_assignment_wait_seconds",
                "Time from the person's first unanswered message to the conversation's "
                "assignment (unassigned conversations only).",
                buckets=WAIT_BUCKETS,
                registry=registry,
            ),
            Gauge(
                "ecoute_agents_by_open_claims",
                "Agents whose presence is set to available or away, by how many open "
                "conversations they hold (from the database: aggregate with max).",
                ["open_claims"],
                registry=registry,
            ),
        )
        for how in HOW:
            made.assignments.labels(how)
        for load in LOADS:
            made.agents_by_load.labels(load)
        return made

    def count(self, assignment: Assignment) -> None:
        self.assignments.labels(assignment.how).inc()
        if assignment.waited_seconds is not None:
            self.wait.observe(assignment.waited_seconds)

    def set_load(self, rows: Iterable[tuple[int, int]]) -> None:
        """``rows``: (open claims, agents holding that many)."""
        counts = dict.fromkeys(LOADS, 0)
        for open_claims, agents in rows:
            counts[load_label(open_claims)] += agents
        for label, agents in counts.items():
            self.agents_by_load.labels(label).set(agents)
