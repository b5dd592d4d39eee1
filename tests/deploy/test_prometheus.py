"""A real Prometheus scrapes both services while traffic flows; the Care dashboard has data."""

from __future__ import annotations

import json
import re
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
from services.infra.db import create_engine
from services.infra.events import publish
from services.triage.app import create_app as create_triage
from tests.support.waiting import wait_until
from tests.support.world import (
    Workspace,
    ago,
    bearer,
    connect_channel,
    inbox_holding,
    ingest,
    message,
    triage_settings,
)
from tools.embedded_pg import ROOT

CARE = ROOT / "deploy" / "k8s" / "base" / "dashboards" / "care.json"
NAMESPACE = "ecoute-test"
VARIABLES = {"$namespace": NAMESPACE, "$brand": ".*", "$job": ".*"}
"""The dashboards' template variables as Grafana fills them in (every brand, every job)."""


DEADLINE = 300.0
"""How long each wait may take: generous, so a fully loaded machine passes (every wait ends
as soon as its condition holds)."""


def filled(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def care_queries() -> dict[str, str]:
    return {
        f"{panel['title']} / {target['refId']}": filled(target["expr"])
        for panel in json.loads(CARE.read_text())["panels"]
        for target in panel["targets"]
        if target["datasource"]["type"] == "prometheus"  # not the per-agent table (the API)
    }


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
    ws, inbox = await inbox_holding(
        aiohttp_client,
        database_url,
        {"masto": {"access_token": "mastodon-test-token"}},
        workers=True,
        gauges_refresh_seconds=0.5,
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
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{inbox.server.port}"],
                        "labels": {"namespace": NAMESPACE},
                    }
                ],
            },
            {
                "job_name": "triage",
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{triage.server.port}"],
                        "labels": {"namespace": NAMESPACE},
                    }
                ],
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
    queries = care_queries()
    try:
        async with aiohttp.ClientSession() as session:

            async def both_scraped() -> bool:
                try:
                    return len(await query(session, base, "up == 1")) == 2
                except aiohttp.ClientError:
                    return False  # Prometheus is still starting

            async def every_metric_sampled() -> bool:
                """Each metric the dashboard reads has a sample from before the traffic, so
                the traffic's increments show as increases and rates (not a first sample)."""
                names = set(re.findall(r"ecoute_\w+", " ".join(queries.values())))
                return all([await query(session, base, f"count({name})") for name in names])

            await wait_until(both_scraped, DEADLINE, "Prometheus scrapes both services")
            await wait_until(every_metric_sampled, DEADLINE, "a sample of every metric")

            await traffic(inbox, triage, fake, fake_state, database_url, ws)

            empty: list[str] = []

            async def every_panel_has_data() -> bool:
                empty[:] = [
                    name for name, e in queries.items() if not await query(session, base, e)
                ]
                return not empty

            try:
                await wait_until(every_panel_has_data, DEADLINE, "every Care panel has data")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; without data: {empty}") from None
            await brands_and_namespaces_split(session, base, queries)
    finally:
        server.terminate()
        server.wait(timeout=20)


async def brands_and_namespaces_split(
    session: aiohttp.ClientSession, base: str, queries: dict[str, str]
) -> None:
    """The first-response panel by brand names the workspace's brand, the variables offer
    what was scraped, and another namespace's dashboard shows none of this one's figures."""
    by_brand = await query(
        session, base, queries["First response p90 by brand (business time) / A"]
    )
    assert {r["metric"]["brand"] for r in by_brand} == {"acme-care"}
    for label, match in (
        ("namespace", "ecoute_build_info"),
        ("brand", f'ecoute_sla_clocks_started_total{{namespace="{NAMESPACE}"}}'),
        ("job", f'ecoute_build_info{{namespace="{NAMESPACE}"}}'),
    ):
        async with session.get(
            f"{base}/api/v1/label/{label}/values", params={"match[]": match}
        ) as response:
            values = (await response.json())["data"]
        if label == "brand":
            assert "acme-care" in values, values
        else:
            assert values == {"namespace": [NAMESPACE], "job": ["inbox", "triage"]}[label]
    elsewhere = {
        name: expr.replace(f'namespace="{NAMESPACE}"', 'namespace="ecoute-dev"')
        for name, expr in queries.items()
    }
    leaked = [name for name, expr in elsewhere.items() if await query(session, base, expr)]
    assert not leaked, f"shown for another namespace: {leaked}"


async def traffic(
    inbox: Any, triage: Any, fake: Any, state: MastodonState, database_url: str, ws: Workspace
) -> None:
    """A mention polled and answered, a breach, a resolution: what a care day is made of."""
    await connect_channel(
        inbox,
        ws.channels_token,
        "mastodon",
        "masto",
        account_id=state.brand_id,
        base_url=str(fake.make_url("/")),
        poll_seconds=5,
    )
    state.add_mention(
        "jane@m.example",
        status_html("@acme no internet since this morning, outage"),
        datetime.now(UTC) - timedelta(minutes=3),
    )
    await ingest(
        inbox,
        ws.ingest_token,
        message("late", "How do I change the date of my flight?", created_at=ago(hours=9)),
    )
    engine = create_engine(database_url, 2)
    try:
        found: list[Any] = []

        async def mention_stored() -> bool:
            async with engine.connect() as conn:
                found[:] = (
                    await conn.execute(
                        text(
                            "SELECT id, conversation_id FROM inbox.messages WHERE channel_id = "
                            "(SELECT id FROM inbox.channels WHERE key = 'masto')"
                        )
                    )
                ).all()
            return bool(found)

        await wait_until(mention_stored, DEADLINE, "the poller stored the mention")
        mention = found[0]
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

        async def reply_delivered() -> bool:
            return bool(state.created_count)

        await wait_until(reply_delivered, DEADLINE, "the reply reached the platform")
        assert state.created_count == 1

        async def first_response_kept() -> bool:
            """Triage heard of the delivery: resolving earlier would cancel the clock (no
            first response to measure), which is what failed on a loaded machine."""
            async with engine.connect() as conn:
                outcome = (
                    await conn.execute(
                        text(
                            "SELECT outcome FROM triage.sla_clocks WHERE workspace_id = :w "
                            "AND conversation_id = :c AND kind = 'first_response'"
                        ),
                        {"w": ws.id, "c": mention.conversation_id},
                    )
                ).scalar()
            return outcome in ("met", "missed")

        await wait_until(first_response_kept, DEADLINE, "the first response stopped its clock")
        answer = await triage.post(
            f"/v1/conversations/{mention.conversation_id}/resolve", headers=bearer(ws.agent_token)
        )
        assert answer.status == 200, await answer.text()
    finally:
        await engine.dispose()
