"""The inbox killed with SIGKILL twice during a 50,000-message ingest: nothing lost, nothing twice.

The producer retries every batch until it is acknowledged, with the same ids. A batch that
was committed when the process died is acknowledged on the retry as duplicates; one that was
not is stored by the retry. Either way each message is stored exactly once.
"""

from __future__ import annotations

import asyncio
import time

from tests.chaos.conftest import Start
from tests.chaos.harness import (
    RetryingProducer,
    batches,
    counts,
    inbox_message_ids,
    record,
)
from tests.support.world import make_workspace

TOTAL = 50_000
BATCH = 500
KILL_AFTER = (0.2, 0.6)  # fractions of the batches acknowledged when each SIGKILL lands


async def test_sigkilled_inbox_stores_every_acknowledged_message_exactly_once(
    database_url: str, processes: Start
) -> None:
    started = time.monotonic()
    ws = await make_workspace(database_url)
    inbox = processes("inbox", "serve", database_url, INBOX_RUN_WORKERS="false")
    await inbox.start()
    work = batches(TOTAL, BATCH)
    producer = RetryingProducer(ws.ingest_token)

    async def killer() -> None:
        for fraction in KILL_AFTER:
            while producer.acked_batches < fraction * len(work):
                await asyncio.sleep(0.01)
            await inbox.kill()  # requests in flight are cut; some had committed
            await inbox.start()  # the supervisor's restart, on the same port

    await asyncio.gather(
        producer.send_all([inbox.base_url], [body for body, _ in work], concurrency=4), killer()
    )

    found = await counts(database_url)
    figures = {
        "messages_sent": TOTAL,
        "batch_size": BATCH,
        "sigkills": inbox.starts - 1,
        **producer.tally(),
        "rows_stored": found["inbox_messages"],
        "distinct_rows": found["inbox_distinct"],
        "duplicate_rows": found["inbox_messages"] - found["inbox_distinct"],
        "events_for_triage": found["triage_backlog"],
        "seconds": round(time.monotonic() - started, 1),
    }
    record("inbox_sigkill_during_ingest", figures)

    assert inbox.starts == 1 + len(KILL_AFTER)
    assert sum(producer.failures.values()) >= len(KILL_AFTER), "the kills hit requests"
    assert producer.acknowledged == {m for _, ids in work for m in ids}
    assert (found["inbox_messages"], found["inbox_distinct"]) == (TOTAL, TOTAL)
    # Every acknowledgement names a stored row; what a retry found already stored was whole
    # batches (committed, answer lost): nothing half-written.
    assert producer.message_ids == await inbox_message_ids(database_url)
    assert producer.duplicates % BATCH == 0
    # One message-ingested event per stored message: the commit that stored it published it.
    assert found["triage_backlog"] == TOTAL
