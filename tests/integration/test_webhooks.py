"""A workspace's webhook hears of each SLA breach: signed, retried, without message text."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import text

from ecoute.v1 import events_pb2
from services.infra.db import create_engine
from services.infra.events import Consumer, publish
from services.triage.app import create_app as create_triage
from services.triage.intake.consumer import handle_batch
from services.triage.sla.scheduler import SlaScheduler
from services.triage.webhooks import sender as webhooks
from tests.support.hooks import hook_receiver, signed_with
from tests.support.world import (
    ago,
    bearer,
    ingest,
    make_user,
    make_workspace,
    message,
    start_services,
    triage_settings,
)

SAFETY = "There is smoke coming from the engine, the crew is ignoring us!"


async def test_a_breach_is_posted_signed_and_retried_until_accepted(
    aiohttp_client: Any, aiohttp_server: Any, database_url: str
) -> None:
    hook = await hook_receiver(aiohttp_server, 500)
    inbox, triage = await start_services(aiohttp_client, database_url, consumer=False)
    ws = await make_workspace(database_url)
    admin = await make_user(database_url, ws.id, "admin")
    bad = await triage.put("/v1/webhooks", json={"url": "ftp://x"}, headers=bearer(admin))
    assert bad.status == 422
    broken = await triage.put(
        "/v1/webhooks", json={"url": "https://[hooks.test/sla"}, headers=bearer(admin)
    )
    assert broken.status == 422 and (await broken.json())["errors"][0]["pointer"] == "/url"
    secret = await hook.subscribe(triage, admin)
    shown = await (await triage.get("/v1/webhooks", headers=bearer(admin))).json()
    assert "secret" not in shown and shown["url"] == hook.url

    await ingest(inbox, ws.ingest_token, message("late", SAFETY, created_at=ago(minutes=45)))
    engine = create_engine(database_url, 4)
    assert await Consumer(engine, database_url, "triage", handle_batch).drain_once() == 1
    assert await SlaScheduler(engine, database_url).tick() >= 1

    async with aiohttp.ClientSession() as session:
        hooks = Consumer(
            engine, database_url, webhooks.CONSUMER, webhooks.sender(session), batch_size=1
        )
        assert await hooks.drain_once() == 0  # the receiver answered 500
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE events.outbox SET available_at = now()"))
        assert await hooks.drain_once() == 1
        assert await hooks.drain_once() == 0
    await engine.dispose()

    assert len(hook.received) == 2
    (first_body, first), (body, headers) = hook.received
    assert body == first_body and headers["X-Ecoute-Delivery"] == first["X-Ecoute-Delivery"]
    assert signed_with(secret, body, headers)
    payload = orjson.loads(body)
    assert payload["type"] == "sla.breached" and payload["priority"] == "P1"
    assert payload["clock"] == "first_response"
    assert "smoke" not in body.decode(), "a webhook never carries message text"


async def test_an_incident_opened_and_closed_reaches_the_webhook_without_its_label(
    aiohttp_client: Any, aiohttp_server: Any, database_url: str
) -> None:
    hook = await hook_receiver(aiohttp_server, then=204)
    triage = await aiohttp_client(create_triage(triage_settings(database_url, run_consumer=False)))
    ws = await make_workspace(database_url)
    admin = await make_user(database_url, ws.id, "admin")
    secret = await hook.subscribe(triage, admin)

    engine = create_engine(database_url, 2)
    at = Timestamp(seconds=1_790_000_000)
    async with engine.begin() as conn:
        for topic, status, reason in (
            ("incident.opened", "open", ""),
            ("incident.grown", "open", ""),  # growth is for the desk, not for paging
            ("incident.closed", "closed", "quiet"),
        ):
            change = events_pb2.IncidentChanged(
                workspace_id=str(ws.id),
                incident_id=7,
                change=topic.split(".")[1],
                kind="customer",
                status=status,
                message_count=12,
                close_reason=reason,
                changed_at=at,
            )
            await publish(conn, topic, [ws.id], [change.SerializeToString()])
    async with aiohttp.ClientSession() as session:
        hooks = Consumer(engine, database_url, webhooks.CONSUMER, webhooks.sender(session))
        assert await hooks.drain_once() == 2
    await engine.dispose()

    assert [h["X-Ecoute-Event"] for _, h in hook.received] == [
        "incident.opened",
        "incident.closed",
    ]
    assert all(signed_with(secret, body, headers) for body, headers in hook.received)
    opened, closed = (orjson.loads(body) for body, _ in hook.received)
    assert opened["type"] == "incident.opened" and opened["kind"] == "customer"
    assert (opened["incident_id"], opened["message_count"]) == (7, 12)
    assert opened["path"] == "/v1/incidents/7" and "label" not in opened
    assert closed["close_reason"] == "quiet" and closed["status"] == "closed"


async def test_only_admins_read_or_set_the_webhook_url(
    aiohttp_client: Any, database_url: str
) -> None:
    """The URL often carries a secret in its path: agents and leads neither read nor change it."""
    triage = await aiohttp_client(create_triage(triage_settings(database_url, run_consumer=False)))
    ws = await make_workspace(database_url)
    lead = await make_user(database_url, ws.id, "lead")
    admin = await make_user(database_url, ws.id, "admin")
    url = "https://hooks.example.test/T0/B0/s3cr3t-path-token"
    assert (
        await triage.put("/v1/webhooks", json={"url": url}, headers=bearer(admin))
    ).status == 200
    for token in (ws.agent_token, lead):
        shown = await triage.get("/v1/webhooks", headers=bearer(token))
        assert shown.status == 403 and "s3cr3t" not in await shown.text()
        changed = await triage.put(
            "/v1/webhooks", json={"url": "https://evil.test/"}, headers=bearer(token)
        )
        assert changed.status == 403
    shown = await triage.get("/v1/webhooks", headers=bearer(admin))
    assert (await shown.json())["url"] == url
