"""The outbox transport: no event lost or handled twice, even with producers committing late."""

from __future__ import annotations

import asyncio
import random
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.db import create_engine
from services.infra.events import MAX_ATTEMPTS, Consumer, Event, publish

TOPIC = "test.happened"


async def _prepare(database_url: str) -> None:
    engine = create_engine(database_url, 1)
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO events.subscription VALUES (:t, 'tester')"), {"t": TOPIC}
        )
        await conn.execute(text("CREATE TABLE public.handled (payload bytea PRIMARY KEY)"))
    await engine.dispose()


async def _record(conn: AsyncConnection, events: list[Event]) -> None:
    """Fails loudly (unique violation) if any event is handled twice."""
    await conn.execute(
        text("INSERT INTO public.handled SELECT unnest(CAST(:p AS bytea[]))"),
        {"p": [e.payload for e in events]},
    )


async def test_concurrent_producers_committing_late_lose_no_event(database_url: str) -> None:
    await _prepare(database_url)
    engine = create_engine(database_url, 20)
    workspace = uuid.uuid4()
    produced: list[bytes] = []

    async def producer(n: int) -> None:
        rng = random.Random(n)
        for batch in range(10):
            payloads = [f"{n}-{batch}-{i}".encode() for i in range(rng.randint(1, 5))]
            async with engine.begin() as conn:
                await publish(conn, TOPIC, [workspace] * len(payloads), payloads)
                # Hold the transaction open: later ids commit before this one does.
                await asyncio.sleep(rng.random() * 0.05)
            produced.extend(payloads)

    consumers = [
        Consumer(engine, database_url, "tester", _record, batch_size=7, poll_seconds=0.05)
        for _ in range(3)
    ]
    stop = asyncio.Event()
    running = [asyncio.create_task(c.run(stop)) for c in consumers]
    await asyncio.gather(*(producer(n) for n in range(8)))

    async def all_handled() -> int:
        async with engine.connect() as conn:
            return int(
                (await conn.execute(text("SELECT count(*) FROM public.handled"))).scalar_one()
            )

    for _ in range(200):
        if await all_handled() == len(produced):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*running)
    async with engine.connect() as conn:
        handled = {r[0] for r in (await conn.execute(text("SELECT payload FROM public.handled")))}
        left = (await conn.execute(text("SELECT count(*) FROM events.outbox"))).scalar_one()
    await engine.dispose()
    assert handled == set(produced)
    assert left == 0


async def test_a_failing_event_is_retried_then_dead_lettered_without_blocking_others(
    database_url: str,
) -> None:
    await _prepare(database_url)
    engine = create_engine(database_url, 3)
    workspace = uuid.uuid4()
    async with engine.begin() as conn:
        await publish(conn, TOPIC, [workspace] * 3, [b"good-1", b"poison", b"good-2"])
    failures: list[bytes] = []

    async def handler(conn: AsyncConnection, events: list[Event]) -> None:
        if any(e.payload == b"poison" for e in events):
            raise ValueError("cannot handle this one")
        await _record(conn, events)

    consumer = Consumer(
        engine,
        database_url,
        "tester",
        handler,
        on_failure=lambda event, exc: failures.append(event.payload),
    )
    assert await consumer.drain_once() == 2
    for _ in range(MAX_ATTEMPTS - 1):
        async with engine.begin() as conn:  # make the retry due now
            await conn.execute(text("UPDATE events.outbox SET available_at = now()"))
        await consumer.drain_once()
    async with engine.connect() as conn:
        handled = {r[0] for r in await conn.execute(text("SELECT payload FROM public.handled"))}
        dead = (
            await conn.execute(text("SELECT payload, attempts, last_error FROM events.dead_letter"))
        ).all()
        left = (await conn.execute(text("SELECT count(*) FROM events.outbox"))).scalar_one()
    await engine.dispose()
    assert handled == {b"good-1", b"good-2"}
    assert [(d.payload, d.attempts, d.last_error) for d in dead] == [
        (b"poison", MAX_ATTEMPTS, "ValueError")
    ]
    assert failures == [b"poison"] * MAX_ATTEMPTS
    assert left == 0


async def test_notify_wakes_a_consumer_long_before_its_poll(database_url: str) -> None:
    await _prepare(database_url)
    engine = create_engine(database_url, 3)
    handled = asyncio.Event()

    async def handler(conn: AsyncConnection, events: list[Event]) -> None:
        handled.set()

    consumer = Consumer(engine, database_url, "tester", handler, poll_seconds=3600)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    await asyncio.sleep(0.5)  # first drain done; now it sleeps for an hour unless woken
    async with engine.begin() as conn:
        await publish(conn, TOPIC, [uuid.uuid4()], [b"wake up"])
    try:
        await asyncio.wait_for(handled.wait(), timeout=10)
    finally:
        stop.set()
        await task
        await engine.dispose()
    assert handled.is_set()


async def test_events_of_a_rolled_back_transaction_never_reach_a_consumer(
    database_url: str,
) -> None:
    await _prepare(database_url)
    engine = create_engine(database_url, 2)
    async with engine.connect() as conn:
        transaction = await conn.begin()
        await publish(conn, TOPIC, [uuid.uuid4()], [b"ghost"])
        await transaction.rollback()
    consumer = Consumer(engine, database_url, "tester", _record)
    assert await consumer.drain_once() == 0
    await engine.dispose()
