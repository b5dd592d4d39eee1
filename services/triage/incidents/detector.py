"""The incident detector: every few seconds, each active workspace's window is re-decided.

It reads the workspace's signal window and open incidents, asks the pure ``plan`` what
changes, and applies it in one transaction: incident rows, members, history rows (their
statements in ``store``), the ``incident.opened|grown|closed`` outbox events and the desk's
change log. A transaction-level advisory lock per workspace (tried, never waited for) lets
any number of triage replicas run it: one decides a workspace at a time, the others skip it
for that tick.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ecoute.v1 import events_pb2
from services.infra.events import publish, timestamp
from services.infra.worker import run_worker
from services.triage.domain import incidents
from services.triage.domain.incidents import Closed, Grown, Opened, Params
from services.triage.incidents import store
from services.triage.news import store as changes
from services.triage.settings import TriageSettings

log = logging.getLogger("ecoute.triage.incidents")

CHANGE_KIND = "incident"  # the desk change-log kind (same as the desk's own changes)


@dataclass(frozen=True, slots=True)
class IncidentNews:
    """What the detector did, for metrics: observed by the replica that did it, once."""

    change: str  # opened, grown or closed
    kind: str
    message_count: int
    lag_seconds: float = 0.0  # opened: from the burst's first message to the incident


def replay_clock(
    origin: datetime, speed: float, at: datetime | None = None
) -> Callable[[], datetime]:
    """A clock reading ``origin`` at the real instant ``at`` (default now) and running ``speed``
    times real time: replays of old data, and benches that must not wait for hours."""
    start = (at or datetime.now(UTC)).timestamp()
    return lambda: origin + timedelta(seconds=(time.time() - start) * speed)


class IncidentDetector:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        params: Params | None = None,
        tick_seconds: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_news: Callable[[IncidentNews], None] | None = None,
        stopwatch: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.params = params or Params()
        self.tick_seconds = tick_seconds
        self.clock = clock
        self.on_news = on_news
        self.stopwatch = stopwatch  # times ticks (the clock above may be a replay clock)
        self._last_prune: datetime | None = None

    async def tick(self) -> int:
        """Decide every active workspace once; returns how many were decided."""
        now = self.clock()
        async with self.engine.connect() as conn:
            active = await store.active_workspaces(conn, now - self.params.window)
        decided = 0
        for workspace_id in active:
            decided += await self.detect(workspace_id)
        if self._last_prune is None or now - self._last_prune > timedelta(hours=1):
            async with self.engine.begin() as conn:
                await store.prune_signals(conn, now)
            self._last_prune = now
        return decided

    async def detect(self, workspace_id: uuid.UUID) -> int:
        """Decide one workspace in one transaction; 0 if another replica holds it."""
        news: list[IncidentNews] = []
        async with self.engine.begin() as conn:
            if not await store.try_lock_workspace(conn, workspace_id):
                return 0
            now = self.clock()
            params = self.params
            open_incidents = await store.load_open(conn, workspace_id)
            window = await store.signal_window(conn, workspace_id, now - params.window, now)
            baseline = []
            # The pure decisions run in a thread: the event loop (the consumer, the stop
            # signal) keeps going while a large window is judged.
            if await asyncio.to_thread(incidents.needs_baseline, window, params):
                baseline = await store.signal_baseline(
                    conn, workspace_id, now - params.baseline, now - params.window
                )
            plan = await asyncio.to_thread(
                incidents.plan, window, baseline, open_incidents, now, params
            )
            if not plan:
                return 1
            for opened in plan.opened:
                news.append(await self._open(conn, workspace_id, opened, now))
            kinds = {i.id: i.kind for i in open_incidents}
            for grown in plan.grown:
                await self._grow(conn, workspace_id, grown, kinds[grown.incident_id], now)
                news.append(IncidentNews("grown", kinds[grown.incident_id], grown.message_count))
            for closed in plan.closed:
                done = await self._close(conn, workspace_id, closed, now)
                if done is not None:
                    news.append(done)
        for item in news:
            log.info(
                "incident %s",
                item.change,
                extra={
                    "workspace_id": str(workspace_id),
                    "kind": item.kind,
                    "messages": item.message_count,
                },
            )
            if self.on_news is not None:
                self.on_news(item)
        return 1

    async def _announce(
        self,
        conn: AsyncConnection,
        workspace_id: uuid.UUID,
        incident_id: int,
        change: str,
        *,
        kind: str,
        status: str,
        message_count: int,
        conversation_ids: Sequence[int],
        detail: dict[str, Any],
        now: datetime,
    ) -> None:
        """History row, outbox event and the desk's change log for one change."""
        await store.add_detected_history(conn, workspace_id, incident_id, change, detail, now)
        event = events_pb2.IncidentChanged(
            workspace_id=str(workspace_id),
            incident_id=incident_id,
            change=change,
            kind=kind,
            status=status,
            message_count=message_count,
            conversation_ids=sorted(set(conversation_ids)),
            close_reason="quiet" if change == "closed" else "",
            changed_at=timestamp(now),
        )
        await publish(conn, f"incident.{change}", [workspace_id], [event.SerializeToString()])
        await changes.record(conn, [(workspace_id, c) for c in conversation_ids], CHANGE_KIND)

    async def _open(
        self, conn: AsyncConnection, workspace_id: uuid.UUID, opened: Opened, now: datetime
    ) -> IncidentNews:
        incident_id = await store.insert_incident(conn, workspace_id, opened, now)
        conversations = await store.insert_members(
            conn, workspace_id, incident_id, opened.members, now
        )
        lag = max(0.0, (now - opened.first_seen).total_seconds())
        await self._announce(
            conn,
            workspace_id,
            incident_id,
            "opened",
            kind=opened.kind,
            status="open",
            message_count=len(opened.members),
            conversation_ids=conversations,
            detail={
                "messages": len(opened.members),
                "authors": opened.author_count,
                "burst_start": opened.first_seen,
                "lag_seconds": round(lag, 3),
                "sample_message_ids": list(opened.samples),
                "conversation_ids": sorted(set(conversations)),
            },
            now=now,
        )
        return IncidentNews("opened", opened.kind, len(opened.members), lag)

    async def _grow(
        self, conn: AsyncConnection, workspace_id: uuid.UUID, grown: Grown, kind: str, now: datetime
    ) -> None:
        conversations = await store.insert_members(
            conn, workspace_id, grown.incident_id, grown.added, now
        )
        await store.save_growth(conn, workspace_id, grown, now)
        await self._announce(
            conn,
            workspace_id,
            grown.incident_id,
            "grown",
            kind=kind,
            status="open",
            message_count=grown.message_count,
            conversation_ids=conversations,
            detail={
                "added": len(grown.added),
                "messages": grown.message_count,
                "authors": grown.author_count,
                "flooding": len(grown.flooding),
                "conversation_ids": sorted(set(conversations)),
            },
            now=now,
        )

    async def _close(
        self, conn: AsyncConnection, workspace_id: uuid.UUID, closed: Closed, now: datetime
    ) -> IncidentNews | None:
        row = await store.close_quiet(conn, workspace_id, closed.incident_id, now)
        if row is None:
            return None
        conversations = await store.member_conversations(conn, workspace_id, closed.incident_id)
        await self._announce(
            conn,
            workspace_id,
            closed.incident_id,
            "closed",
            kind=row.kind,
            status="closed",
            message_count=row.message_count,
            conversation_ids=conversations,
            detail={"reason": "quiet", "messages": row.message_count},
            now=now,
        )
        return IncidentNews("closed", row.kind, row.message_count)

    async def run(self, stop: asyncio.Event) -> None:
        """Decide every few seconds until ``stop``; a failing tick backs off and retries."""

        async def step() -> float:
            started = self.stopwatch()
            await self.tick()
            # A tick that took long (a flooded workspace) is followed by as long a rest,
            # so the detector never takes more than about half of the worker's CPU.
            return max(self.tick_seconds, self.stopwatch() - started)

        await run_worker("incident detector", step, stop)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_detector(
    engine: AsyncEngine,
    settings: TriageSettings,
    on_news: Callable[[IncidentNews], None] | None = None,
) -> IncidentDetector:
    """The detector with the configured windows (and the replay clock, when one is set)."""
    params = Params(
        window=timedelta(seconds=settings.incident_window_seconds),
        baseline=timedelta(seconds=settings.incident_baseline_seconds),
        quiet=timedelta(seconds=settings.incident_quiet_seconds),
        min_voices=settings.incident_min_voices,
    )
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731
    if settings.incident_clock_origin is not None:
        clock = replay_clock(
            _aware(settings.incident_clock_origin),
            settings.incident_clock_speed,
            _aware(settings.incident_clock_at) if settings.incident_clock_at else None,
        )
    return IncidentDetector(
        engine,
        params=params,
        tick_seconds=settings.incident_tick_seconds,
        clock=clock,
        on_news=on_news,
    )
