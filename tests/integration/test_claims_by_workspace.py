"""Background loops claim one workspace at a time, and the workspaces with work take turns.

On Citus a claim (``FOR UPDATE SKIP LOCKED``) works only routed to one shard, so every claim
names a workspace; taking turns keeps one loud workspace (a bad buzz) from starving the
others, while a workspace alone is served at every turn.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.db import create_engine
from services.infra.events import Consumer, Event, publish
from services.infra.worker import Rotation

TOPIC = "test.happened"


async def test_turns_go_round_the_workspaces_with_work() -> None:
    a, b, c = (uuid.UUID(int=n) for n in (1, 2, 3))
    work = {a: 3, b: 1, c: 2}
    held = {b}  # another worker holds b's rows for the first turns

    async def next_after(after: uuid.UUID) -> uuid.UUID | None:
        return min((w for w, n in work.items() if n and w > after), default=None)

    async def claim(workspace: uuid.UUID) -> int:
        if workspace in held:
            return 0
        work[workspace] -= 1
        return 1

    rotation = Rotation()
    served = []
    for _ in range(2):
        await rotation.turn(next_after, claim)
        served.append(rotation.last)
    held.clear()
    while await rotation.turn(next_after, claim):
        served.append(rotation.last)
    # b is passed over while held (c is served in the same turn), then all take turns.
    assert served == [a, c, a, b, c, a]
    assert await rotation.turn(next_after, claim) is None


async def test_a_loud_workspace_does_not_starve_a_quiet_one(database_url: str) -> None:
    engine = create_engine(database_url, 2)
    loud, quiet = sorted([uuid.uuid4(), uuid.uuid4()], reverse=True)  # quiet sorts first
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO events.subscription VALUES (:t, 'tester')"), {"t": TOPIC}
        )
        await publish(conn, TOPIC, [loud] * 500, [b"loud"] * 500)
    async with engine.begin() as conn:
        await publish(conn, TOPIC, [quiet], [b"quiet"])  # arrives after the whole buzz
    batches: list[set[uuid.UUID]] = []

    async def handle(conn: AsyncConnection, events: list[Event]) -> None:
        batches.append({e.workspace_id for e in events})

    consumer = Consumer(engine, database_url, "tester", handle, batch_size=50)
    consumer.rotation.last = quiet  # the quiet one was just served: the loud one is next
    try:
        while await consumer.drain_once():
            pass
    finally:
        await engine.dispose()
    assert all(len(b) == 1 for b in batches), "a batch mixed workspaces"
    assert batches[:2] == [{loud}, {quiet}]  # served at the second batch, not the eleventh
    assert len(batches) == 11  # and the loud one still goes by full batches
