"""End to end: a burst ingested through the API opens one incident with the right members."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from services.inbox.app import create_app as create_inbox
from services.infra.db import create_engine
from services.triage.app import create_app as create_triage
from services.triage.incidents.detector import IncidentDetector, IncidentNews
from tests.integration.test_incidents_desk import events, subscribe
from tests.support.world import (
    ago,
    bearer,
    inbox_settings,
    ingest,
    make_workspace,
    message,
    triage_settings,
)

OUTAGE = [
    "No internet since this morning in Lyon, the box is dead. Outage?",
    "Panne internet à Lyon depuis ce matin, la box ne répond plus, vous faites quoi ?",
    "internet down in Lyon again, box blinking red, please fix",
    "Toujours pas d'internet à Lyon, panne générale ? Aucune info",
    "Lyon internet outage since 8am, box dead, when will it be back?",
    "panne internet lyon, box éteinte depuis ce matin, c'est quand le retour ?",
]
FLOOD = [
    "WHERE IS MY INTERNET?? Lyon outage, box dead since this morning",
    "still no internet in Lyon, box dead, answer me!!",
    "internet outage Lyon, my box is dead, I am waiting",
    "Lyon internet down, box dead, nobody answers",
]
ORDINARY = [
    "How do I change the email address on my account?",
    "My parcel was delivered to the wrong address yesterday, can you help?",
    "Can I get a refund for the concert tickets I bought last week?",
    "Je voudrais résilier mon abonnement mobile, comment faire ?",
    "My invoice shows the same charge twice this month, why?",
]
LATER = "Is there an internet outage in Lyon? My box has been dead all morning"
LIMIT_SECONDS = 60.0  # the product's target; the CPU is shared, so no tighter


@pytest.fixture
async def services(aiohttp_client: Any, database_url: str) -> tuple[Any, Any]:
    inbox = await aiohttp_client(create_inbox(inbox_settings(database_url)))
    triage = await aiohttp_client(
        create_triage(triage_settings(database_url, incident_tick_seconds=0.2))
    )
    return inbox, triage


async def rows_when(database_url: str, sql: str, ready: Any, **params: Any) -> list[Any]:
    """The query's rows once ``ready(rows)`` holds, within the product's 60 s target."""
    engine = create_engine(database_url, 1)
    deadline = time.monotonic() + LIMIT_SECONDS
    rows: list[Any] = []
    try:
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                rows = list((await conn.execute(text(sql), params)).all())
            if ready(rows):
                return rows
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
    raise AssertionError(f"not reached within {LIMIT_SECONDS} s: {rows}")


MEMBERS = """
    SELECT msg.text, m.flooding, m.author, i.id, i.kind, i.label, i.author_count,
           i.message_count
    FROM triage.incident_members AS m
    JOIN triage.incidents AS i ON i.workspace_id = m.workspace_id AND i.id = m.incident_id
    JOIN triage.messages AS msg ON msg.workspace_id = m.workspace_id AND msg.id = m.message_id
    WHERE m.workspace_id = :ws
"""


async def test_a_burst_through_the_ingest_api_opens_one_incident_that_then_grows(
    services: tuple[Any, Any], database_url: str
) -> None:
    inbox, triage = services
    await subscribe(database_url, "incident.opened", "incident.grown")
    ws = await make_workspace(database_url)
    batch = [
        message(f"o{i}", t, author=str(100 + i), created_at=ago(seconds=60 - i))
        for i, t in enumerate(OUTAGE)
    ]
    batch += [
        message(f"f{i}", t, author="666", created_at=ago(seconds=50 - i))
        for i, t in enumerate(FLOOD)
    ]
    batch += [
        message(f"n{i}", t, author=str(200 + i), created_at=ago(seconds=40 - i))
        for i, t in enumerate(ORDINARY)
    ]
    await ingest(inbox, ws.ingest_token, *batch)

    members = await rows_when(database_url, MEMBERS, lambda r: len(r) >= 8, ws=ws.id)
    assert {r.id for r in members} == {members[0].id}, "one incident"
    assert members[0].kind == "customer"
    assert {r.text for r in members} <= set(OUTAGE) | set(FLOOD)
    assert len({r.text for r in members} & set(OUTAGE)) >= 5
    assert {r.author for r in members if r.flooding} == {"user666"}
    assert all(r.flooding for r in members if r.author == "user666")
    assert not any(r.flooding for r in members if r.author != "user666")
    voices = {r.author for r in members}
    assert members[0].author_count == len(voices)
    assert {"internet", "lyon"} <= set(members[0].label.split())

    listed = await triage.get("/v1/incidents?status=open", headers=bearer(ws.agent_token))
    assert listed.status == 200, await listed.text()

    await ingest(
        inbox, ws.ingest_token, message("late", LATER, author="300", created_at=ago(seconds=1))
    )
    grown = await rows_when(database_url, MEMBERS, lambda r: LATER in {x.text for x in r}, ws=ws.id)
    assert {r.id for r in grown} == {members[0].id}
    published = await rows_when(
        database_url,
        "SELECT topic FROM events.outbox WHERE consumer = 'incident-test' ORDER BY id",
        lambda r: [x.topic for x in r][-1:] == ["incident.grown"],
    )
    assert published[0].topic == "incident.opened"
    opened = [e for topic, e in await events(database_url) if topic == "incident.opened"]
    assert opened[0].incident_id == members[0].id
    assert len(opened[0].conversation_ids) == len({*(r.text for r in members)})
    history = await rows_when(
        database_url,
        "SELECT change FROM triage.incident_history WHERE workspace_id = :ws ORDER BY id",
        lambda r: len(r) >= 2,
        ws=ws.id,
    )
    assert [r.change for r in history][:2] == ["opened", "grown"]
    changed = await rows_when(
        database_url,
        "SELECT count(*) AS n FROM triage.changes WHERE workspace_id = :ws AND change = 'incident'",
        lambda r: r[0].n >= 1,
        ws=ws.id,
    )
    assert changed[0].n >= len(members)


@pytest.fixture
async def quiet_services(aiohttp_client: Any, database_url: str) -> tuple[Any, Any]:
    """The services with the built-in detector asleep: the test runs its own detectors."""
    inbox = await aiohttp_client(create_inbox(inbox_settings(database_url)))
    triage = await aiohttp_client(
        create_triage(triage_settings(database_url, incident_tick_seconds=3600))
    )
    return inbox, triage


async def test_two_replicas_open_one_incident_which_closes_after_the_quiet_period(
    quiet_services: tuple[Any, Any], database_url: str
) -> None:
    inbox, _ = quiet_services
    await subscribe(database_url, "incident.opened", "incident.closed")
    ws = await make_workspace(database_url)
    await ingest(
        inbox,
        ws.ingest_token,
        *[
            message(f"o{i}", t, author=str(100 + i), created_at=ago(seconds=60 - i))
            for i, t in enumerate(OUTAGE)
        ],
    )
    await rows_when(
        database_url,
        "SELECT message_id FROM triage.incident_signals WHERE workspace_id = :ws",
        lambda r: len(r) == len(OUTAGE),
        ws=ws.id,
    )
    engines = [create_engine(database_url, 2), create_engine(database_url, 2)]
    try:
        replicas = [IncidentDetector(engine) for engine in engines]
        decided = await asyncio.gather(*(r.detect(ws.id) for r in replicas))
        assert sorted(decided) in ([0, 1], [1, 1])  # the second one skipped or found it done
        incidents = await rows_when(
            database_url,
            "SELECT id, status, message_count FROM triage.incidents WHERE workspace_id = :ws",
            lambda r: len(r) >= 1,
            ws=ws.id,
        )
        assert [(r.status, r.message_count) for r in incidents] == [("open", len(OUTAGE))]

        later = datetime.now(UTC) + timedelta(days=3)
        closed: list[IncidentNews] = []
        after = IncidentDetector(engines[0], clock=lambda: later, on_news=closed.append)
        await after.tick()
        assert [(n.change, n.message_count) for n in closed] == [("closed", len(OUTAGE))]
        async with engines[0].connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT status, close_reason FROM triage.incidents WHERE workspace_id = :ws"
                    ),
                    {"ws": ws.id},
                )
            ).one()
            left = await conn.scalar(
                text("SELECT count(*) FROM triage.incident_signals WHERE workspace_id = :ws"),
                {"ws": ws.id},
            )
        assert (row.status, row.close_reason) == ("closed", "quiet")
        assert left == 0, "signals older than any baseline are pruned"
    finally:
        for engine in engines:
            await engine.dispose()
    assert [topic for topic, _ in await events(database_url)] == [
        "incident.opened",
        "incident.closed",
    ]


async def test_a_tick_judges_only_the_latest_signals_of_a_flooded_window(
    services: tuple[Any, Any], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bounded work per tick: the latest ``WINDOW_LIMIT`` signals, in time order."""
    from services.triage.incidents import store as incident_store

    inbox, _ = services
    ws = await make_workspace(database_url)
    await ingest(
        inbox,
        ws.ingest_token,
        *[
            message(f"w{n}", text, author=f"p{n}", created_at=ago(minutes=10 - n))
            for n, text in enumerate(ORDINARY)
        ],
    )
    await rows_when(
        database_url,
        "SELECT message_id FROM triage.incident_signals WHERE workspace_id = :ws",
        lambda rows: len(rows) == len(ORDINARY),
        ws=ws.id,
    )
    monkeypatch.setattr(incident_store, "WINDOW_LIMIT", 3)
    engine = create_engine(database_url, 1)
    try:
        async with engine.connect() as conn:
            now = datetime.now(UTC)
            window = await incident_store.signal_window(conn, ws.id, now - timedelta(hours=1), now)
    finally:
        await engine.dispose()
    assert [s.at for s in window] == sorted(s.at for s in window)
    assert len(window) == 3
    texts = await rows_when(
        database_url,
        "SELECT m.text FROM triage.messages AS m WHERE m.workspace_id = :ws "
        "AND m.id = ANY(:ids) ORDER BY m.created_at",
        lambda rows: len(rows) == 3,
        ws=ws.id,
        ids=[s.message_id for s in window],
    )
    assert [r.text for r in texts] == ORDINARY[-3:]
