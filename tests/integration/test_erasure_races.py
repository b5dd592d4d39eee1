"""An erasure against events that arrive late, early, again or concurrently.

Triage's consumer retries a failed ``message.ingested`` with back-off, so it may apply one of
the person's messages before, during or after the erasure, in whatever order. Whatever the
order, nothing she wrote or who she is may be left in triage at the end, and the message
must not make its conversation wait for an answer. These tests drive the real consumers
(the triage one claimed by hand, so the order is chosen, not hoped for).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ecoute.v1 import events_pb2
from services.inbox.consumer import inbox_consumer
from services.infra.db import create_engine
from services.infra.events import Consumer, Event, publish
from services.triage.intake.consumer import handle_batch
from tests.integration.test_privacy import (
    MARIE,
    MARIE_M,
    MARIE_MASTODON,
    MARIE_NAME,
    MARIE_WORDS,
    MARIE_X,
    MARIE_X_HANDLE,
    MARIE_X_ID,
    STORED,
    Stage,
    build_stage,
    done,
    erase,
    item,
    marie_and_paul,
    occurrences,
    pauls_messages_untouched,
)

# What Marie writes while triage is failing to take her messages in.
LATE_WORDS = ("ornithorynque", "kinkajou", "pangolin")
PROFILE = [MARIE_X_HANDLE, MARIE_MASTODON, MARIE_X_ID, "dm-77"]
NAMED_BY_THE_REQUEST = frozenset({"triage.audit_log", "triage.erasure_requests"})


def late_messages() -> list[dict[str, Any]]:
    """Marie again in the public X thread, again in her Mastodon DM, and in a new post."""
    return [
        item(
            "x-5",
            f"Any news? my {LATE_WORDS[0]} bill doubled",
            author=MARIE_X,
            minutes_ago=10,
            in_reply_to="x-1",
        ),
        item(
            "m-3",
            f"Voici la référence {LATE_WORDS[1]}, merci de me répondre vite",
            author=MARIE_M,
            platform="mastodon",
            channel="support-masto",
            kind="dm",
            minutes_ago=9,
            thread_id="dm-77",
        ),
        item("x-6", f"A {LATE_WORDS[2]} ate my fibre, and still no answer", author=MARIE_X),
    ]


class Flaky:
    """Triage's handler, failing on the batches that carry some messages while ``failing``;
    the first such attempt is held open (its outbox rows locked, as a slow attempt holds
    them) until ``release``. ``after`` runs after each successful batch, still inside its
    transaction."""

    def __init__(self, message_ids: set[int]) -> None:
        self.message_ids = message_ids
        self.failing = True
        self.claimed = asyncio.Event()
        self.release = asyncio.Event()
        self.payloads: dict[int, bytes] = {}
        self.after: Callable[[list[Event]], Awaitable[None]] | None = None

    def _carried(self, events: list[Event]) -> list[Event]:
        return [
            e
            for e in events
            if e.topic == "message.ingested"
            and events_pb2.MessageIngested.FromString(e.payload).message_id in self.message_ids
        ]

    async def __call__(self, conn: AsyncConnection, events: list[Event]) -> None:
        carried = self._carried(events)
        if carried and self.failing:
            for e in carried:
                self.payloads[events_pb2.MessageIngested.FromString(e.payload).message_id] = (
                    e.payload
                )
            if not self.claimed.is_set():
                self.claimed.set()
                await self.release.wait()
            raise RuntimeError("the classifier crashed")
        await handle_batch(conn, events)
        if self.after is not None:
            await self.after(events)


class Race:
    """The stage, a triage consumer driven by hand and the inbox's consumer."""

    def __init__(self, stage: Stage, engine: AsyncEngine) -> None:
        self.stage = stage
        self.engine = engine

    def triage(self, handler: Any) -> Consumer:
        return Consumer(self.engine, self.stage.database_url, "triage", handler)

    async def drain(self, consumer: Consumer) -> None:
        """Handle every event available now."""
        while await self.backlog("available_at <= now()"):
            before = await self.backlog()
            if not await consumer.drain_once() and await self.backlog() == before:
                return

    async def backlog(self, condition: str = "true") -> int:
        return int(
            await self.stage.value(
                f"SELECT count(*) FROM events.outbox WHERE consumer = 'triage' AND {condition}"
            )
        )

    async def inbox_erases(self) -> None:
        consumer = inbox_consumer(self.engine, self.stage.database_url)
        assert await consumer.drain_once() == 1  # privacy.erasure_requested

    async def retries_land(self, consumer: Consumer) -> None:
        """Wait out the back-off of the failed events, and apply them."""
        for _ in range(300):
            await self.drain(consumer)
            if not await self.backlog():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the failed events were never retried")

    async def ids(self, external_ids: list[str]) -> set[int]:
        rows = await self.stage.rows(
            "SELECT id FROM inbox.messages WHERE workspace_id = :ws "
            "AND external_id = ANY(:external)",
            ws=self.stage.ws.id,
            external=external_ids,
        )
        return {r.id for r in rows}

    async def setup(self) -> Flaky:
        """Everything triaged; then Marie's two late messages, whose first attempt triage
        holds open."""
        await self.stage.ingest(self.stage.ws.ingest_token, marie_and_paul())
        plain = self.triage(handle_batch)
        await self.drain(plain)
        assert await self.stage.value("SELECT count(*) FROM triage.messages") == STORED
        await self.stage.ingest(self.stage.ws.ingest_token, late_messages())
        return Flaky(await self.ids(["x-5", "m-3", "x-6"]))

    async def erased_while_held(self) -> tuple[Flaky, list[str], dict[str, Any]]:
        """While triage's attempt holds Marie's late events, the admin erases her: triage has
        no row of them to erase, and the inbox cannot rewrite events another consumer holds.
        The attempt then fails. Returns the late messages, the platforms that waited for an
        answer before, and the erasure request."""
        flaky = await self.setup()
        waiting = await self.waiting()
        attempt = await self.held(flaky)
        request = await erase(self.stage, MARIE)
        await self.inbox_erases()
        await self.fail(flaky, attempt)
        return flaky, waiting, request

    async def held(self, flaky: Flaky) -> asyncio.Task[int]:
        attempt = asyncio.create_task(self.triage(flaky).drain_once())
        await asyncio.wait_for(flaky.claimed.wait(), timeout=15)
        return attempt

    async def fail(self, flaky: Flaky, attempt: asyncio.Task[int]) -> None:
        """The held attempt fails; its events wait out their back-off."""
        flaky.release.set()
        assert await asyncio.wait_for(attempt, timeout=15) == 0
        flaky.failing = False
        assert await self.backlog("attempts >= 1") == 3

    async def nothing_of_marie(self) -> None:
        stage = self.stage
        words = [*MARIE_WORDS, *LATE_WORDS, MARIE_NAME]
        assert await occurrences(stage, words) == {}
        assert await occurrences(stage, PROFILE, skip=NAMED_BY_THE_REQUEST) == {}
        await pauls_messages_untouched(stage)
        assert (
            await stage.value(
                "SELECT count(*) FROM triage.messages AS m JOIN inbox.messages AS i "
                "ON i.workspace_id = m.workspace_id AND i.id = m.id "
                "WHERE m.workspace_id = :ws AND i.erased_at IS NOT NULL AND m.erased_at IS NULL",
                ws=stage.ws.id,
            )
            == 0
        ), "every message the inbox erased is a tombstone in triage too"

    async def back_off(self, message_ids: set[int], delay: str) -> None:
        """Make triage's events for these messages available after ``delay`` from now."""
        rows = await self.stage.rows(
            "SELECT id, payload FROM events.outbox "
            "WHERE consumer = 'triage' AND topic = 'message.ingested'"
        )
        ids = [
            r.id
            for r in rows
            if events_pb2.MessageIngested.FromString(r.payload).message_id in message_ids
        ]
        assert len(ids) == len(message_ids)
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    f"UPDATE events.outbox SET available_at = now() + {delay} "
                    "WHERE consumer = 'triage' AND id = ANY(:ids)"
                ),
                {"ids": ids},
            )

    async def waiting(self) -> list[str]:
        """The platforms of the conversations that wait for an answer."""
        rows = await self.stage.rows(
            "SELECT platform FROM triage.conversations WHERE workspace_id = :ws "
            "AND needs_answer ORDER BY platform",
            ws=self.stage.ws.id,
        )
        return [r.platform for r in rows]


@pytest.fixture
async def race(aiohttp_client: Any, database_url: str) -> AsyncIterator[Race]:
    stage = await build_stage(aiohttp_client, database_url, run_consumer=False)
    engine = create_engine(database_url, 6)
    yield Race(stage, engine)
    await engine.dispose()
    await stage.engine.dispose()


async def test_a_retry_that_lands_after_the_erasure_finished_brings_nothing_back(
    race: Race,
) -> None:
    flaky, waiting, request = await race.erased_while_held()
    # The inbox's news is applied first (the late events are still backing off)...
    plain = race.triage(handle_batch)
    await race.drain(plain)
    await done(race.stage, request["id"])
    assert await race.backlog() == 3
    # ...then the retries land, still carrying her words.
    await race.retries_land(plain)
    await race.nothing_of_marie()
    assert await race.waiting() == waiting, "what she wrote since waits for no answer"
    assert (
        await race.stage.value(
            "SELECT count(*) FROM triage.decisions WHERE workspace_id = :ws "
            "AND message_id = ANY(:ids)",
            ws=race.stage.ws.id,
            ids=sorted(flaky.message_ids),
        )
        == 0
    ), "no decision is taken on words that are gone"

    # The same events replayed (a redelivery, an operator's replay) change nothing either.
    async with race.engine.begin() as conn:
        await publish(
            conn,
            "message.ingested",
            [race.stage.ws.id] * len(flaky.payloads),
            list(flaky.payloads.values()),
        )
    await race.drain(plain)
    await race.nothing_of_marie()


async def test_a_retry_that_lands_before_the_inbox_erased_is_erased_by_its_news(
    race: Race,
) -> None:
    flaky = await race.setup()
    attempt = await race.held(flaky)
    request = await erase(race.stage, MARIE)
    await race.fail(flaky, attempt)
    plain = race.triage(handle_batch)
    # The retries land before the inbox has erased anything: her words are in triage again.
    await race.retries_land(plain)
    assert await occurrences(race.stage, list(LATE_WORDS)), "the window is real"
    await race.inbox_erases()
    await race.drain(plain)
    await done(race.stage, request["id"])
    await race.nothing_of_marie()


async def test_a_retry_running_while_another_replica_applies_the_news_waits_for_it(
    race: Race,
) -> None:
    """Two triage replicas: one applies ``privacy.erasure_done`` and has not committed yet
    while the other applies a late message in a conversation triage has never seen (so no
    row lock of the erasure stands in its way). Neither may miss the other's rows."""
    flaky, waiting, request = await race.erased_while_held()
    await race.back_off(flaky.message_ids, "interval '1 hour'")  # they wait behind the news

    news_applied, resume = asyncio.Event(), asyncio.Event()

    async def pause(events: list[Event]) -> None:
        if any(e.topic == "privacy.erasure_done" for e in events):
            news_applied.set()
            await resume.wait()

    flaky.after = pause
    first = asyncio.create_task(race.triage(flaky).drain_once())
    await asyncio.wait_for(news_applied.wait(), timeout=15)
    new_post = await race.ids(["x-6"])
    await race.back_off(new_post, "interval '0 seconds'")  # its back-off is over
    second = asyncio.create_task(race.triage(handle_batch).drain_once())
    for _ in range(300):  # the second replica finishes, or waits for the first one
        if second.done() or await waiting_for_a_lock(race.stage):
            break
        await asyncio.sleep(0.05)
    resume.set()
    assert await asyncio.wait_for(first, timeout=15) == 1
    assert await asyncio.wait_for(second, timeout=15) == 1
    await done(race.stage, request["id"])
    await race.back_off(flaky.message_ids - new_post, "interval '0 seconds'")
    await race.retries_land(race.triage(handle_batch))
    await race.nothing_of_marie()
    assert await race.waiting() == waiting


async def waiting_for_a_lock(stage: Stage) -> bool:
    return bool(
        await stage.value(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    )
