"""The inbox's one event consumer: reply requests, moderation requests, erasure requests and
retention purges, in the order triage published them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.inbox.delivery.deliverer import record_requests
from services.inbox.delivery.moderation import record_moderation_requests
from services.inbox.metrics import InboxMetrics
from services.inbox.privacy.erasure import apply_privacy
from services.infra.events import Consumer, Event

CONSUMER = "inbox"


def inbox_consumer(
    engine: AsyncEngine, database_url: str, metrics: InboxMetrics | None = None
) -> Consumer:
    """Reply and moderation requests become queued rows; erasures and purges apply here
    too (after the requests of the same batch, which they may cover)."""

    async def handle(conn: AsyncConnection, events: list[Event]) -> None:
        await record_requests(conn, events)
        await record_moderation_requests(conn, events)
        await apply_privacy(conn, events, None if metrics is None else metrics.count_erased)

    return Consumer(engine, database_url, CONSUMER, handle)
