"""The event transport between services: a transactional outbox in Postgres.

A producer writes its events in the same transaction as its state change; each subscribed
consumer gets its own row (``events.outbox``), so no consumer depends on a cursor and none
can skip a row whose transaction commits late. A consumer claims rows with ``FOR UPDATE SKIP
LOCKED``, handles them and deletes them in one transaction: a crash releases the claim, and
the state change and the acknowledgement commit together (exactly-once effects).
``LISTEN/NOTIFY`` only wakes consumers up; a poll every few seconds is the fallback.

This module is the one interface a broker (NATS JetStream, Kafka) would replace.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from typing import TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.infra.db import is_unavailable
from services.infra.worker import Rotation, Wakeup, run_worker, workspace_after

log = logging.getLogger("ecoute.events")

MAX_ATTEMPTS = 5


def wake_channel(consumer: str) -> str:
    """The NOTIFY channel that wakes one consumer."""
    return f"ecoute_events_{consumer}"


@dataclass(frozen=True, slots=True)
class Event:
    """One delivery of an event to one consumer."""

    id: int
    topic: str
    workspace_id: uuid.UUID
    payload: bytes
    attempts: int


_PUBLISH = text(
    """
    WITH published AS (
        INSERT INTO events.outbox (consumer, topic, workspace_id, payload)
        SELECT s.consumer, s.topic, e.workspace_id, e.payload
        FROM unnest(CAST(:workspace_ids AS uuid[]), CAST(:payloads AS bytea[]))
             AS e(workspace_id, payload)
        JOIN events.subscription AS s ON s.topic = :topic
        RETURNING consumer
    )
    SELECT pg_notify('ecoute_events_' || consumer, '') FROM (SELECT DISTINCT consumer
                                                            FROM published) AS c
    """
)


async def publish(
    conn: AsyncConnection,
    topic: str,
    workspace_ids: Sequence[uuid.UUID],
    payloads: Sequence[bytes],
) -> None:
    """Queue events for every consumer subscribed to ``topic``, inside the caller's transaction.

    Nothing is visible, and no one is woken, until that transaction commits.
    """
    if not payloads:
        return
    await conn.execute(
        _PUBLISH,
        {"topic": topic, "workspace_ids": list(workspace_ids), "payloads": list(payloads)},
    )


Handler = Callable[[AsyncConnection, list[Event]], Awaitable[None]]

# The next workspace with events after ``:after``, wrapping round to the first: one round
# trip, the second branch read only when the first finds nothing.
_NEXT_WORKSPACE = text(
    """
    (SELECT workspace_id FROM events.outbox
     WHERE consumer = :consumer AND workspace_id > :after AND available_at <= now()
     ORDER BY workspace_id LIMIT 1)
    UNION ALL
    (SELECT workspace_id FROM events.outbox
     WHERE consumer = :consumer AND workspace_id <= :after AND available_at <= now()
     ORDER BY workspace_id LIMIT 1)
    LIMIT 1
    """
)
_CLAIM = text(
    """
    SELECT id, topic, workspace_id, payload, attempts FROM events.outbox
    WHERE consumer = :consumer AND workspace_id = :ws AND available_at <= now()
    ORDER BY id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)
_CLAIM_ONE = text(
    """
    SELECT id, topic, workspace_id, payload, attempts FROM events.outbox
    WHERE consumer = :consumer AND workspace_id = :ws AND id = :id
    FOR UPDATE SKIP LOCKED
    """
)
# The id range bounds the index scan to the batch (claimed in id order): with the workspace
# before the id in the key, ``id = ANY`` alone made the planner read the whole table.
_ACK = text(
    "DELETE FROM events.outbox WHERE consumer = :consumer AND workspace_id = :ws "
    "AND id BETWEEN :first AND :last AND id = ANY(:ids)"
)
_RETRY_LATER = text(
    """
    UPDATE events.outbox
    SET attempts = attempts + 1, last_error = :error,
        available_at = now() + make_interval(secs => :delay)
    WHERE consumer = :consumer AND workspace_id = :ws AND id = :id
    """
)
_BURY = text(
    """
    WITH gone AS (DELETE FROM events.outbox
                  WHERE consumer = :consumer AND workspace_id = :ws AND id = :id RETURNING *)
    INSERT INTO events.dead_letter (id, consumer, topic, workspace_id, payload, created_at,
                                    attempts, last_error)
    SELECT id, consumer, topic, workspace_id, payload, created_at, attempts + 1, :error
    FROM gone
    """
)


Payload = TypeVar("Payload", bound=Message)


def read_payload(event: Event, kind: type[Payload]) -> Payload:
    """The event's payload as ``kind``, refused (``ValueError``) when the workspace it names
    is not its envelope's: the envelope routes the event, so a payload naming another
    workspace is corrupt or forged and must not be written anywhere."""
    payload = kind.FromString(event.payload)
    if getattr(payload, "workspace_id", None) != str(event.workspace_id):
        raise ValueError("event workspace does not match its envelope")
    return payload


def timestamp(moment: datetime) -> Timestamp:
    """A protobuf Timestamp for an event payload, built directly (``FromDatetime`` costs a
    calendar conversion)."""
    return Timestamp(seconds=int(moment.timestamp() // 1), nanos=moment.microsecond * 1000)


@dataclass(eq=False)
class Consumer:
    """Claims, handles and acknowledges one consumer's events, batch by batch.

    Each batch is one workspace's (``Rotation``: the workspaces with events take turns, and
    every statement names the workspace, as Citus needs to route it to one shard).
    A batch is handled in one transaction. If the handler raises, each event of the batch is
    retried alone, so one bad event never blocks the others: it is delayed with back-off and,
    after ``MAX_ATTEMPTS``, moved to ``events.dead_letter``. ``on_failure`` hears of each.
    """

    engine: AsyncEngine
    database_url: str
    name: str
    handler: Handler
    _: KW_ONLY
    batch_size: int = 100
    poll_seconds: float = 2.0
    on_failure: Callable[[Event, BaseException], None] | None = None
    rotation: Rotation = field(default_factory=Rotation)

    async def drain_once(self) -> int:
        """Handle one batch of the next workspace with events; how many were acknowledged.

        The search for the workspace and its claim share one transaction (one connection,
        no extra round trip for a second one)."""
        to_isolate: list[Event] = []
        async with self.engine.connect() as conn, conn.begin():

            async def next_after(after: uuid.UUID) -> uuid.UUID | None:
                params = {"consumer": self.name, "after": after}
                return await workspace_after(conn, _NEXT_WORKSPACE, params)

            async def drain(workspace_id: uuid.UUID) -> int:
                return await self._drain(conn, workspace_id, to_isolate)

            done = await self.rotation.turn(next_after, drain) or 0
        if not to_isolate:
            return done
        return sum([await self._handle_alone(e.workspace_id, e.id) for e in to_isolate])

    async def _drain(
        self, conn: AsyncConnection, workspace_id: uuid.UUID, to_isolate: list[Event]
    ) -> int:
        """Handle one batch of the workspace's events; a failed batch's events go to
        ``to_isolate`` (to be retried alone once this transaction ends)."""
        claim = {"consumer": self.name, "ws": workspace_id, "limit": self.batch_size}
        rows = (await conn.execute(_CLAIM, claim)).all()
        if not rows:
            return 0
        events = [Event(r.id, r.topic, r.workspace_id, r.payload, r.attempts) for r in rows]
        error = await self._attempt(conn, events)
        if error is None:
            return len(events)
        if len(events) == 1:  # nothing to isolate: back off now, not after a second try
            await self._failed(conn, events[0], error)
            return 0
        log.warning(
            "batch failed; handling its events one by one",
            extra={
                "consumer": self.name,
                "events": len(events),
                "error_type": type(error).__name__,
            },
        )
        to_isolate.extend(events)
        return len(events)  # ends the turn: the batch is handled alone next

    async def _attempt(self, conn: AsyncConnection, events: list[Event]) -> Exception | None:
        """Run the handler in a savepoint and acknowledge; the error if it raised."""
        try:
            async with conn.begin_nested():
                await self.handler(conn, events)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_unavailable(exc):
                raise
            return exc
        await conn.execute(
            _ACK,
            {
                "consumer": self.name,
                "ws": events[0].workspace_id,
                "first": min(e.id for e in events),
                "last": max(e.id for e in events),
                "ids": [e.id for e in events],
            },
        )
        return None

    async def _handle_alone(self, workspace_id: uuid.UUID, event_id: int) -> int:
        claim = {"consumer": self.name, "ws": workspace_id, "id": event_id}
        async with self.engine.connect() as conn, conn.begin():
            row = (await conn.execute(_CLAIM_ONE, claim)).first()
            if row is None:
                return 0
            event = Event(row.id, row.topic, row.workspace_id, row.payload, row.attempts)
            error = await self._attempt(conn, [event])
            if error is None:
                return 1
            await self._failed(conn, event, error)
            return 0

    async def _failed(self, conn: AsyncConnection, event: Event, exc: Exception) -> None:
        """Delay the event with back-off, or bury it after ``MAX_ATTEMPTS``; tell the listener."""
        error = type(exc).__name__
        key = {"consumer": self.name, "ws": event.workspace_id, "id": event.id, "error": error}
        if event.attempts + 1 >= MAX_ATTEMPTS:
            await conn.execute(_BURY, key)
        else:
            delay = min(300.0, 2.0**event.attempts) * (0.5 + random.random())
            await conn.execute(_RETRY_LATER, {**key, "delay": delay})
        log.warning(
            "event failed",
            extra={
                "consumer": self.name,
                "event_id": event.id,
                "topic": event.topic,
                "attempt": event.attempts + 1,
                "error_type": error,
            },
        )
        if self.on_failure is not None:
            self.on_failure(event, exc)

    async def run(self, stop: asyncio.Event) -> None:
        """Drain, then sleep until woken by NOTIFY, the poll interval, or ``stop``."""

        async def step() -> float:
            return 0.0 if await self.drain_once() else self.poll_seconds

        await run_worker(
            f"consumer {self.name}",
            step,
            stop,
            wakeup=Wakeup(self.database_url, wake_channel(self.name)),
        )


async def backlog(conn: AsyncConnection) -> dict[str, int]:
    """Events waiting per consumer (for metrics and operators)."""
    rows = (
        await conn.execute(
            text("SELECT consumer, count(*) AS n FROM events.outbox GROUP BY consumer")
        )
    ).all()
    return {r.consumer: r.n for r in rows}
