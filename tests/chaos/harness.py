"""What the fault tests share: a retrying producer, the counts they assert, a Postgres to restart.

Every figure a fault test asserts comes from ``counts`` (rows in the database) or from the
producer's own tally of what the inbox acknowledged, so a test states its result as numbers
and writes them to ``test-artifacts/chaos.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson

from bench.ingest import make_messages
from services.infra.db import asyncpg_dsn, socket_dir
from tools.embedded_pg import ROOT, ensure_database, start_embedded, stop_embedded

ARTIFACT = ROOT / "test-artifacts" / "chaos.json"


def record(case: str, figures: dict[str, Any]) -> None:
    """Merge one case's figures into test-artifacts/chaos.json (other cases keep theirs)."""
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = json.loads(ARTIFACT.read_text()) if ARTIFACT.exists() else {}
    results[case] = figures
    ARTIFACT.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def batches(total: int, size: int) -> list[tuple[bytes, list[str]]]:
    """``total`` realistic messages (bench.ingest's mix) as JSON bodies of ``size``, with ids."""
    messages = make_messages(total)
    return [
        (
            orjson.dumps({"messages": messages[i : i + size]}),
            [m["external_id"] for m in messages[i : i + size]],
        )
        for i in range(0, total, size)
    ]


@dataclass
class RetryingProducer:
    """Posts each batch until one answer acknowledges it, resending the very same ids.

    A lost answer (the inbox died after committing) makes the resend report those messages
    as ``duplicate``: ``stored + duplicates`` over all acknowledgements is the batch count
    times the batch size, and ``duplicates`` counts what was committed but not acknowledged.
    """

    token: str
    pause: float = 0.1
    acknowledged: set[str] = field(default_factory=set)
    message_ids: set[int] = field(default_factory=set)
    stored: int = 0
    duplicates: int = 0
    attempts: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    acked_batches: int = 0

    async def send(self, session: aiohttp.ClientSession, bases: list[str], body: bytes) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        turn = 0
        while True:
            base = bases[turn % len(bases)]
            turn += 1
            self.attempts += 1
            try:
                async with session.post(base + "/v1/ingest", data=body, headers=headers) as answer:
                    if answer.status == 200:
                        self._acknowledged(await answer.json())
                        return
                    if answer.status < 500:
                        raise AssertionError(
                            f"ingest refused: {answer.status} {await answer.text()}"
                        )
                    self.failures[f"http_{answer.status}"] += 1
            except aiohttp.ServerDisconnectedError:
                self.failures["cut_mid_request"] += 1
            except aiohttp.ClientConnectorError:
                self.failures["refused"] += 1
            except (aiohttp.ClientError, TimeoutError):
                self.failures["broken"] += 1
            await asyncio.sleep(self.pause)

    def _acknowledged(self, answer: dict[str, Any]) -> None:
        self.stored += answer["stored"]
        self.duplicates += answer["duplicates"]
        self.acked_batches += 1
        for item in answer["items"]:
            self.acknowledged.add(item["external_id"])
            self.message_ids.add(item["message_id"])

    async def send_all(
        self,
        bases: list[str],
        bodies: list[bytes],
        concurrency: int,
        *,
        copies: int = 1,
        gap: float = 0.0,
    ) -> None:
        """Send every body with ``concurrency`` clients; ``copies`` > 1 sends each body that
        many times at once, to different ``bases`` (a retry racing its original)."""
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)
        timeout = aiohttp.ClientTimeout(total=60)

        async def client(session: aiohttp.ClientSession) -> None:
            while not queue.empty():
                body = queue.get_nowait()
                await asyncio.gather(
                    *(self.send(session, bases[n:] + bases[:n], body) for n in range(copies))
                )
                if gap:
                    await asyncio.sleep(gap)

        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(*(client(session) for _ in range(concurrency)))

    def tally(self) -> dict[str, Any]:
        return {
            "acknowledged_messages": len(self.acknowledged),
            "acknowledged_as_stored": self.stored,
            "acknowledged_as_duplicate": self.duplicates,
            "requests": self.attempts,
            "failed_requests": dict(self.failures),
        }


COUNTS = """
SELECT
  (SELECT count(*) FROM inbox.messages) AS inbox_messages,
  (SELECT count(DISTINCT (workspace_id, channel_id, external_id)) FROM inbox.messages)
      AS inbox_distinct,
  (SELECT count(*) FROM events.outbox WHERE consumer = 'triage' AND topic = 'message.ingested')
      AS triage_backlog,
  (SELECT count(*) FROM triage.messages) AS triage_messages,
  (SELECT count(*) FROM triage.decisions) AS decisions,
  (SELECT count(DISTINCT (workspace_id, message_id)) FROM triage.decisions) AS decisions_distinct,
  (SELECT count(*) FROM events.dead_letter) AS dead_letters
"""


async def counts(database_url: str) -> dict[str, int]:
    """Rows that say whether anything was lost or doubled, end to end."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        row = await conn.fetchrow(COUNTS)
    finally:
        await conn.close()
    assert row is not None
    return {key: int(value) for key, value in row.items()}


async def inbox_message_ids(database_url: str) -> set[int]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return {r["id"] for r in await conn.fetch("SELECT id FROM inbox.messages")}
    finally:
        await conn.close()


async def triaged_all(database_url: str, total: int) -> bool:
    return (await counts(database_url))["decisions"] >= total


class DedicatedPostgres:
    """A Postgres of this test's own (pgserver binaries, a temporary data folder), so the test
    can stop and start it without touching the suite's shared server."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ecoute-chaos-pg-"))
        self.server: Any = None
        self.url = ""

    async def start(self, database: str = "chaos") -> str:
        """Start the server, create and migrate ``database``; return its URL."""
        from services.infra.migrate import upgrade

        self.server = await asyncio.to_thread(start_embedded, self.folder / "data", fast=True)
        self.url = await ensure_database(self.server.get_uri(), database)
        await asyncio.to_thread(upgrade, self.url, "heads")
        return self.url

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(list(args), pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)

    async def stop(self) -> None:
        """A fast shutdown: every session is terminated, open transactions roll back."""
        await asyncio.to_thread(self._pg_ctl, "-w", "-m", "fast", "stop")

    async def start_again(self) -> None:
        """Start the stopped server with the same socket and data."""
        sockets = socket_dir(self.url)
        assert sockets is not None
        log = str(self.server.log)  # in the data folder, which the server's user may write
        await asyncio.to_thread(
            self._pg_ctl, "-w", "-o", '-h ""', "-o", f"-k {sockets}", "-l", log, "start"
        )

    async def close(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(stop_embedded, self.server)
        shutil.rmtree(self.folder, ignore_errors=True)
