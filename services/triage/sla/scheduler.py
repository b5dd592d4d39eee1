"""The SLA scheduler: raises at-risk and breach events when they happen, once.

It sleeps until the earliest ``next_transition_at`` of any running clock (woken early by
NOTIFY when a save brings a transition closer), claims the due clocks with ``FOR UPDATE SKIP
LOCKED`` one workspace at a time, the workspaces with due clocks taking turns (their
conversations first, as every writer locks them: see ``store.claim_due``), and in one
transaction records the new state, logs it, reorders the queue and publishes the event.
Any number of triage replicas may run it: a clock is claimed by one, and its stored state says
which thresholds were already raised, so each is raised once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ecoute.v1 import events_pb2
from services.infra.events import publish, timestamp
from services.infra.worker import Rotation, Wakeup, run_worker
from services.triage.domain.sla import (
    RANK,
    RESPONSE_KINDS,
    at_risk_at,
    due_at,
    next_transition,
    state,
)
from services.triage.news import store as changes
from services.triage.sla import store
from services.triage.sla.clocks import THRESHOLDS
from services.triage.sla.store import WAKE_SCHEDULER, clock_of_row, load_policies

log = logging.getLogger("ecoute.triage.scheduler")


@dataclass(frozen=True, slots=True)
class Transition:
    """A threshold a clock crossed, for metrics: when it was due and when it was raised."""

    workspace_id: uuid.UUID
    kind: str
    priority: int
    state: str
    crossed_at: datetime
    raised_at: datetime


@dataclass(eq=False)
class SlaScheduler:
    engine: AsyncEngine
    database_url: str
    _: KW_ONLY
    batch_size: int = 500
    max_sleep: float = 30.0
    on_transition: Callable[[Transition], None] | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    rotation: Rotation = field(default_factory=Rotation)

    async def tick(self) -> int:
        """Raise the transitions due now in the next workspace that has some (workspaces take
        turns); returns how many clocks were examined."""
        now = self.clock()

        async def next_after(after: uuid.UUID) -> uuid.UUID | None:
            async with self.engine.connect() as conn:
                return await store.next_workspace_due(conn, now, after)

        return await self.rotation.turn(next_after, lambda ws: self._raise_due(ws, now)) or 0

    async def _raise_due(self, workspace_id: uuid.UUID, now: datetime) -> int:
        """Raise up to a batch of the workspace's due transitions, in one transaction."""
        raised: list[Transition] = []
        async with self.engine.begin() as conn:
            rows = await store.claim_due(conn, workspace_id, now, self.batch_size)
            if not rows:
                return 0
            policies = await load_policies(conn, {workspace_id})
            updates, logs, ranks = [], [], []
            events: dict[str, tuple[list[Any], list[bytes]]] = {}
            for r in rows:
                policy = policies[r.workspace_id]
                calendar, ratio = policy.calendar, policy.at_risk_ratio
                clock = clock_of_row(r)
                current = state(clock, calendar, ratio, now)
                stored = r.state
                if current in THRESHOLDS and THRESHOLDS.index(current) > THRESHOLDS.index(stored):
                    crossed = (
                        due_at(clock, calendar)
                        if current == "breached"
                        else at_risk_at(clock, calendar, ratio)
                    ) or now
                    stored = current
                    logs.append(
                        {"w": str(r.workspace_id), "id": r.id, "at": crossed, "state": current}
                    )
                    if r.kind in RESPONSE_KINDS:
                        ranks.append(
                            {
                                "w": str(r.workspace_id),
                                "c": r.conversation_id,
                                "rank": RANK[current],
                            }
                        )
                    event = events_pb2.SlaStateChanged(
                        workspace_id=str(r.workspace_id),
                        conversation_id=r.conversation_id,
                        clock_id=r.id,
                        clock_kind=r.kind,
                        priority=r.priority,
                        state=current,
                        started_at=timestamp(clock.started_at),
                        due_at=timestamp(due_at(clock, calendar) or now),
                        crossed_at=timestamp(crossed),
                        raised_at=timestamp(now),
                        target_seconds=r.target_seconds,
                    )
                    ids, payloads = events.setdefault(f"sla.{current}", ([], []))
                    ids.append(r.workspace_id)
                    payloads.append(event.SerializeToString())
                    raised.append(
                        Transition(r.workspace_id, r.kind, r.priority, current, crossed, now)
                    )
                updates.append(
                    {
                        "w": str(r.workspace_id),
                        "id": r.id,
                        "state": stored,
                        "next": next_transition(clock, calendar, ratio, now),
                    }
                )
            await store.set_raised(conn, workspace_id, updates)
            if logs:
                await store.log_crossings(conn, workspace_id, logs)
            if ranks:
                await store.set_queue_rank(conn, workspace_id, ranks)
                await changes.record(conn, [(uuid.UUID(r["w"]), r["c"]) for r in ranks], "sla")
            for topic, (ids, payloads) in events.items():
                await publish(conn, topic, ids, payloads)
        if self.on_transition is not None:
            committed = self.clock()  # the events exist from the commit on
            for transition in raised:
                self.on_transition(replace(transition, raised_at=committed))
        return len(rows)

    async def seconds_to_next(self) -> float:
        async with self.engine.connect() as conn:
            nearest = await store.next_transition_at(conn)
        if nearest is None:
            return self.max_sleep
        return float(min(self.max_sleep, max(0.0, (nearest - self.clock()).total_seconds())))

    async def run(self, stop: asyncio.Event) -> None:
        """Raise transitions as they fall due, until ``stop``."""

        async def step() -> float:
            if await self.tick() >= self.batch_size:
                return 0.0
            return max(await self.seconds_to_next(), 0.001)

        wakeup = Wakeup(self.database_url, WAKE_SCHEDULER)
        await run_worker("sla scheduler", step, stop, wakeup=wakeup)
