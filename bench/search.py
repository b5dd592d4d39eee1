"""Search latency: ``GET /v1/search``'s query over 1,000,000 messages of one workspace.

The messages vary (six texts in English and French, a booking reference each, one handle per
conversation) and the workspace shares the table with another a tenth its size, so the
workspace filter has something to filter. The queries mix what agents type: a common word,
a French word, a reference (whole and a prefix), a handle, a word nothing holds. Each runs
through the search use case on a pool connection, one after another (the database's cost,
without HTTP). Writes ``search_p50_ms`` and ``search_p99_ms`` to bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from sqlalchemy import text

from bench.common import percentile, report, scratch_database
from services.infra.db import create_engine
from services.triage.access.store import create_workspace
from services.triage.migrations.t0014_search import SEARCH_INDEX
from services.triage.search.usecases import search

SEED_CONVERSATIONS = text(
    """
    INSERT INTO triage.conversations (workspace_id, id, platform, channel, kind, status,
        needs_answer, priority, intent, reasons)
    SELECT :ws, g, (ARRAY['x','mastodon','bluesky','facebook'])[1 + g % 4], 'bench', 'public',
           'open', true, 1 + g % 4, 'problem', ARRAY['reports a problem']
    FROM generate_series(1, :n) AS g
    """
)
SEED_MESSAGES = text(
    """
    INSERT INTO triage.messages (workspace_id, id, conversation_id, direction, kind,
        author_handle, text, created_at, received_at)
    SELECT :ws, c * 10 - k, c, 'in', 'mention', 'customer' || c,
           (ARRAY['My internet has been down since this morning, please help',
                  'My flight was cancelled, I want a refund',
                  'Je voudrais me faire rembourser ma commande',
                  'Mon colis n''est jamais arrivé',
                  'I was charged twice for the same order',
                  'Can you tell me your opening hours?'])[1 + (c * 7 + k) % 6]
           || ' — booking ' || upper(to_hex(c * 1000 + k)),
           now() - make_interval(secs => (c % 36000) + k * 60), now()
    FROM generate_series(1, :n) AS c, generate_series(0, :per - 1) AS k
    """
)
QUERIES = [
    "internet down",
    "remboursement",
    "cancellation",
    "{ref}",
    "{prefix}",
    "@customer{c}",
    "refrigerator",
]


async def seed(url: str, conversations: int, per: int) -> uuid.UUID:
    engine = create_engine(url, 2, command_timeout=None)  # a bulk load takes minutes
    workspaces = []
    async with engine.begin() as conn:
        # Loading into a GIN index row by row is what a bulk load should not measure.
        await conn.execute(text("DROP INDEX triage.messages_search"))
        for name, size in (("bench", conversations), ("neighbour", conversations // 10)):
            ws = await create_workspace(conn, name, uuid.uuid4())
            params = {"ws": ws, "n": size, "per": per}
            await conn.execute(SEED_CONVERSATIONS, params)
            await conn.execute(SEED_MESSAGES, params)
            workspaces.append(ws)
        await conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        await conn.execute(text(SEARCH_INDEX))
    async with engine.connect() as conn:
        await conn.execute(text("COMMIT"))
        for table in ("conversations", "messages"):
            await conn.execute(text(f"VACUUM (ANALYZE) triage.{table}"))
    await engine.dispose()
    return workspaces[0]


async def measure(url: str, ws: uuid.UUID, conversations: int, rounds: int) -> list[float]:
    engine = create_engine(url, 2)
    latencies: list[float] = []
    try:
        async with engine.connect() as conn:
            for n in range(rounds):
                c = 1 + (n * 7919) % conversations
                ref = f"{c * 1000:X}"
                q = QUERIES[n % len(QUERIES)].format(ref=ref, prefix=ref[:-2], c=c)
                started = time.perf_counter()
                await search(conn, ws, q, None, 20)
                latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await engine.dispose()
    return sorted(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages-per-conversation", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=700)
    args = parser.parse_args()

    url = scratch_database("ecoute_bench_search")
    ws = asyncio.run(seed(url, args.conversations, args.messages_per_conversation))
    latencies = asyncio.run(measure(url, ws, args.conversations, args.rounds))
    figures = {
        "search_messages": args.conversations * args.messages_per_conversation,
        "search_p50_ms": round(statistics.median(latencies), 2),
        "search_p99_ms": round(percentile(latencies, 0.99), 2),
    }
    report(figures)


if __name__ == "__main__":
    main()
