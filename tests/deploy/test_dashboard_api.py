"""The Care dashboard's per-agent table, queried as Grafana's Infinity datasource queries it:
the panel's URL, parameters, root selector and columns against the real triage API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ecoute.v1 import events_pb2
from services.inbox.app import create_app as create_inbox
from services.infra.db import create_engine
from services.infra.events import publish
from services.triage.app import create_app as create_triage
from tests.support.waiting import wait_until
from tests.support.world import (
    bearer,
    inbox_settings,
    make_user,
    make_workspace,
    message,
    triage_settings,
)
from tools.embedded_pg import ROOT

CARE = ROOT / "deploy" / "k8s" / "base" / "dashboards" / "care.json"


def grafana_iso(moment: datetime) -> str:
    """``${__from:date:iso}`` as Grafana renders it: UTC, milliseconds, a Z."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


async def table(triage: Any, token: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """The rows the "Answers per agent" panel shows for that time range, the datasource
    configured with ``token`` as Bearer (a lead of the brand's workspace)."""
    (panel,) = [
        p for p in json.loads(CARE.read_text())["panels"] if p["title"] == "Answers per agent"
    ]
    (target,) = panel["targets"]
    variables = {"${__from:date:iso}": grafana_iso(since), "${__to:date:iso}": grafana_iso(until)}
    params = {
        p["key"]: variables.get(p["value"], p["value"]) for p in target["url_options"]["params"]
    }
    response = await triage.get(target["url"], params=params, headers=bearer(token))
    assert response.status == 200, await response.text()
    items = (await response.json())[target["root_selector"]]
    return [{c["text"]: item[c["selector"]] for c in target["columns"]} for item in items]


async def test_the_per_agent_table_shows_each_agents_delivered_answers_in_the_range(
    aiohttp_client: Any, database_url: str
) -> None:
    inbox = await aiohttp_client(create_inbox(inbox_settings(database_url, run_workers=False)))
    triage = await aiohttp_client(create_triage(triage_settings(database_url)))
    ws = await make_workspace(database_url)
    lead = await make_user(database_url, ws.id, "lead")
    response = await inbox.post(
        "/v1/ingest",
        headers=bearer(ws.ingest_token),
        json={
            "messages": [
                message("t1", "My internet has been down since this morning", author="1"),
                message("t2", "My parcel never arrived, where is it?", author="2"),
            ]
        },
    )
    first, second = [i["conversation_id"] for i in (await response.json())["items"]]

    async def in_the_desk() -> bool:
        for conversation in (first, second):
            view = await triage.get(f"/v1/conversations/{conversation}", headers=bearer(lead))
            if view.status != 200 or not (await view.json())["messages"]:
                return False
        return True

    await wait_until(in_the_desk, what="triage has both conversations")
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
            await table(triage, lead, now - timedelta(hours=6), now + timedelta(minutes=5))
            == expected
        )

    await wait_until(every_answer_counted, what="the table counts the three delivered answers")
    last_month = await table(triage, lead, now - timedelta(days=30), now - timedelta(days=20))
    assert last_month == []
