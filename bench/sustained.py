"""Sustained load: 2,000 messages per second for 60 seconds while 50 agents work the queue.

Everything runs as in production, each in its own process: the inbox (ingest API), the
triage API and ``--workers`` triage workers (one by default), against the embedded Postgres
with durable commits. This process is the load: an open-loop producer (a batch of
``--batch`` messages every ``batch/rate`` seconds, whatever the answers do, so a slow server
cannot slow the load down and hide its latency) and ``--agents`` simulated agents, each
looping list queue → open a conversation → claim → release, with a second of think time.

Ingest-to-queued latency is measured two ways. For every message: its triage decision's
``decided_at`` minus its platform time (stamped when the batch left). For a probe message
sent each second in a conversation of its own: from sending it until ``GET
/v1/conversations/{id}`` finds it (the moment an agent can see it). The CPU each process
used says what saturates. Writes ``sustained_*`` figures to bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import orjson
import psutil

from bench.common import ROOT, customer_texts, percentile, report, scratch_database
from services.inbox.ingest.store import create_ingest_token
from services.infra.auth import new_token
from services.infra.db import asyncpg_dsn, create_engine
from services.triage.access.store import create_api_token, create_user, create_workspace
from tools.service_process import ServiceProcess

PROBE_TEXT = "my internet has been down since this morning, please help"


async def seed(url: str, agents: int) -> tuple[str, list[str]]:
    """One workspace: an ingest token and ``agents`` agents with API tokens."""
    engine = create_engine(url, 1)
    tokens = []
    ingest = new_token("eci")
    async with engine.begin() as conn:
        ws = await create_workspace(conn, "sustained", uuid.uuid4())
        await create_ingest_token(conn, ws, ingest, "bench")
        for n in range(agents):
            user = await create_user(conn, ws, f"agent{n}@bench.test", f"Agent {n}", "agent")
            token = new_token("eca")
            await create_api_token(conn, ws, user, token, "bench")
            tokens.append(token)
    await engine.dispose()
    return ingest, tokens


class Load:
    """The producer's and the agents' tallies."""

    def __init__(self) -> None:
        self.errors: Counter[str] = Counter()
        self.acknowledged = 0
        self.ingest_ms: list[float] = []
        self.queue_ms: list[float] = []
        self.desk_ms: list[float] = []
        self.conflicts = 0
        self.probe_s: list[float] = []
        self.probes_unseen = 0
        self.first_send = 0.0
        self.last_ack = 0.0


class Producer:
    def __init__(self, base: str, token: str, load: Load, batch: int, rate: float) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.load = load
        self.batch = batch
        self.rate = rate
        self.texts = customer_texts()
        self.sent = 0

    def _items(self, n: int) -> list[dict[str, Any]]:
        now = datetime.now(UTC).isoformat()
        items = []
        for _ in range(n):
            i = self.sent
            self.sent += 1
            items.append(
                {
                    "platform": ("x", "mastodon", "bluesky")[i % 3],
                    "channel": "sustained",
                    "external_id": f"s{i}",
                    "kind": "dm" if i % 7 == 0 else "mention",
                    "author": {"external_id": str(i // 3), "handle": f"user{i // 3}"},
                    "text": self.texts[i % len(self.texts)],
                    "created_at": now,
                }
            )
        return items

    async def post(self, session: aiohttp.ClientSession, body: bytes, n: int) -> Any:
        started = time.perf_counter()
        try:
            async with session.post(self.base + "/v1/ingest", data=body, headers=self.headers) as r:
                answer = await r.read()
                if r.status != 200:
                    self.load.errors[f"ingest_{r.status}"] += 1
                    return None
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.load.errors[f"ingest_{type(exc).__name__}"] += 1
            return None
        self.load.ingest_ms.append((time.perf_counter() - started) * 1000)
        self.load.acknowledged += n
        self.load.last_ack = time.perf_counter()
        return orjson.loads(answer)

    async def run(self, session: aiohttp.ClientSession, seconds: float) -> None:
        """Open loop: batch k leaves at start + k * batch / rate."""
        tasks: set[asyncio.Task[Any]] = set()
        interval = self.batch / self.rate
        start = self.load.first_send = time.perf_counter()
        k = 0
        while (due := start + k * interval) < start + seconds:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = orjson.dumps({"messages": self._items(self.batch)})
            task = asyncio.create_task(self.post(session, body, self.batch))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            k += 1
        await asyncio.gather(*tasks)

    async def probe(self, session: aiohttp.ClientSession, triage: str, agent: str) -> None:
        """One message in a new conversation; seconds until an agent can open it."""
        n = self.sent
        self.sent += 1
        item = {
            "platform": "x",
            "channel": "probe",
            "external_id": f"p{n}",
            "kind": "mention",
            "author": {"external_id": f"probe{n}", "handle": f"probe{n}"},
            "text": PROBE_TEXT,
            "created_at": datetime.now(UTC).isoformat(),
        }
        started = time.perf_counter()
        answer = await self.post(session, orjson.dumps({"messages": [item]}), 1)
        if answer is None:
            return
        url = f"{triage}/v1/conversations/{answer['items'][0]['conversation_id']}"
        headers = {"Authorization": f"Bearer {agent}"}
        while time.perf_counter() - started < 120:
            try:
                async with session.get(url, headers=headers) as r:
                    await r.read()
                    if r.status == 200:
                        self.load.probe_s.append(time.perf_counter() - started)
                        return
                    if r.status != 404:
                        self.load.errors[f"probe_{r.status}"] += 1
                        return
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.load.errors[f"probe_{type(exc).__name__}"] += 1
                return
            await asyncio.sleep(0.05)
        self.load.probes_unseen += 1


async def agent(
    session: aiohttp.ClientSession, base: str, token: str, load: Load, until: float
) -> None:
    """List the queue, open one conversation, claim it, release it; think; again."""
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(token)

    async def call(method: str, path: str, timings: list[float]) -> Any:
        started = time.perf_counter()
        try:
            async with session.request(method, base + path, headers=headers) as r:
                body = await r.read()
                status = r.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            load.errors[f"desk_{type(exc).__name__}"] += 1
            return None
        timings.append((time.perf_counter() - started) * 1000)
        if status == 409:  # another agent holds it: the desk working as meant
            load.conflicts += 1
            return None
        if status != 200:
            load.errors[f"desk_{method}_{status}"] += 1
            return None
        return orjson.loads(body)

    await asyncio.sleep(rng.random())
    while time.perf_counter() < until:
        queue = await call("GET", "/v1/queue?limit=50", load.queue_ms)
        if queue and queue["items"]:
            cid = rng.choice(queue["items"])["conversation_id"]
            await call("GET", f"/v1/conversations/{cid}", load.desk_ms)
            if await call("POST", f"/v1/conversations/{cid}/claim", load.desk_ms) is not None:
                await call("POST", f"/v1/conversations/{cid}/release", load.desk_ms)
        await asyncio.sleep(0.5 + rng.random())


class CpuMeter:
    """CPU seconds used by each process (Postgres: the postmaster and all its backends)."""

    def __init__(self, processes: dict[str, int | None]) -> None:
        self.processes = {name: pid for name, pid in processes.items() if pid}
        self.before: dict[str, float] = {}
        self.started = 0.0

    @staticmethod
    def _used(pid: int, tree: bool) -> float:
        try:
            root = psutil.Process(pid)
            family = [root, *root.children(recursive=True)] if tree else [root]
            total = 0.0
            for p in family:
                try:
                    t = p.cpu_times()
                    total += t.user + t.system
                except psutil.NoSuchProcess:
                    pass
            return total
        except psutil.NoSuchProcess:
            return 0.0

    def start(self) -> None:
        self.started = time.perf_counter()
        self.before = {n: self._used(p, n == "postgres") for n, p in self.processes.items()}

    def seconds(self) -> dict[str, float]:
        """CPU seconds each process used since ``start``."""
        return {
            n: self._used(p, n == "postgres") - self.before[n] for n, p in self.processes.items()
        }


def postmaster_pid() -> int | None:
    pidfile = ROOT / ".pgdata" / "postmaster.pid"
    return int(pidfile.read_text().split()[0]) if pidfile.exists() else None


async def decision_latencies(url: str) -> tuple[list[float], int, int, int]:
    """decided_at - platform time for each load message; messages stored, triaged, waiting."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            """
            SELECT extract(epoch FROM d.decided_at - m.created_at) AS s
            FROM inbox.messages AS m
            JOIN triage.decisions AS d ON d.workspace_id = m.workspace_id AND d.message_id = m.id
            WHERE m.external_id LIKE 's%'
            """
        )
        stored = await conn.fetchval("SELECT count(*) FROM inbox.messages")
        triaged = await conn.fetchval("SELECT count(*) FROM triage.decisions")
        backlog = await conn.fetchval(
            "SELECT count(*) FROM events.outbox WHERE consumer = 'triage'"
        )
    finally:
        await conn.close()
    return [float(r["s"]) for r in rows], int(stored), int(triaged), int(backlog)


async def wait_drained(url: str, limit: float) -> float:
    """Seconds until triage's backlog is empty (``limit`` at most)."""
    started = time.perf_counter()
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        while time.perf_counter() - started < limit:
            left = await conn.fetchval(
                "SELECT count(*) FROM events.outbox WHERE consumer = 'triage'"
            )
            if left == 0:
                break
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    return time.perf_counter() - started


async def run(args: argparse.Namespace) -> dict[str, Any]:
    url = await asyncio.to_thread(scratch_database, "ecoute_bench_sustained")
    ingest_token, agent_tokens = await seed(url, args.agents)
    inbox = ServiceProcess(
        "inbox", "serve", url, INBOX_RUN_WORKERS="false", INBOX_DB_POOL_SIZE="20"
    )
    api = ServiceProcess(
        "triage", "serve", url, TRIAGE_RUN_CONSUMER="false", TRIAGE_DB_POOL_SIZE="20"
    )
    workers = [
        ServiceProcess("triage", "worker", url, TRIAGE_DB_POOL_SIZE="4")
        for _ in range(args.workers)
    ]
    services = (inbox, api, *workers)
    for process in services:
        await process.start()
    load = Load()
    producer = Producer(inbox.base_url, ingest_token, load, args.batch, args.rate)
    meter = CpuMeter(
        {
            "inbox": inbox.pid,
            "triage_api": api.pid,
            **{f"triage_worker_{n}": w.pid for n, w in enumerate(workers, 1)},
            "postgres": postmaster_pid(),
        }
    )
    me = psutil.Process()
    try:
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            meter.start()
            mine = me.cpu_times()
            until = time.perf_counter() + args.seconds
            agents = [
                agent(session, api.base_url, agent_tokens[n], load, until)
                for n in range(args.agents)
            ]

            async def probes() -> None:
                pending = []
                while time.perf_counter() < until:
                    pending.append(
                        asyncio.create_task(producer.probe(session, api.base_url, agent_tokens[0]))
                    )
                    await asyncio.sleep(1.0)
                await asyncio.gather(*pending)

            await asyncio.gather(producer.run(session, args.seconds), probes(), *agents)
        drain = await wait_drained(url, args.drain_limit)
        cpu = meter.seconds()
        after = me.cpu_times()
        cpu["load_generator"] = after.user + after.system - mine.user - mine.system
        wall = time.perf_counter() - meter.started
        latencies, stored, triaged, backlog = await decision_latencies(url)
    finally:
        unclean = []  # a process still running 30 s after SIGTERM (then killed) is a finding
        for process in services:
            try:
                await process.stop()
            except TimeoutError:
                unclean.append(f"{process.service} {process.command}")

    elapsed = load.last_ack - load.first_send
    offered = args.rate
    figures = {
        "sustained_offered_msgs_per_s": offered,
        "sustained_seconds": args.seconds,
        "sustained_agents": args.agents,
        "sustained_triage_workers": args.workers,
        "sustained_batch_size": args.batch,
        "sustained_achieved_msgs_per_s": round(load.acknowledged / elapsed) if elapsed else 0,
        "sustained_messages_acknowledged": load.acknowledged,
        "sustained_messages_stored": stored,
        "sustained_messages_triaged": triaged,
        "sustained_errors": sum(load.errors.values()),
        "sustained_unclean_stops": unclean,
        "sustained_error_kinds": dict(load.errors),
        "sustained_ingest_request_p50_ms": round(statistics.median(load.ingest_ms), 1),
        "sustained_ingest_request_p99_ms": round(percentile(load.ingest_ms, 0.99), 1),
        "sustained_ingest_to_decided_p50_s": round(percentile(latencies, 0.5), 3),
        "sustained_ingest_to_decided_p99_s": round(percentile(latencies, 0.99), 3),
        "sustained_ingest_to_decided_max_s": round(max(latencies, default=0.0), 3),
        "sustained_ingest_to_queued_p50_s": round(percentile(load.probe_s, 0.5), 3),
        "sustained_ingest_to_queued_p99_s": round(percentile(load.probe_s, 0.99), 3),
        "sustained_probes": len(load.probe_s),
        "sustained_probes_unseen": load.probes_unseen,
        "sustained_queue_requests": len(load.queue_ms),
        "sustained_queue_p50_ms": round(percentile(load.queue_ms, 0.5), 1),
        "sustained_queue_p99_ms": round(percentile(load.queue_ms, 0.99), 1),
        "sustained_desk_p99_ms": round(percentile(load.desk_ms, 0.99), 1),
        "sustained_agent_requests": len(load.queue_ms) + len(load.desk_ms),
        "sustained_claim_conflicts": load.conflicts,
        "sustained_triage_backlog_drain_s": round(drain, 1),
        "sustained_triage_backlog_left": backlog,
        # What each process used, over the run and the drain: its share of the machine (the
        # cores are shared with anything else running) and its CPU cost per message, which
        # does not depend on what else runs.
        "sustained_cpu_cores": {n: round(c / wall, 2) for n, c in cpu.items()},
        "sustained_cpu_ms_per_message": {
            n: round(c * 1000 / max(1, load.acknowledged), 3) for n, c in cpu.items()
        },
        "sustained_load_average_1m": round(os.getloadavg()[0], 1),
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=2000, help="messages per second offered")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--batch", type=int, default=100, help="messages per ingest request")
    parser.add_argument("--workers", type=int, default=1, help="triage worker processes")
    parser.add_argument(
        "--drain-limit", type=float, default=300, help="seconds to wait for triage to catch up"
    )
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    report(figures)
    if figures["sustained_errors"]:
        raise SystemExit(f"{figures['sustained_errors']} errors under sustained load")


if __name__ == "__main__":
    main()
