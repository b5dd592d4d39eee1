"""What the reply delivery and the moderation loops share: their resources, a batch of due
rows claimed in one transaction and handled concurrently outside it, and the worker loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import aiohttp
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.inbox.channels.credentials import CredentialStore
from services.inbox.metrics import InboxMetrics
from services.infra.worker import run_worker


@dataclass(eq=False)
class PlatformLoop:
    engine: AsyncEngine
    credentials: CredentialStore
    session: aiohttp.ClientSession
    metrics: InboxMetrics | None = None
    _: KW_ONLY
    batch: int = 20
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    worker: ClassVar[str]  # the loop's name in the worker's logs

    async def claim(self, conn: AsyncConnection, now: datetime) -> list[Any]:
        """Due rows, leased to this replica (in the caller's transaction)."""
        raise NotImplementedError

    async def handle(self, row: Any) -> None:
        """Carry out one claimed row and record its outcome (network I/O allowed here)."""
        raise NotImplementedError

    async def work_due(self) -> int:
        """Claim due rows and handle them concurrently; how many were claimed."""
        now = self.clock()
        async with self.engine.begin() as conn:
            claimed = await self.claim(conn, now)
        await asyncio.gather(*(self.handle(row) for row in claimed))
        return len(claimed)

    async def run(self, stop: asyncio.Event, idle_seconds: float = 1.0) -> None:
        async def step() -> float:
            return 0.0 if await self.work_due() else idle_seconds

        await run_worker(self.worker, step, stop, first_backoff=idle_seconds)
