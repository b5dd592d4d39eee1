"""Two inbox processes and three triage workers on one database: no duplicate, no loss.

Every batch is sent to both inboxes at the same moment (a retry racing its original on
another replica), so the two processes race to store the same ids; three workers claim the
same event stream. The workers' own counters must add up to one decision per message.
"""

from __future__ import annotations

import asyncio
import time

from tests.chaos.conftest import Start
from tests.chaos.harness import RetryingProducer, batches, counts, record, triaged_all
from tests.support.waiting import wait_until
from tests.support.world import make_workspace

TOTAL = 4_000
BATCH = 250


async def test_two_inboxes_and_three_workers_store_and_triage_each_message_once(
    database_url: str, processes: Start
) -> None:
    started = time.monotonic()
    ws = await make_workspace(database_url)
    inboxes = [
        processes("inbox", "serve", database_url, INBOX_RUN_WORKERS="false") for _ in range(2)
    ]
    workers = [
        processes("triage", "worker", database_url, TRIAGE_DB_POOL_SIZE="3") for _ in range(3)
    ]
    await asyncio.gather(*(process.start() for process in (*inboxes, *workers)))

    work = batches(TOTAL, BATCH)
    producer = RetryingProducer(ws.ingest_token)
    await producer.send_all(
        [i.base_url for i in inboxes], [body for body, _ in work], concurrency=2, copies=2
    )
    took = await wait_until(lambda: triaged_all(database_url, TOTAL), 180, "all triaged")

    found = await counts(database_url)
    shares = [int(await w.counter("ecoute_messages_triaged")) for w in workers]
    figures = {
        "messages_sent": TOTAL,
        "copies_of_each_batch": 2,
        "inbox_processes": len(inboxes),
        "triage_workers": len(workers),
        **producer.tally(),
        "rows_stored": found["inbox_messages"],
        "duplicate_rows": found["inbox_messages"] - found["inbox_distinct"],
        "triage_messages": found["triage_messages"],
        "decisions": found["decisions"],
        "decisions_by_worker": shares,
        "events_left": found["triage_backlog"],
        "dead_letters": found["dead_letters"],
        "seconds_to_triage_after_last_ack": round(took, 1),
        "seconds": round(time.monotonic() - started, 1),
    }
    record("two_inboxes_three_workers", figures)

    assert producer.acknowledged == {m for _, ids in work for m in ids}
    # Each message was reported "stored" by exactly one of the two racing copies.
    assert (producer.stored, producer.duplicates) == (TOTAL, TOTAL)
    assert (found["inbox_messages"], found["inbox_distinct"]) == (TOTAL, TOTAL)
    assert (found["triage_messages"], found["decisions"], found["decisions_distinct"]) == (
        TOTAL,
        TOTAL,
        TOTAL,
    )
    assert sum(shares) == TOTAL, "no message was decided twice, even in a rolled-back batch"
    assert min(shares) >= 1, "all three workers took part"
    assert (found["triage_backlog"], found["dead_letters"]) == (0, 0)
    for process in (*inboxes, *workers):
        assert process.running and process.starts == 1
