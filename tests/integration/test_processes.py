"""The service processes as ops run them: a triage worker triages, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

from services.inbox.app import create_app as create_inbox
from tests.support.world import bearer, inbox_settings, make_workspace, message
from tools.service_process import ServiceProcess


async def test_a_worker_process_triages_and_stops_cleanly_on_sigterm(
    aiohttp_client: Any, database_url: str, tmp_path: Path
) -> None:
    ws = await make_workspace(database_url)
    inbox = await aiohttp_client(create_inbox(inbox_settings(database_url)))
    worker = ServiceProcess(
        "triage",
        "worker",
        database_url,
        log=tmp_path / "worker.log",
        TRIAGE_LOG_LEVEL="INFO",
        TRIAGE_CONSUMER_POLL_SECONDS="0.2",
        TRIAGE_DB_POOL_SIZE="2",
    )
    await worker.start(ready=False)
    port = worker.port
    try:
        response = await inbox.post(
            "/v1/ingest",
            headers=bearer(ws.ingest_token),
            json={"messages": [message("w1", "my internet is down")]},
        )
        assert response.status == 200
        from sqlalchemy import text

        from services.infra.db import create_engine

        engine = create_engine(database_url, 1)
        triaged = 0
        for _ in range(100):
            async with engine.connect() as conn:
                triaged = (
                    await conn.execute(text("SELECT count(*) FROM triage.decisions"))
                ).scalar_one()
            if triaged:
                break
            await asyncio.sleep(0.1)
        await engine.dispose()
        assert triaged == 1
        async with aiohttp.ClientSession() as session:
            for path, status in (("/livez", 200), ("/readyz", 200), ("/v1/queue", 404)):
                async with session.get(f"http://127.0.0.1:{port}{path}") as answer:
                    assert answer.status == status, path
            async with session.get(f"http://127.0.0.1:{port}/metrics") as answer:
                assert "ecoute_messages_triaged_total" in await answer.text()
    finally:
        code = await worker.stop(timeout=15)
        stderr = (tmp_path / "worker.log").read_text()
    assert code == 0, stderr
    assert "my internet" not in stderr, "logs never carry message text"


async def test_sigterm_mid_backlog_loses_no_claimed_message(database_url: str) -> None:
    """The worker stops within its grace period; what it held is released, then finished."""
    import time
    from datetime import UTC, datetime, timedelta

    from services.inbox.domain.messages import Incoming
    from services.inbox.ingest.store import store_batch
    from services.infra.db import create_engine
    from services.infra.events import Consumer
    from services.triage.intake.consumer import handle_batch

    ws = await make_workspace(database_url)
    engine = create_engine(database_url, 2)
    total = 3000
    start = datetime.now(UTC) - timedelta(hours=1)
    async with engine.begin() as conn:
        for offset in range(0, total, 500):
            await store_batch(
                conn,
                ws.id,
                [
                    Incoming(
                        platform="x",
                        channel="c",
                        external_id=str(n),
                        kind="mention",
                        direction="in",
                        author_external_id=str(n % 300),
                        author_handle="h",
                        author_display_name="",
                        text="my internet is down since this morning",
                        created_at=start + timedelta(seconds=n),
                    )
                    for n in range(offset, offset + 500)
                ],
                datetime.now(UTC),
            )

    async def triaged() -> int:
        async with engine.connect() as conn:
            return int(
                (await conn.execute(text("SELECT count(*) FROM triage.decisions"))).scalar_one()
            )

    worker = ServiceProcess(
        "triage",
        "worker",
        database_url,
        TRIAGE_CONSUMER_BATCH_SIZE="50",
        TRIAGE_DB_POOL_SIZE="3",
    )
    await worker.start(ready=False)
    for _ in range(300):
        if await triaged() > 0:
            break
        await asyncio.sleep(0.05)
    stopped_at = time.monotonic()
    code = await worker.stop(timeout=30)
    took = time.monotonic() - stopped_at
    assert code == 0
    assert took < 45, "within the Kubernetes grace period"
    assert 0 < await triaged() < total, "the worker was stopped mid-backlog"

    consumer = Consumer(engine, database_url, "triage", handle_batch, batch_size=500)
    while await consumer.drain_once():
        pass
    async with engine.connect() as conn:
        left = (await conn.execute(text("SELECT count(*) FROM events.outbox"))).scalar_one()
        messages = (await conn.execute(text("SELECT count(*) FROM triage.messages"))).scalar_one()
    await engine.dispose()
    assert (await triaged(), messages, left) == (total, total, 0)
