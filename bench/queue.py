"""Queue API latency under load: 100,000 open conversations, 1,000,000 messages.

Open loop: requests leave on a fixed schedule (``--rps`` per second, spread over ``--agents``
agents' tokens) whatever the answers do, so a slow server cannot slow the load down and hide
its own latency. Then a closed loop with many concurrent clients finds the most the queue
serves. Triage runs in its own process (API only). The first seconds at full rate, while the
pool opens its connections, are measured apart (``queue_cold_start_p99_ms``). Writes
``queue_p50_ms``, ``queue_p99_ms`` and ``queue_max_rps`` to bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid

import aiohttp
from sqlalchemy import text

from bench.common import (
    client_without_gc_pauses,
    free_port,
    percentile,
    report,
    scratch_database,
    service,
)
from services.infra.auth import new_token
from services.infra.db import create_engine
from services.triage.access.store import create_api_token, create_user, create_workspace

SEED_CONVERSATIONS = text(
    """
    INSERT INTO triage.conversations (workspace_id, id, platform, channel, kind, status,
        needs_answer, priority, intent, reasons, waiting_since, last_inbound_at,
        last_message_id, sla_rank, sla_due_at, language)
    SELECT :ws, g, (ARRAY['x','mastodon','bluesky','facebook'])[1 + g % 4], 'bench', 'public',
           'open', true, 1 + g % 4, 'problem', ARRAY['reports a problem'],
           now() - make_interval(secs => g % 36000), now() - make_interval(secs => g % 36000),
           g * 10, g % 3, now() + make_interval(secs => (g % 7200) - 1800),
           (ARRAY['fr','en'])[1 + g % 2]
    FROM generate_series(1, :n) AS g
    """
)
SEED_MESSAGES = text(
    """
    INSERT INTO triage.messages (workspace_id, id, conversation_id, direction, kind,
        author_handle, text, created_at, received_at)
    SELECT :ws, c * 10 - k, c, 'in', 'mention', 'customer' || c,
           'My internet has been down since this morning, order ' || c || ' — please help',
           now() - make_interval(secs => (c % 36000) + k * 60), now()
    FROM generate_series(1, :n) AS c, generate_series(0, :per - 1) AS k
    """
)
SEED_DECISIONS = text(
    """
    INSERT INTO triage.decisions (workspace_id, message_id, needs_answer, intent, abuse,
        language, priority, confidence, reasons, model_version, decided_at)
    SELECT :ws, c * 10, true, 'problem', false, (ARRAY['fr','en'])[1 + c % 2], 1 + c % 4, 0.9,
           ARRAY['reports a problem'], 'bench', now()
    FROM generate_series(1, :n) AS c
    """
)


async def seed(url: str, conversations: int, per: int, agents: int) -> list[str]:
    # No statement timeout: a million rows take longer than a request may (above 30 s while
    # the shared machine is busy), and nothing is measured here.
    engine = create_engine(url, 2, command_timeout=None)
    tokens = []
    async with engine.begin() as conn:
        ws = await create_workspace(conn, "bench", uuid.uuid4())
        for n in range(agents):
            user = await create_user(conn, ws, f"agent{n}@bench.test", f"Agent {n}", "agent")
            token = new_token("eca")
            await create_api_token(conn, ws, user, token, "bench")
            tokens.append(token)
        params = {"ws": ws, "n": conversations, "per": per}
        await conn.execute(SEED_CONVERSATIONS, params)
        await conn.execute(SEED_MESSAGES, params)
        await conn.execute(SEED_DECISIONS, params)
    async with engine.connect() as conn:
        await conn.execute(text("COMMIT"))
        # A live database's tables are vacuumed; a freshly bulk-loaded one would spend the
        # measured minute setting hint bits and autovacuuming 1M rows instead.
        for table in ("conversations", "messages", "decisions", "api_tokens", "users"):
            await conn.execute(text(f"VACUUM (ANALYZE) triage.{table}"))
        await conn.execute(text("CHECKPOINT"))
    await engine.dispose()
    return tokens


async def open_loop(base: str, tokens: list[str], rps: float, seconds: float) -> list[float]:
    """Latencies (ms) of requests sent on a fixed schedule; an error is a failure."""
    latencies: list[float] = []
    failures = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(token: str) -> None:
            nonlocal failures
            started = time.perf_counter()
            async with session.get(
                f"{base}/v1/queue?limit=50", headers={"Authorization": f"Bearer {token}"}
            ) as answer:
                await answer.read()
                if answer.status != 200:
                    failures += 1
            latencies.append((time.perf_counter() - started) * 1000)

        tasks = []
        start = time.perf_counter()
        total = int(rps * seconds)
        for n in range(total):
            delay = start + n / rps - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(tokens[n % len(tokens)])))
        await asyncio.gather(*tasks)
    if failures:
        raise SystemExit(f"{failures} queue requests failed")
    return latencies


async def closed_loop(base: str, tokens: list[str], clients: int, seconds: float) -> float:
    """Requests per second served with ``clients`` always waiting for their answer."""
    done = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def client(token: str) -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                async with session.get(
                    f"{base}/v1/queue?limit=50", headers={"Authorization": f"Bearer {token}"}
                ) as answer:
                    await answer.read()
                    if answer.status == 200:
                        done += 1

        started = time.perf_counter()
        await asyncio.gather(*(client(tokens[n % len(tokens)]) for n in range(clients)))
        return done / (time.perf_counter() - started)


WARM_UP_SECONDS = 5.0


SERVICE_ENV = {"TRIAGE_RUN_CONSUMER": "false", "TRIAGE_DB_POOL_SIZE": "40"}


def load_arguments(description: str | None, seconds: float) -> argparse.ArgumentParser:
    """The queue bench's data and load, as options (bench.assign runs under the same)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages-per-conversation", type=int, default=10)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--rps", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=seconds)
    return parser


def main() -> None:
    args = load_arguments(__doc__, 30).parse_args()
    url = scratch_database("ecoute_bench_queue")
    tokens = asyncio.run(seed(url, args.conversations, args.messages_per_conversation, args.agents))
    with service("triage", url, free_port(), **SERVICE_ENV) as base:
        # The first seconds at full rate open the pool's connections (each prepares the
        # queue statement anew): reported apart as the cold start, not mixed into steady state.
        with client_without_gc_pauses():
            cold = sorted(asyncio.run(open_loop(base, tokens, args.rps, WARM_UP_SECONDS)))
        with client_without_gc_pauses():
            latencies = sorted(asyncio.run(open_loop(base, tokens, args.rps, args.seconds)))
        max_rps = asyncio.run(closed_loop(base, tokens, 32, 10))
    figures = {
        "queue_conversations": args.conversations,
        "queue_messages": args.conversations * args.messages_per_conversation,
        "queue_load_rps": args.rps,
        "queue_agents": args.agents,
        "queue_p50_ms": round(statistics.median(latencies), 2),
        "queue_p99_ms": round(percentile(latencies, 0.99), 2),
        "queue_cold_start_p99_ms": round(percentile(cold, 0.99), 2),
        "queue_max_rps": round(max_rps),
        # The machine is shared: what else ran shows in the tail (give it beside the figures).
        "queue_load_average_1m": round(os.getloadavg()[0], 2),
    }
    report(figures)


if __name__ == "__main__":
    main()
