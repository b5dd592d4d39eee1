"""Ingest throughput through ``POST /v1/ingest`` beside the raw COPY rate of the same rows.

Writes ``ingest_msgs_per_s``, ``copy_rows_per_s`` and ``ingest_vs_copy`` to
bench/results.json. The inbox runs in its own process (as in production); this process is
the client, with batches serialised before the clock starts.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import orjson

from bench.common import customer_texts, free_port, report, scratch_database, service
from services.infra.auth import new_token
from services.infra.db import asyncpg_dsn, create_engine


def make_messages(n: int) -> list[dict[str, Any]]:
    """N messages from ~N/4 authors on three platforms; one in five answers an earlier one."""
    texts = customer_texts()
    start = datetime(2026, 11, 1, tzinfo=UTC)
    platforms = ("x", "mastodon", "bluesky")
    out = []
    for i in range(n):
        item: dict[str, Any] = {
            "platform": platforms[i % 3],
            "channel": f"bench-{platforms[i % 3]}",
            "external_id": f"b{i}",
            "kind": "dm" if i % 7 == 0 else "mention",
            "author": {"external_id": str(i // 4), "handle": f"user{i // 4}"},
            "text": texts[i % len(texts)],
            "created_at": (start + timedelta(seconds=i)).isoformat(),
        }
        if i % 5 == 4:
            item["in_reply_to"] = f"b{i - 3}"
        out.append(item)
    return out


async def create_token(url: str) -> str:
    from services.inbox.ingest.store import create_ingest_token

    token = new_token("eci")
    engine = create_engine(url, 1)
    async with engine.begin() as conn:
        await create_ingest_token(conn, __import__("uuid").uuid4(), token, "bench")
    await engine.dispose()
    return token


async def send_all(base: str, token: str, bodies: list[bytes], concurrency: int) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            async with session.post(base + "/v1/ingest", data=body, headers=headers) as r:
                if r.status != 200:
                    raise SystemExit(f"ingest failed: {r.status} {await r.text()}")
                await r.read()

    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        return time.perf_counter() - started


async def copy_rate(url: str, messages: list[dict[str, Any]]) -> float:
    """Rows per second for asyncpg COPY of the same message rows into a scratch table."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    await conn.execute("DROP TABLE IF EXISTS public.copy_scratch")
    await conn.execute("CREATE TABLE public.copy_scratch (LIKE inbox.messages INCLUDING DEFAULTS) ")
    await conn.execute("ALTER TABLE public.copy_scratch ALTER COLUMN id DROP IDENTITY IF EXISTS")
    ws = __import__("uuid").uuid4()
    now = datetime.now(UTC)
    records = [
        (
            ws,
            i,
            1,
            m["external_id"],
            i // 3,
            i // 4,
            "in",
            m["kind"],
            m["text"],
            "",
            m.get("in_reply_to", ""),
            "",
            datetime.fromisoformat(m["created_at"]),
            now,
            None,
        )
        for i, m in enumerate(messages)
    ]
    columns = [
        "workspace_id",
        "id",
        "channel_id",
        "external_id",
        "conversation_id",
        "author_id",
        "direction",
        "kind",
        "text",
        "lang",
        "in_reply_to",
        "thread_id",
        "created_at",
        "received_at",
        "raw",
    ]
    started = time.perf_counter()
    for offset in range(0, len(records), 10_000):
        await conn.copy_records_to_table(
            "copy_scratch",
            records=records[offset : offset + 10_000],
            columns=columns,
            schema_name="public",
        )
    elapsed = time.perf_counter() - started
    await conn.execute("DROP TABLE public.copy_scratch")
    await conn.close()
    return len(records) / elapsed


async def stored_count(url: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM inbox.messages"))
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    url = scratch_database("ecoute_bench")
    token = asyncio.run(create_token(url))
    messages = make_messages(args.messages)
    bodies = [
        orjson.dumps({"messages": messages[i : i + args.batch]})
        for i in range(0, len(messages), args.batch)
    ]
    with service("inbox", url, free_port(), INBOX_DB_POOL_SIZE=str(args.concurrency + 2)) as base:
        elapsed = asyncio.run(send_all(base, token, bodies, args.concurrency))
    stored = asyncio.run(stored_count(url))
    if stored != args.messages:
        raise SystemExit(f"stored {stored} of {args.messages} messages")
    ingest_rate = args.messages / elapsed
    copy = asyncio.run(copy_rate(url, messages))
    figures = {
        "ingest_msgs_per_s": round(ingest_rate),
        "copy_rows_per_s": round(copy),
        "ingest_vs_copy": round(ingest_rate / copy, 3),
        "ingest_messages": args.messages,
        "ingest_batch_size": args.batch,
        "ingest_concurrency": args.concurrency,
    }
    report(figures)


if __name__ == "__main__":
    main()
