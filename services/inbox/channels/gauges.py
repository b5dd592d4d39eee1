"""The channels-by-health gauge, set from the database: the same on every replica."""

from __future__ import annotations

import asyncio
from itertools import product

from sqlalchemy.ext.asyncio import AsyncEngine

from services.inbox.channels import store
from services.inbox.domain.polling import HEALTH
from services.inbox.metrics import InboxMetrics
from services.infra.platforms import CONNECTED
from services.infra.worker import run_worker


async def refresh_channels(metrics: InboxMetrics, engine: AsyncEngine) -> None:
    """Set the channels-by-health gauge from the database once."""
    async with engine.connect() as conn:
        counts = await store.count_by_health(conn)
    for platform, health in product(CONNECTED, HEALTH):
        metrics.channels.labels(platform, health).set(counts.get((platform, health), 0))


async def refresh_forever(
    metrics: InboxMetrics, engine: AsyncEngine, stop: asyncio.Event, every: float = 15.0
) -> None:
    async def step() -> float:
        await refresh_channels(metrics, engine)
        return every

    await run_worker("inbox gauges", step, stop)
