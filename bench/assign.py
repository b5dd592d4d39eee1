"""Automatic assignment latency on the queue bench's data, under the queue bench's load.

The queue bench's 100,000 open conversations and 1,000,000 messages, its agents all
available (two open claims each, so one round fills a whole batch), automatic assignment on.
While the queue bench's open loop reads the queue from a separate triage process (API only),
this process runs a routing round every ``--interval`` seconds, each the worker's own
transaction (``assign_round`` then commit), timed from the transaction's start to its commit.
After each round, untimed, the agents resolve what they were given, so every round assigns a
full batch of the next most urgent conversations (120 rounds take 12,000 of the 100,000).
Giving the same claims back after each round instead churned the queue's first rows until its
readers timed out, which is no agent's day. The pace is the worker's interval / 4, so the
figure has ~120 rounds behind it. Writes ``assign_p50_ms``, ``assign_p99_ms`` (one round),
``assign_per_round`` and ``assign_rounds`` to bench/results.json.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import client_without_gc_pauses, free_port, report, scratch_database, service
from bench.queue import SERVICE_ENV, WARM_UP_SECONDS, load_arguments, open_loop, seed
from services.infra.db import create_engine
from services.triage.routing import store
from services.triage.routing.usecases import RoutingConfig, assign_round

MAX_OPEN_CLAIMS = 2

RESOLVE = text(
    "UPDATE triage.conversations SET status = 'resolved', needs_answer = false "
    "WHERE workspace_id = :ws AND id = ANY(CAST(:ids AS bigint[]))"
)


async def everyone_available(engine: AsyncEngine) -> uuid.UUID:
    """Turn automatic assignment on in the bench's workspace; every agent available."""
    async with engine.begin() as conn:
        users = (await conn.execute(text("SELECT workspace_id, id FROM triage.users"))).all()
        ws = users[0].workspace_id
        await store.save_settings(conn, ws, True, MAX_OPEN_CLAIMS, users[0].id)
        for user in users:
            await store.set_presence(conn, ws, user.id, "available", datetime.now(UTC))
    return ws


async def rounds(
    engine: AsyncEngine, ws: uuid.UUID, seconds: float, interval: float
) -> tuple[list[float], int]:
    """Latencies (ms) of routing rounds, one every ``interval``; the fewest one assigned."""
    config = RoutingConfig(batch_size=100)
    latencies: list[float] = []
    fewest = config.batch_size
    deadline = time.perf_counter() + seconds
    while (started := time.perf_counter()) < deadline:
        async with engine.begin() as conn:
            made = await assign_round(conn, ws, datetime.now(UTC), config)
        latencies.append((time.perf_counter() - started) * 1000)
        fewest = min(fewest, len(made))
        async with engine.begin() as conn:
            await conn.execute(RESOLVE, {"ws": ws, "ids": [a.conversation_id for a in made]})
        await asyncio.sleep(max(0.0, started + interval - time.perf_counter()))
    return latencies, fewest


async def under_load(
    url: str, base: str, tokens: list[str], rps: float, seconds: float, interval: float
) -> tuple[list[float], int]:
    engine = create_engine(url, 2)
    try:
        ws = await everyone_available(engine)
        # Warm, as the queue bench does: the service's pool at full rate, then this
        # process's connections and prepared statements.
        await open_loop(base, tokens, rps, WARM_UP_SECONDS)
        await rounds(engine, ws, 3, interval)
        load = asyncio.create_task(open_loop(base, tokens, rps, seconds))
        measured = await rounds(engine, ws, seconds, interval)
        await load
        return measured
    finally:
        await engine.dispose()


def main() -> None:
    parser = load_arguments(__doc__, 60)
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args()
    url = scratch_database("ecoute_bench_assign")
    tokens = asyncio.run(seed(url, args.conversations, args.messages_per_conversation, args.agents))
    with service("triage", url, free_port(), **SERVICE_ENV) as base, client_without_gc_pauses():
        measured = under_load(url, base, tokens, args.rps, args.seconds, args.interval)
        latencies, fewest = asyncio.run(measured)
    latencies.sort()
    figures = {
        "assign_rounds": len(latencies),
        "assign_per_round": fewest,
        "assign_load_rps": args.rps,
        "assign_interval_s": args.interval,
        "assign_p50_ms": round(statistics.median(latencies), 2),
        "assign_p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 2),
    }
    report(figures)


if __name__ == "__main__":
    main()
