"""The Care dashboard's tables read from the triage API (answers per agent, incidents open
now), queried as Grafana's Infinity datasource queries them: each panel's URL, parameters,
root selector and columns against the real API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ecoute.v1 import events_pb2
from services.infra.db import create_engine
from services.infra.events import publish
from tests.support.incidents import make_incident
from tests.support.waiting import wait_until
from tests.support.world import (
    bearer,
    ingest,
    make_user,
    make_workspace,
    message,
    start_services,
)
from tools.embedded_pg import ROOT

CARE = ROOT / "deploy" / "k8s" / "base" / "dashboards" / "care.json"
AGENTS, INCIDENTS = "Answers per agent", "Incidents open now"


def grafana_iso(moment: datetime) -> str:
    """``${__from:date:iso}`` as Grafana renders it: UTC, milliseconds, a Z."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


async def table(
    triage: Any, token: str, title: str, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """The rows the panel ``title`` shows for that time range, the datasource configured with
    ``token`` as Bearer (a lead of the brand's workspace)."""
    (panel,) = [p for p in json.loads(CARE.read_text())["panels"] if p["title"] == title]
    (target,) = panel["targets"]
    variables = {"${__from:date:iso}": grafana_iso(since), "${__to:date:iso}": grafana_iso(until)}
    params = {
        p["key"]: variables.get(p["value"], p["value"]) for p in target["url_options"]["params"]
    }
    response = await triage.get(target["url"], params=params, headers=bearer(token))
    assert response.status == 200, await response.text()
    items = (await response.json())[target["root_selector"]]
    return [{c["text"]: item[c["selector"]] for c in target["columns"]} for item in items]


async def brand(aiohttp_client: Any, database_url: str) -> tuple[Any, Any, str, list[int]]:
    """Triage, its workspace, a lead's API token, and two conversations in the desk."""
    inbox, triage = await start_services(aiohttp_client, database_url, workers=False)
    ws = await make_workspace(database_url)
    lead = await make_user(database_url, ws.id, "lead")
    written = await ingest(
        inbox,
        ws.ingest_token,
        message("t1", "My internet has been down since this morning", author="1"),
        message("t2", "My parcel never arrived, where is it?", author="2"),
    )
    first, second = [i["conversation_id"] for i in written]

    async def in_the_desk() -> bool:
        for conversation in (first, second):
            view = await triage.get(f"/v1/conversations/{conversation}", headers=bearer(lead))
            if view.status != 200 or not (await view.json())["messages"]:
                return False
        return True

    await wait_until(in_the_desk, what="triage has both conversations")
    return triage, ws, lead, [first, second]


async def test_the_per_agent_table_shows_each_agents_delivered_answers_in_the_range(
    aiohttp_client: Any, database_url: str
) -> None:
    triage, ws, lead, (first, second) = await brand(aiohttp_client, database_url)
    replies: list[tuple[int, str]] = []
    for conversation, token, texts in (
        (first, ws.agent_token, ("On it", "Fixed?")),
        (second, lead, ("Sorry",)),
    ):
        path = f"/v1/conversations/{conversation}"
        claimed = await triage.post(f"{path}/claim", headers=bearer(token))
        assert claimed.status == 200, await claimed.text()
        for text in texts:
            answer = await triage.post(
                f"{path}/replies", json={"text": text}, headers=bearer(token)
            )
            assert answer.status in (200, 201, 202), await answer.text()
            replies.append((conversation, (await answer.json())["reply"]["id"]))
    engine = create_engine(database_url, 1)
    try:
        async with engine.begin() as conn:
            delivered = [
                events_pb2.ReplyDelivered(
                    workspace_id=str(ws.id),
                    reply_id=reply,
                    conversation_id=conversation,
                    platform_message_id=f"p{n}",
                ).SerializeToString()
                for n, (conversation, reply) in enumerate(replies)
            ]
            await publish(conn, "reply.delivered", [ws.id] * len(delivered), delivered)
    finally:
        await engine.dispose()
    now = datetime.now(UTC)
    expected = [{"Agent": "Agent", "Answers": 2}, {"Agent": "Lead", "Answers": 1}]

    async def every_answer_counted() -> bool:
        return (
            await table(triage, lead, AGENTS, now - timedelta(hours=6), now + timedelta(minutes=5))
            == expected
        )

    await wait_until(every_answer_counted, what="the table counts the three delivered answers")
    last_month = await table(
        triage, lead, AGENTS, now - timedelta(days=30), now - timedelta(days=20)
    )
    assert last_month == []


async def test_the_incidents_table_lists_the_brands_open_incidents(
    aiohttp_client: Any, database_url: str
) -> None:
    triage, ws, lead, conversations = await brand(aiohttp_client, database_url)
    now = datetime.now(UTC)
    assert await table(triage, lead, INCIDENTS, now - timedelta(hours=1), now) == []
    await make_incident(database_url, ws.id, conversations, "fibre outage in Lyon")
    (row,) = await table(triage, lead, INCIDENTS, now - timedelta(hours=1), now)
    assert {k: v for k, v in row.items() if k != "Opened"} == {
        "Incident": "fibre outage in Lyon",
        "Kind": "customer",
        "People": 2,
        "Messages": 2,
    }
    assert datetime.fromisoformat(row["Opened"]) >= now - timedelta(minutes=5)
