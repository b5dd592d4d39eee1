"""The inbox's Prometheus metrics (labels from closed sets only: platform, outcome, reason)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.inbox.connectors.base import ERROR_REASONS
from services.inbox.domain.batch import ItemResult
from services.inbox.domain.messages import Incoming
from services.infra.platforms import CONNECTED, MODERATION

# An error no connector rule foresaw is counted under a bounded reason (ERROR_REASONS);
# a page the database refused is a poll's ``store_error``.
POLL_OUTCOMES = (
    "ok",
    "rate_limited",
    "auth_expired",
    "unavailable",
    "rejected",
    *ERROR_REASONS,
    "store_error",
)
FAILURE_REASONS = (
    "rate_limited",
    "unreachable",
    "auth_expired",
    "window_closed",
    "rejected",
    "duplicate",
    "unknown_outcome",
    "unsupported",
    "not_found",
    "awaiting_status",
    *ERROR_REASONS,
)
MODERATION_OUTCOMES = ("done", "failed", "retried")
ERASE_REASONS = ("erasure", "retention")
WEBHOOK_OUTCOMES = ("stored", "duplicate", "ignored", "handshake", "forged", "malformed")


@dataclass(frozen=True)
class InboxMetrics:
    ingested: Counter
    duplicates: Counter
    rejected_batches: Counter
    polls: Counter
    rate_limit_wait: Counter
    newest_item: Gauge
    deliveries: Counter
    delivery_failures: Counter
    webhook_requests: Counter
    channels: Gauge
    erased_messages: Counter
    moderations: Counter
    _newest: dict[str, float] = field(default_factory=dict)

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
            polls=Counter(
                "ecoute_connector_polls_total",
                "Channel polls by platform and outcome (ok, rate_limited, auth_expired, "
                "unavailable, rejected; malformed_answer, http_error, timeout, "
                "connector_error, store_error: errors no connector rule foresaw).",
                ["platform", "outcome"],
                registry=registry,
            ),
            rate_limit_wait=Counter(
                "ecoute_connector_rate_limit_wait_seconds_total",
                "Time polls were held back by platform rate limits.",
                ["platform"],
                registry=registry,
            ),
            newest_item=Gauge(
                "ecoute_connector_newest_item_timestamp_seconds",
                "Platform time of the newest message stored from a platform "
                "(connector lag = now - this).",
                ["platform"],
                registry=registry,
            ),
            deliveries=Counter(
                "ecoute_replies_delivered_total",
                "Agents' replies accepted by the platform.",
                ["platform"],
                registry=registry,
            ),
            delivery_failures=Counter(
                "ecoute_reply_delivery_failures_total",
                "Reply delivery attempts that failed, by platform and reason.",
                ["platform", "reason"],
                registry=registry,
            ),
            webhook_requests=Counter(
                "ecoute_webhook_requests_total",
                "Platform webhook requests by platform and outcome.",
                ["platform", "outcome"],
                registry=registry,
            ),
            channels=Gauge(
                "ecoute_channels",
                "Polled channels by platform and health (from the database: the same "
                "on every replica, aggregate with max).",
                ["platform", "health"],
                registry=registry,
            ),
            erased_messages=Counter(
                "ecoute_privacy_erased_messages_total",
                "Messages whose text and raw payload the inbox erased, by reason: erasure "
                "(a person's request) or retention (an idle conversation purged).",
                ["reason"],
                registry=registry,
            ),
            moderations=Counter(
                "ecoute_moderation_actions_total",
                "Moderations of comments (outcome: done, failed, retried).",
                ["platform", "action", "outcome"],
                registry=registry,
            ),
        )

    def initialise(self) -> InboxMetrics:
        """Create every child of the bounded label sets at zero (see TriageMetrics)."""
        for platform in CONNECTED:
            self.duplicates.labels(platform)
            self.deliveries.labels(platform)
            for direction in ("in", "out"):
                self.ingested.labels(platform, direction)
            for outcome in POLL_OUTCOMES:
                self.polls.labels(platform, outcome)
            for reason in FAILURE_REASONS:
                self.delivery_failures.labels(platform, reason)
        for receiver in ("x", "meta", "whatsapp", "threads"):
            for outcome in WEBHOOK_OUTCOMES:
                self.webhook_requests.labels(receiver, outcome)
        for reason in ERASE_REASONS:
            self.erased_messages.labels(reason)
        for platform, actions in MODERATION.items():
            for action in actions:
                for outcome in MODERATION_OUTCOMES:
                    self.moderations.labels(platform, action, outcome)
        return self

    def count_erased(self, reason: str, messages: int) -> None:
        self.erased_messages.labels(reason).inc(messages)

    def count_stored(self, messages: Sequence[Incoming], results: Sequence[ItemResult]) -> None:
        """Count one batch's new and duplicate messages, in a few label updates."""
        stored = Tally(
            (r.platform, messages[r.index].direction) for r in results if r.status == "stored"
        )
        for (platform, direction), n in stored.items():
            self.ingested.labels(platform, direction).inc(n)
        for platform, n in Tally(r.platform for r in results if r.status == "duplicate").items():
            self.duplicates.labels(platform).inc(n)
        newest: dict[str, float] = {}
        for r in results:
            if r.status == "stored":
                moment = messages[r.index].created_at.timestamp()
                newest[r.platform] = max(newest.get(r.platform, 0.0), moment)
        for platform, moment in newest.items():
            if moment > self._newest.get(platform, 0.0):
                self._newest[platform] = moment
                self.newest_item.labels(platform).set(moment)
