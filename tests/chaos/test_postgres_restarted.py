"""Postgres stopped and started again mid-run: both services recover by themselves, nothing lost.

The test runs its own Postgres (a temporary data folder), so stopping it leaves the suite's
shared server alone. While it is down the inbox answers 503 (with Retry-After) and the
producer retries; triage's consumer backs off and resumes. Neither process is restarted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.chaos.conftest import Start
from tests.chaos.harness import (
    DedicatedPostgres,
    RetryingProducer,
    batches,
    counts,
    record,
    triaged_all,
)
from tests.support.waiting import wait_until
from tests.support.world import bearer, make_workspace

TOTAL = 4_000
BATCH = 100
OUTAGE_SECONDS = 3.0


@pytest.fixture
async def own_postgres() -> AsyncIterator[DedicatedPostgres]:
    server = DedicatedPostgres()
    try:
        await server.start()
        yield server
    finally:
        await server.close()


async def test_services_ride_out_a_postgres_restart_without_losing_a_message(
    own_postgres: DedicatedPostgres, processes: Start
) -> None:
    started = time.monotonic()
    url = own_postgres.url
    ws = await make_workspace(url)
    fast = {"READINESS_CACHE_SECONDS": "0"}
    inbox = processes("inbox", "serve", url, **{f"INBOX_{k}": v for k, v in fast.items()})
    triage = processes("triage", "serve", url, **{f"TRIAGE_{k}": v for k, v in fast.items()})
    await inbox.start()
    await triage.start()
    pids = (inbox.pid, triage.pid)

    producer = RetryingProducer(ws.ingest_token, pause=0.2)
    work = batches(TOTAL, BATCH)
    down_for = 0.0

    async def restart_postgres() -> None:
        nonlocal down_for
        while producer.acked_batches < len(work) // 4:
            await asyncio.sleep(0.01)
        stopped = time.monotonic()
        await own_postgres.stop()
        await asyncio.sleep(OUTAGE_SECONDS)
        await own_postgres.start_again()
        down_for = time.monotonic() - stopped

    await asyncio.gather(
        producer.send_all([inbox.base_url], [b for b, _ in work], concurrency=2, gap=0.05),
        restart_postgres(),
    )
    took = await wait_until(lambda: triaged_all(url, TOTAL), 180, "all triaged")
    await inbox.wait_ready(30)
    await triage.wait_ready(30)
    async with (
        aiohttp.ClientSession() as session,
        session.get(triage.base_url + "/v1/queue?limit=5", headers=bearer(ws.agent_token)) as q,
    ):
        queue_status, queue = q.status, await q.json()

    found = await counts(url)
    figures = {
        "messages_sent": TOTAL,
        "postgres_down_seconds": round(down_for, 1),
        **producer.tally(),
        "rows_stored": found["inbox_messages"],
        "duplicate_rows": found["inbox_messages"] - found["inbox_distinct"],
        "triage_messages": found["triage_messages"],
        "decisions": found["decisions"],
        "events_left": found["triage_backlog"],
        "dead_letters": found["dead_letters"],
        "service_restarts": inbox.starts + triage.starts - 2,
        "seconds_to_triage_after_last_ack": round(took, 1),
        "seconds": round(time.monotonic() - started, 1),
    }
    record("postgres_restart_mid_run", figures)

    assert down_for >= OUTAGE_SECONDS
    assert producer.failures["http_503"] >= 1, "the outage was felt, and said so as 503"
    assert producer.acknowledged == {m for _, ids in work for m in ids}
    assert (found["inbox_messages"], found["inbox_distinct"]) == (TOTAL, TOTAL)
    assert (found["triage_messages"], found["decisions"], found["decisions_distinct"]) == (
        TOTAL,
        TOTAL,
        TOTAL,
    )
    assert (found["triage_backlog"], found["dead_letters"]) == (0, 0)
    assert (inbox.pid, triage.pid) == pids and inbox.running and triage.running
    assert (inbox.starts, triage.starts) == (1, 1), "recovered without a restart"
    assert queue_status == 200 and len(queue["items"]) >= 1
