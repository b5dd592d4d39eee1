"""A triage worker killed with SIGKILL while it holds a claimed batch: each message triaged once.

The worker claims events with ``FOR UPDATE SKIP LOCKED`` and acknowledges them in the
transaction that writes their decisions. Killed mid-batch, its transaction dies with its
connection: the claimed events become claimable again and nothing of the batch remains.
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from services.inbox.app import create_app as create_inbox
from services.infra.db import asyncpg_dsn
from tests.chaos.conftest import Start
from tests.chaos.harness import RetryingProducer, batches, counts, record, triaged_all
from tests.support.waiting import wait_until
from tests.support.world import inbox_settings, make_workspace

TOTAL = 3_000
BATCH = 100  # events per claimed batch: small, so a kill lands in one

# Events the worker has claimed and not yet acknowledged: those a SKIP LOCKED scan skips.
CLAIMED = """
SELECT (SELECT count(*) FROM events.outbox WHERE consumer = 'triage')
     - (SELECT count(*) FROM (SELECT 1 FROM events.outbox WHERE consumer = 'triage'
                              FOR UPDATE SKIP LOCKED) AS free)
"""


async def claimed_now(database_url: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        glance = conn.transaction()  # rolled back at once: our own locks are only a glance
        await glance.start()
        held = int(await conn.fetchval(CLAIMED))
        await glance.rollback()
        return held
    finally:
        await conn.close()


async def _decided_some(database_url: str) -> bool:
    return (await counts(database_url))["decisions"] >= 2 * BATCH


async def _none_claimed(database_url: str) -> bool:
    return await claimed_now(database_url) == 0


async def test_a_worker_killed_mid_batch_leaves_each_message_triaged_exactly_once(
    aiohttp_server: Any, database_url: str, processes: Start
) -> None:
    started = time.monotonic()
    ws = await make_workspace(database_url)
    inbox = await aiohttp_server(create_inbox(inbox_settings(database_url, run_workers=False)))
    producer = RetryingProducer(ws.ingest_token)
    base = str(inbox.make_url("")).rstrip("/")
    await producer.send_all([base], [b for b, _ in batches(TOTAL, 1000)], concurrency=2)

    worker = processes("triage", "worker", database_url, TRIAGE_CONSUMER_BATCH_SIZE=str(BATCH))
    await worker.start(ready=False)
    await wait_until(lambda: _decided_some(database_url), 120, "the worker got going", 0.05)
    held_at_kill = 0
    glances = 0
    while held_at_kill == 0:  # kill when the worker is inside a batch's transaction
        glances += 1
        assert glances < 5000, "the worker never held a batch"
        held_at_kill = await claimed_now(database_url)
    await worker.kill()
    release = await wait_until(
        lambda: _none_claimed(database_url), 30, "the dead worker's claims released", every=0.05
    )
    at_kill = await counts(database_url)

    await worker.start(ready=False)  # the supervisor's restart
    await wait_until(lambda: triaged_all(database_url, TOTAL), 180, "all triaged")
    found = await counts(database_url)
    figures = {
        "messages": TOTAL,
        "claim_batch": BATCH,
        "events_claimed_when_killed": held_at_kill,
        "decided_before_kill": at_kill["decisions"],
        "events_left_at_kill": at_kill["triage_backlog"],
        "seconds_until_claims_released": round(release, 2),
        "decisions": found["decisions"],
        "distinct_decisions": found["decisions_distinct"],
        "triage_messages": found["triage_messages"],
        "events_left": found["triage_backlog"],
        "dead_letters": found["dead_letters"],
        "seconds": round(time.monotonic() - started, 1),
    }
    record("triage_worker_sigkill_mid_batch", figures)

    assert held_at_kill in range(1, BATCH + 1)
    assert at_kill["decisions"] in range(2 * BATCH, TOTAL), "killed mid-run, after progress"
    # The killed batch left nothing behind: what was decided plus what waits is everything.
    assert at_kill["decisions"] + at_kill["triage_backlog"] == TOTAL
    assert (found["decisions"], found["decisions_distinct"], found["triage_messages"]) == (
        TOTAL,
        TOTAL,
        TOTAL,
    )
    assert (found["triage_backlog"], found["dead_letters"]) == (0, 0)
