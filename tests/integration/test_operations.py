"""Probes, metrics, and behaviour while the database is away."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from services.inbox.app import create_app as create_inbox
from services.infra.db import create_engine
from services.infra.http import errors_middleware
from services.infra.logs import JsonFormatter
from services.triage.app import create_app as create_triage
from tests.support.proxy import CuttableProxy
from tests.support.world import (
    bearer,
    inbox_settings,
    make_workspace,
    message,
    start_services,
    triage_settings,
)


def samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


async def test_probes_answer_on_both_services(aiohttp_client: Any, database_url: str) -> None:
    for app in (
        create_inbox(inbox_settings(database_url)),
        create_triage(triage_settings(database_url, run_consumer=False)),
    ):
        client = await aiohttp_client(app)
        assert (await client.get("/livez")).status == 200
        ready = await client.get("/readyz")
        assert ready.status == 200
        assert (await ready.json())["database"] == "ok"


async def test_metrics_count_ingested_duplicates_triaged_and_time_routes(
    aiohttp_client: Any, database_url: str
) -> None:
    inbox, triage = await start_services(aiohttp_client, database_url)
    ws = await make_workspace(database_url)
    batch = [
        message("1", "my flight was cancelled and nobody helps"),
        message("2", "lol same", author="7", platform="mastodon", channel="m"),
    ]
    for _ in range(2):
        response = await inbox.post(
            "/v1/ingest", json={"messages": batch}, headers=bearer(ws.ingest_token)
        )
        assert response.status == 200
    await inbox.post(
        "/v1/ingest",
        data=b"{",
        headers={**bearer(ws.ingest_token), "Content-Type": "application/json"},
    )
    found = samples(await (await inbox.get("/metrics")).text())
    assert found[("ecoute_messages_ingested_total", (("direction", "in"), ("platform", "x")))] == 1
    assert found[("ecoute_messages_duplicate_total", (("platform", "mastodon"),))] == 1
    assert found[("ecoute_ingest_rejected_batches_total", (("status", "400"),))] == 1
    route_counts = {
        labels: v
        for (name, labels), v in found.items()
        if name == "ecoute_http_request_duration_seconds_count"
    }
    assert route_counts[(("method", "POST"), ("route", "/v1/ingest"), ("status", "2xx"))] == 2

    for _ in range(100):
        triaged = samples(await (await triage.get("/metrics")).text())
        total = sum(
            v for (name, _), v in triaged.items() if name == "ecoute_messages_triaged_total"
        )
        if total == 2:
            break
        await asyncio.sleep(0.05)
    assert total == 2


async def test_database_outage_gives_503_stores_nothing_and_recovers_without_restart(
    aiohttp_client: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    proxy = CuttableProxy(database_url)
    await proxy.start()
    inbox = await aiohttp_client(create_inbox(inbox_settings(proxy.url)))
    triage = await aiohttp_client(create_triage(triage_settings(proxy.url)))
    try:
        ok = await inbox.post(
            "/v1/ingest", json={"messages": [message("before")]}, headers=bearer(ws.ingest_token)
        )
        assert ok.status == 200

        proxy.cut()
        assert (await inbox.get("/readyz")).status == 503
        assert (await triage.get("/readyz")).status == 503
        assert (await inbox.get("/livez")).status == 200
        down = await inbox.post(
            "/v1/ingest", json={"messages": [message("during")]}, headers=bearer(ws.ingest_token)
        )
        assert down.status == 503
        problem = await down.json()
        assert problem["request_id"] == down.headers["X-Request-Id"]
        queue_down = await triage.get("/v1/queue", headers=bearer(ws.agent_token))
        assert queue_down.status == 503

        proxy.restore()
        assert (await inbox.get("/readyz")).status == 200
        again = await inbox.post(
            "/v1/ingest", json={"messages": [message("after")]}, headers=bearer(ws.ingest_token)
        )
        assert again.status == 200
        for _ in range(200):
            queue = await triage.get("/v1/queue", headers=bearer(ws.agent_token))
            if queue.status == 200 and (await queue.json())["count"] == 2:
                break
            await asyncio.sleep(0.05)
        assert (await queue.json())["count"] == 2
    finally:
        await proxy.close()
    engine = create_engine(database_url, 1)
    async with engine.connect() as conn:
        stored = [
            r[0]
            for r in await conn.execute(text("SELECT external_id FROM inbox.messages ORDER BY id"))
        ]
    await engine.dispose()
    assert stored == ["before", "after"]


async def test_a_database_error_behind_a_500_is_logged_with_its_sqlstate_never_its_parameters(
    aiohttp_client: Any, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The API's 500 line says what the database said (SQLSTATE, message), as the workers'
    lines do, and nothing of the values the statement carried."""
    secret = "customer-words-that-must-not-be-logged"
    engine = create_engine(database_url, 1)

    async def failing(request: web.Request) -> web.Response:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT length(CAST(:words AS text)) / 0"), {"words": secret})
        return web.Response()

    app = web.Application(middlewares=[errors_middleware])
    app.router.add_get("/fails", failing)
    client = await aiohttp_client(app)
    caplog.set_level(logging.INFO, logger="ecoute.http")
    response = await client.get("/fails", headers={"X-Request-Id": "req-1"})
    await engine.dispose()
    assert response.status == 500
    (record,) = [r for r in caplog.records if r.name == "ecoute.http"]
    line = orjson.loads(JsonFormatter("test").format(record))
    assert line["request_id"] == "req-1"
    assert (line["sqlstate"], line["db_message"]) == ("22012", "division by zero")
    assert line["error_type"] == "DBAPIError"
    assert secret not in JsonFormatter("test").format(record)
