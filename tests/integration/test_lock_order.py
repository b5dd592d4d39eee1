"""One lock order for conversations and their SLA clocks: the conversations first, in key
order, then their clocks.

Every path that takes both runs here at once on the same few conversations, round after
round, against the real Postgres: triage consumers (new messages, which start, stop and
retarget clocks), SLA schedulers (clocks crossing at-risk and breached while the messages
arrive), agents changing statuses, and a lead changing the policy. The test finds no deadlock
(no worker error, nothing in the server's log, ``pg_stat_database.deadlocks`` unchanged) and
no lost transition (every message triaged; every threshold a running clock passed raised
once, logged once, published once).
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ecoute.v1 import events_pb2, message_pb2
from services.infra.db import create_engine, describe_error
from services.infra.events import Event
from services.triage.access.store import create_user
from services.triage.desk.usecases import ActionRefused, change_status
from services.triage.domain.sla import DEFAULT_POLICY, Policy, state
from services.triage.intake.consumer import handle_batch
from services.triage.sla.clocks import THRESHOLDS
from services.triage.sla.scheduler import SlaScheduler, Transition
from services.triage.sla.store import clock_of_row
from services.triage.sla.usecases import change_policy
from tests.support.waiting import wait_until
from tests.support.world import make_workspace

CONVERSATIONS = 12
ROUNDS = 30
CONSUMERS = 3
SCHEDULERS = 3
STEP = timedelta(minutes=6)  # P1 first response: at risk at 22.5 min, breached at 30
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TEXTS = (
    "There is smoke coming from the engine, the crew is ignoring us!",  # P1
    "No internet since this morning, the whole street is down, outage!",  # P2
    "How do I change the date of my flight?",  # P3
)
# The lead's two policies: P1's first response promised in 30 or 40 minutes.
POLICIES = [
    replace(
        DEFAULT_POLICY,
        targets={**DEFAULT_POLICY.targets, 1: replace(DEFAULT_POLICY.targets[1], first_response=s)},
    )
    for s in (30 * 60, 40 * 60)
]


class World:
    """The virtual time every worker reads, the events made so far, and what went wrong."""

    def __init__(self, engine: AsyncEngine, workspace_id: uuid.UUID) -> None:
        self.engine = engine
        self.workspace_id = workspace_id
        self.now = START
        self.rng = random.Random(16)
        self.next_id = 0
        self.inbound = 0
        self.policy: Policy = DEFAULT_POLICY
        self.errors: list[dict[str, str]] = []

    def clock(self) -> datetime:
        return self.now

    def event(self, conversation_id: int, direction: str) -> Event:
        self.next_id += 1
        self.inbound += direction == "in"
        ingested = events_pb2.MessageIngested(
            workspace_id=str(self.workspace_id),
            message_id=self.next_id,
            conversation_id=conversation_id,
            message=message_pb2.NormalizedMessage(
                platform="x",
                channel="support-en",
                external_id=f"m{self.next_id}",
                kind="mention",
                direction=direction,
                author=message_pb2.Author(external_id=str(conversation_id), handle="someone"),
                text=self.rng.choice(TEXTS) if direction == "in" else "We are on it.",
            ),
        )
        written = self.now - timedelta(seconds=self.rng.randrange(60))
        ingested.message.created_at.FromDatetime(written)
        ingested.received_at.FromDatetime(self.now)
        payload = ingested.SerializeToString()
        return Event(self.next_id, "message.ingested", self.workspace_id, payload, 1)

    def batch(self) -> list[Event]:
        """A consumer's batch: messages on a random half of the conversations, mostly from
        customers, sometimes the brand's answer (which stops the response clock)."""
        chosen = self.rng.sample(range(1, CONVERSATIONS + 1), CONVERSATIONS // 2)
        return [self.event(c, "out" if self.rng.random() < 0.25 else "in") for c in chosen]

    async def attempt(self, who: str, work: Callable[[AsyncConnection], Awaitable[Any]]) -> None:
        """``work`` in its own transaction; a failure is kept (its SQLSTATE) and tried again,
        as the real workers do, so that nothing is lost whatever the outcome."""
        while True:
            try:
                async with self.engine.begin() as conn:
                    await work(conn)
                return
            except ActionRefused:
                return
            except Exception as exc:  # every failure is the finding
                self.failed(who, exc)

    def failed(self, who: str, exc: Exception) -> None:
        self.errors.append({"worker": who, "error": type(exc).__name__, **describe_error(exc)})


async def consume(world: World, events: list[Event]) -> None:
    await world.attempt("consumer", lambda conn: handle_batch(conn, events, now=world.clock))


async def schedule(world: World, scheduler: SlaScheduler, stop: asyncio.Event) -> None:
    """Raise what is due, again and again, until the rounds are over (each tick waits on the
    database, so the other workers run in between)."""
    while not stop.is_set():
        try:
            await scheduler.tick()
        except Exception as exc:  # every failure is the finding
            world.failed("scheduler", exc)


async def agent(world: World) -> None:
    """An agent resolves, reopens or parks a conversation (its clocks stop, start, pause)."""
    conversation = world.rng.randrange(1, CONVERSATIONS + 1)
    action = world.rng.choice(["resolve", "reopen", "wait"])
    await world.attempt(
        "agent",
        lambda conn: change_status(conn, world.workspace_id, conversation, action, world.now),
    )


async def lead(world: World, user_id: uuid.UUID, round_: int) -> None:
    """The lead switches the policy: every running clock is retargeted, the queue reordered."""
    policy = POLICIES[round_ % 2]
    await world.attempt(
        "lead", lambda conn: change_policy(conn, world.workspace_id, user_id, policy, world.now)
    )
    world.policy = policy


async def deadlocks_so_far(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        found = await conn.scalar(
            text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        )
    return int(found or 0)


async def server_log_size(engine: AsyncEngine) -> int | None:
    """The embedded server's log (``log`` in its data folder), read through the server;
    None when there is no such file (a server of one's own, set by TEST_DATABASE_URL)."""
    async with engine.connect() as conn:
        found = await conn.scalar(text("SELECT (pg_stat_file('log', true)).size"))
    return None if found is None else int(found)


async def server_log_since(engine: AsyncEngine, offset: int | None) -> str:
    if offset is None:
        return ""
    async with engine.connect() as conn:
        found = await conn.scalar(
            text("SELECT pg_read_file('log', :offset, 100000000, true)"), {"offset": offset}
        )
    return str(found or "")


async def alone(engine: AsyncEngine) -> None:
    """Wait until the workers' sessions have ended (a backend reports its counts on exit)."""

    async def no_other_session() -> bool:
        async with engine.connect() as conn:
            others = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        return not others

    await wait_until(no_other_session, what="the workers' sessions ended")


async def test_consumers_schedulers_agents_and_a_lead_never_deadlock_nor_lose_a_transition(
    database_url: str,
) -> None:
    workspace = await make_workspace(database_url)
    probe = create_engine(database_url, 1)
    engine = create_engine(database_url, CONSUMERS + SCHEDULERS + 4)
    async with engine.begin() as conn:
        lead_id = await create_user(conn, workspace.id, "lead@locks.test", "Lead", "lead")
    world = World(engine, workspace.id)
    await consume(world, [world.event(c, "in") for c in range(1, CONVERSATIONS + 1)])
    log_from = await server_log_size(probe)
    assert log_from is not None or os.environ.get("TEST_DATABASE_URL"), "the log is read"
    deadlocks_before = await deadlocks_so_far(probe)

    stop = asyncio.Event()
    raised: list[Transition] = []
    schedulers = [
        SlaScheduler(
            engine, database_url, batch_size=4, clock=world.clock, on_transition=raised.append
        )
        for _ in range(SCHEDULERS)
    ]
    running = [asyncio.create_task(schedule(world, s, stop)) for s in schedulers]
    async with asyncio.timeout(120):
        for round_ in range(ROUNDS):
            world.now += STEP
            work = [consume(world, world.batch()) for _ in range(CONSUMERS)]
            work += [agent(world) for _ in range(2)]
            if round_ % 5 == 4:
                work.append(lead(world, lead_id, round_))
            await asyncio.gather(*work)
        stop.set()
        await asyncio.gather(*running)
        # What is due at the end is raised by one last scheduler, alone.
        final = SlaScheduler(engine, database_url, clock=world.clock)
        while await final.tick():
            pass
    await engine.dispose()
    await alone(probe)

    async with probe.connect() as conn:
        messages = await conn.scalar(text("SELECT count(*) FROM triage.messages"))
        decisions = await conn.scalar(text("SELECT count(*) FROM triage.decisions"))
        clocks = (await conn.execute(text("SELECT * FROM triage.sla_clocks"))).all()
        crossings = (
            await conn.execute(
                text(
                    "SELECT clock_id, change, count(*) AS n FROM triage.sla_clock_log "
                    "WHERE change IN ('at_risk', 'breached') GROUP BY 1, 2"
                )
            )
        ).all()
        # Only breaches have a subscriber (the breach webhooks).
        published = await conn.scalar(
            text("SELECT count(*) FROM events.outbox WHERE topic = 'sla.breached'")
        )
    log = await server_log_since(probe, log_from)
    deadlocks = await deadlocks_so_far(probe) - deadlocks_before
    await probe.dispose()

    failures = Counter(f"{e['worker']}: {e.get('sqlstate')} {e['error']}" for e in world.errors)
    assert not failures, f"workers failed (40P01 is a deadlock): {dict(failures)}"
    assert "deadlock detected" not in log
    assert deadlocks == 0
    # Nothing lost: every message triaged, every customer's message decided.
    assert (messages, decisions) == (world.next_id, world.inbound)
    # Every threshold a running clock passed was raised, once.
    current = world.policy
    assert {t.state for t in raised} == {"at_risk", "breached"}, "raised while messages came"
    for r in clocks:
        now_state = state(clock_of_row(r), current.calendar, current.at_risk_ratio, world.now)
        if now_state in THRESHOLDS:
            assert THRESHOLDS.index(r.state) >= THRESHOLDS.index(now_state), r
    assert all(c.n == 1 for c in crossings), "a threshold was raised twice"
    assert published == sum(c.change == "breached" for c in crossings), "each breach published once"
