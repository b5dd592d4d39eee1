"""A real Prometheus scrapes both services while traffic flows; the Care dashboard has data."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from sqlalchemy import text

from bench.common import free_port
from ecoute.v1 import events_pb2
from fakes.mastodon import MastodonState, status_html
from fakes.mastodon import create_app as create_fake_mastodon
from services.inbox.app import create_app as create_inbox
from services.infra.db import create_engine
from services.infra.events import publish
from services.triage.app import create_app as create_triage
from tests.support.world import (
    Workspace,
    ago,
    bearer,
    credentials_json,
    inbox_settings,
    make_workspace,
    message,
    triage_settings,
)
from tools.embedded_pg import ROOT

CARE = ROOT / "deploy" / "k8s" / "base" / "dashboards" / "care.json"


async def query(session: aiohttp.ClientSession, base: str, expr: str) -> list[Any]:
    async with session.get(f"{base}/api/v1/query", params={"query": expr}) as response:
        body = await response.json()
    assert body["status"] == "success", body
    return [r for r in body["data"]["result"] if r["value"][1] not in ("NaN", "+Inf", "-Inf")]


async def test_care_dashboard_queries_return_data_from_a_real_prometheus(
    aiohttp_server: Any, aiohttp_client: Any, database_url: str, tmp_path: Path
) -> None:
    assert shutil.which("prometheus"), "the Debian prometheus package (tools/system-deps.sh)"
    fake_state = MastodonState()
    fake = await aiohttp_server(create_fake_mastodon(fake_state))
    ws = await make_workspace(database_url)
    credentials = credentials_json(ws.id, {"masto": {"access_token": "mastodon-test-token"}})
    inbox = await aiohttp_client(
        create_inbox(
            inbox_settings(
                database_url, channel_credentials=credentials, gauges_refresh_seconds=0.5
            )
        )
    )
    triage = await aiohttp_client(
        create_triage(triage_settings(database_url, gauges_refresh_seconds=0.5))
    )

    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "inbox",
                "static_configs": [{"targets": [f"127.0.0.1:{inbox.server.port}"]}],
            },
            {
                "job_name": "triage",
                "static_configs": [{"targets": [f"127.0.0.1:{triage.server.port}"]}],
            },
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    server = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(120):
                try:
                    up = await query(session, base, "up == 1")
                    if len(up) == 2:
                        break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.25)
            assert len(up) == 2, "Prometheus scrapes both services"
            await asyncio.sleep(2)  # a few scrapes before any traffic, so rates can rise

            await traffic(inbox, triage, fake, fake_state, database_url, ws)

            results: dict[str, int] = {}
            for _ in range(60):
                results = {}
                for panel in json.loads(CARE.read_text())["panels"]:
                    for target in panel["targets"]:
                        found = await query(session, base, target["expr"])
                        results[f"{panel['title']} / {target['refId']}"] = len(found)
                if all(results.values()):
                    break
                await asyncio.sleep(1)
            assert all(results.values()), {k: v for k, v in results.items() if not v}
    finally:
        server.terminate()
        server.wait(timeout=20)


async def traffic(
    inbox: Any, triage: Any, fake: Any, state: MastodonState, database_url: str, ws: Workspace
) -> None:
    """A mention polled and answered, a breach, a resolution: what a care day is made of."""
    channel = await inbox.put(
        "/v1/channels/mastodon/masto",
        headers=bearer(ws.channels_token),
        json={
            "account_id": state.brand_id,
            "base_url": str(fake.make_url("/")),
            "credentials_ref": "masto",
            "poll_seconds": 5,
        },
    )
    assert channel.status == 200
    state.add_mention(
        "jane@m.example",
        status_html("@acme no internet since this morning, outage"),
        datetime.now(UTC) - timedelta(minutes=3),
    )
    late = await inbox.post(
        "/v1/ingest",
        headers=bearer(ws.ingest_token),
        json={
            "messages": [
                message("late", "How do I change the date of my flight?", created_at=ago(hours=9))
            ]
        },
    )
    assert late.status == 200
    engine = create_engine(database_url, 2)
    try:
        mention = None
        for _ in range(100):
            async with engine.connect() as conn:
                mention = (
                    await conn.execute(
                        text(
                            "SELECT id, conversation_id FROM inbox.messages WHERE channel_id = "
                            "(SELECT id FROM inbox.channels WHERE key = 'masto')"
                        )
                    )
                ).first()
            if mention is not None:
                break
            await asyncio.sleep(0.2)
        assert mention is not None, "the poller stored the mention"
        async with engine.begin() as conn:
            request = events_pb2.ReplyRequested(
                workspace_id=str(ws.id),
                reply_id=str(uuid.uuid4()),
                conversation_id=mention.conversation_id,
                in_reply_to_message_id=mention.id,
                text="Sorry Jane, a technician is on the way.",
                agent_id="agent",
            )
            request.requested_at.FromDatetime(datetime.now(UTC))
            await publish(conn, "reply.requested", [ws.id], [request.SerializeToString()])
        for _ in range(100):
            if state.created_count:
                break
            await asyncio.sleep(0.2)
        assert state.created_count == 1, "the reply reached the platform"
        for _ in range(100):
            answer = await triage.post(
                f"/v1/conversations/{mention.conversation_id}/resolve",
                headers=bearer(ws.agent_token),
            )
            if answer.status == 200:
                break
            await asyncio.sleep(0.2)
        assert answer.status == 200
    finally:
        await engine.dispose()
