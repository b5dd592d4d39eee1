"""The routing worker: every few seconds, in each workspace that turned automatic assignment
on, one transaction gives the most urgent unassigned conversations to available agents.

Several replicas run it at once: a workspace's advisory lock lets one of them assign there
while the others move on, and the conversations are taken ``FOR UPDATE SKIP LOCKED`` so an
agent's own claim is never waited for nor overwritten. A worker killed mid-round rolls its
transaction back: the conversations wait for the next round, none is lost or given twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from services.infra.worker import run_worker
from services.triage.access.auth import utc_now
from services.triage.routing import store
from services.triage.routing.usecases import Assignment, RoutingConfig, assign_round


@dataclass
class RoutingWorker:
    engine: AsyncEngine
    config: RoutingConfig
    interval_seconds: float = 2.0
    on_assigned: Callable[[Assignment], None] = lambda _a: None
    on_load: Callable[[list[tuple[int, int]]], None] = lambda _rows: None
    clock: Callable[[], datetime] = utc_now

    async def step(self) -> float:
        """One round in every auto-assigning workspace; 0 (go on) when a round was full."""
        now = self.clock()
        async with self.engine.connect() as conn:
            workspaces = await store.auto_assigning(conn)
        full = False
        for workspace_id in workspaces:
            async with self.engine.begin() as conn:
                made = await assign_round(conn, workspace_id, now, self.config)
            for assignment in made:
                self.on_assigned(assignment)
            full = full or len(made) >= self.config.batch_size
        async with self.engine.connect() as conn:
            self.on_load([(r.open_claims, r.agents) for r in await store.load_by_claims(conn, now)])
        return 0.0 if full else self.interval_seconds

    async def run(self, stop: asyncio.Event) -> None:
        await run_worker("routing", self.step, stop)
