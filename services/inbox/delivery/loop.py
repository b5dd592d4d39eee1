"""What the reply delivery and the moderation loops share: their resources, a batch of due
rows of one workspace claimed in one transaction (workspaces take turns: ``Rotation``) and
handled concurrently outside it, and the worker loop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import aiohttp
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.inbox.channels.credentials import CredentialStore
from services.inbox.metrics import InboxMetrics
from services.infra.due_rows import claim_and_handle
from services.infra.worker import Rotation, run_worker


@dataclass(eq=False)
class PlatformLoop:
    engine: AsyncEngine
    credentials: CredentialStore
    session: aiohttp.ClientSession
    metrics: InboxMetrics | None = None
    _: KW_ONLY
    batch: int = 20
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    rotation: Rotation = field(default_factory=Rotation)
    worker: ClassVar[str]  # the loop's name in the worker's logs

    async def next_workspace(
        self, conn: AsyncConnection, now: datetime, after: uuid.UUID
    ) -> uuid.UUID | None:
        """The first workspace above ``after`` with a row due (a read: it locks nothing)."""
        raise NotImplementedError

    async def claim(
        self, conn: AsyncConnection, workspace_id: uuid.UUID, now: datetime
    ) -> list[Any]:
        """The workspace's due rows, leased to this replica (in the caller's transaction)."""
        raise NotImplementedError

    async def handle(self, row: Any) -> None:
        """Carry out one claimed row and record its outcome (network I/O allowed here)."""
        raise NotImplementedError

    async def work_due(self) -> int:
        """Claim the due rows of the next workspace that has some and handle them
        concurrently; how many were claimed."""
        now = self.clock()
        return await claim_and_handle(
            self.engine,
            self.rotation,
            lambda conn, after: self.next_workspace(conn, now, after),
            lambda conn, ws: self.claim(conn, ws, now),
            self.handle,
        )

    async def run(self, stop: asyncio.Event, idle_seconds: float = 1.0) -> None:
        async def step() -> float:
            return 0.0 if await self.work_due() else idle_seconds

        await run_worker(self.worker, step, stop, first_backoff=idle_seconds)
