"""The retention job: conversations idle longer than the workspace keeps them are emptied.

It runs in every triage worker; batches are claimed with SKIP LOCKED, each batch commits
with its ``privacy.conversations_purged`` event (the inbox erases its copy of the same
conversations) and an audit entry. A failed round is retried at the next interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from services.infra.worker import run_worker
from services.triage.domain.privacy import effective_retention_days, purge_before
from services.triage.privacy.store import retention_settings
from services.triage.privacy.usecases import purge_idle

log = logging.getLogger("ecoute.triage.retention")


@dataclass(eq=False)
class RetentionJob:
    engine: AsyncEngine
    default_days: int
    _: KW_ONLY
    batch_size: int = 500
    interval_seconds: float = 3600.0
    on_purged: Callable[[int], None] | None = None

    async def run_once(self, now: datetime | None = None) -> int:
        """Purge every workspace's expired conversations, batch by batch; return how many."""
        moment = now or datetime.now(UTC)
        async with self.engine.connect() as conn:
            workspaces = await retention_settings(conn)
        total = 0
        for workspace_id, has_setting, days in workspaces:
            before = purge_before(
                moment, effective_retention_days(days, has_setting, self.default_days)
            )
            if before is None:
                continue
            while True:
                async with self.engine.begin() as conn:
                    ids = await purge_idle(conn, workspace_id, before, self.batch_size, moment)
                if ids and self.on_purged is not None:
                    self.on_purged(len(ids))
                total += len(ids)
                if len(ids) < self.batch_size:
                    break
        return total

    async def run(self, stop: asyncio.Event) -> None:
        async def step() -> float:
            await self.run_once()
            return self.interval_seconds

        await run_worker("retention", step, stop, first_backoff=self.interval_seconds)
