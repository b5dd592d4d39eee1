"""The inbox's Prometheus metrics (labels from closed sets only)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


@dataclass(frozen=True)
class InboxMetrics:
    ingested: Counter
    duplicates: Counter
    rejected_batches: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> InboxMetrics:
        return cls(
            ingested=Counter(
                "ecoute_messages_ingested_total",
                "Messages stored for the first time, by platform and direction.",
                ["platform", "direction"],
                registry=registry,
            ),
            duplicates=Counter(
                "ecoute_messages_duplicate_total",
                "Messages received again and not stored twice, by platform.",
                ["platform"],
                registry=registry,
            ),
            rejected_batches=Counter(
                "ecoute_ingest_rejected_batches_total",
                "Ingest batches refused, by HTTP status.",
                ["status"],
                registry=registry,
            ),
        )
