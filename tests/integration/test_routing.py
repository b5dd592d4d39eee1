"""Routing against the real database: fair automatic assignment within capacities and
skills, nobody away or idle gets work, several workers never give a conversation twice, a
killed worker loses nothing; presence and assignment by hand through the API."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.infra.db import create_engine
from services.triage.access.store import create_api_token, create_user
from services.triage.app import create_app as create_triage
from services.triage.desk import store as desk
from services.triage.routing import store
from services.triage.routing.store import ROUTING_LOCK
from services.triage.routing.usecases import RoutingConfig
from services.triage.routing.worker import RoutingWorker
from tests.support.waiting import wait_until
from tests.support.world import bearer, make_workspace, triage_settings

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def agents(
    engine: AsyncEngine,
    ws: uuid.UUID,
    capacities: Sequence[int],
    presence: str = "available",
    at: datetime = T0,
    **skills: Any,
) -> list[uuid.UUID]:
    """Agents of the workspace with these maximums, present as ``presence`` since ``at``."""
    made = []
    async with engine.begin() as conn:
        for capacity in capacities:
            name = uuid.uuid4().hex[:8]
            user = await create_user(conn, ws, f"{name}@x.test", name, "agent")
            await store.set_skills(
                conn,
                ws,
                user,
                capacity,
                skills.get("languages", ()),
                skills.get("channels", ()),
            )
            await store.set_presence(conn, ws, user, presence, at)
            made.append(user)
        await store.save_settings(conn, ws, True, None, made[0])
    return made


async def waiting(
    engine: AsyncEngine,
    ws: uuid.UUID,
    count: int,
    first_id: int = 1,
    channel: str = "support",
    language: str | None = None,
) -> list[int]:
    """Open conversations needing an answer (the oldest most urgent), with a decided
    language when ``language`` is given."""
    ids = list(range(first_id, first_id + count))
    async with engine.begin() as conn:
        await conn.execute(
            text(
                """
            INSERT INTO triage.conversations (workspace_id, id, platform, channel, kind,
                                              needs_answer, priority, waiting_since)
            SELECT :ws, i, 'x', :channel, 'dm', true, 3,
                   CAST(:t0 AS timestamptz) - i * interval '1 s'
            FROM unnest(CAST(:ids AS bigint[])) AS i
            """
            ),
            {"ws": ws, "ids": ids, "channel": channel, "t0": T0},
        )
        if language is not None:
            await conn.execute(
                text(
                    """
                INSERT INTO triage.messages (workspace_id, id, conversation_id, direction, kind,
                                             text, created_at, received_at)
                SELECT :ws, i, i, 'inbound', 'dm', 'hello', :t0, :t0
                FROM unnest(CAST(:ids AS bigint[])) AS i;
                """
                ),
                {"ws": ws, "ids": ids, "t0": T0},
            )
            await conn.execute(
                text(
                    """
                INSERT INTO triage.decisions (workspace_id, message_id, needs_answer, intent,
                    abuse, language, priority, confidence, reasons, model_version, decided_at)
                SELECT :ws, i, true, 'question', false, :language, 3, 0.9, '{}', 't', :t0
                FROM unnest(CAST(:ids AS bigint[])) AS i
                """
                ),
                {"ws": ws, "ids": ids, "language": language, "t0": T0},
            )
            # As the intake writes them: the latest message and the language it was decided in.
            await conn.execute(
                text(
                    "UPDATE triage.conversations SET last_message_id = id, language = :language "
                    "WHERE workspace_id = :ws AND id = ANY(CAST(:ids AS bigint[]))"
                ),
                {"ws": ws, "ids": ids, "language": language},
            )
    return ids


async def rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def assignments(engine: AsyncEngine, ws: uuid.UUID) -> list[tuple[int, uuid.UUID]]:
    """(conversation, assignee) of every assignment the audit log holds."""
    found = await rows(
        engine,
        "SELECT conversation_id, detail->>'assignee' AS assignee FROM triage.audit_log "
        "WHERE workspace_id = :ws AND action = 'assigned' ORDER BY id",
        ws=ws,
    )
    return [(r.conversation_id, uuid.UUID(r.assignee)) for r in found]


def worker(engine: AsyncEngine, clock: list[datetime], batch: int = 100) -> RoutingWorker:
    config = RoutingConfig(idle=timedelta(minutes=15), max_open_claims=5, batch_size=batch)
    return RoutingWorker(engine, config, clock=lambda: clock[0])


async def test_a_thousand_assignments_share_out_by_capacity_least_recently_assigned_first(
    engine: AsyncEngine, database_url: str
) -> None:
    ws = (await make_workspace(database_url)).id
    capacities = (2, 3, 4, 5, 6)
    team = await agents(engine, ws, capacities)
    await waiting(engine, ws, 1000)
    clock = [T0]
    routing = worker(engine, clock)
    for _ in range(60):
        await routing.step()
        # Every agent answers what they hold; the next round refills each desk.
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE triage.conversations SET status = 'resolved' "
                    "WHERE workspace_id = :ws AND assignee_id IS NOT NULL AND status = 'open'"
                ),
                {"ws": ws},
            )
        clock[0] += timedelta(seconds=1)
    made = await assignments(engine, ws)
    assert len(made) == 1000
    assert len({c for c, _ in made}) == 1000, "a conversation was assigned twice"
    counts = Counter(user for _, user in made)
    for user, capacity in zip(team, capacities, strict=True):
        ideal = 1000 * capacity / sum(capacities)
        assert abs(counts[user] - ideal) <= 1, (capacity, counts[user], ideal)
    # Within a round, one each before anyone's second: the first five went to five agents.
    assert len({user for _, user in made[:5]}) == 5


async def test_languages_and_channels_are_honoured(engine: AsyncEngine, database_url: str) -> None:
    ws = (await make_workspace(database_url)).id
    [french] = await agents(engine, ws, [10], languages=["fr"])
    [english_dm] = await agents(engine, ws, [10], languages=["en"], channels=["dm-en"])
    fr_public = await waiting(engine, ws, 3, first_id=1, channel="public", language="fr")
    en_dm = await waiting(engine, ws, 3, first_id=11, channel="dm-en", language="en")
    en_public = await waiting(engine, ws, 3, first_id=21, channel="public", language="en")
    await worker(engine, [T0]).step()
    made = dict(await assignments(engine, ws))
    assert {c: made.get(c) for c in fr_public} == dict.fromkeys(fr_public, french)
    assert {c: made.get(c) for c in en_dm} == dict.fromkeys(en_dm, english_dm)
    assert not set(en_public) & set(made), "nobody speaks English on the public channel"


async def test_an_away_or_idle_agent_gets_nothing(engine: AsyncEngine, database_url: str) -> None:
    ws = (await make_workspace(database_url)).id
    [away] = await agents(engine, ws, [5], presence="away")
    [idle] = await agents(engine, ws, [5], at=T0 - timedelta(minutes=16))
    await waiting(engine, ws, 4)
    await worker(engine, [T0]).step()
    assert await assignments(engine, ws) == []
    async with engine.begin() as conn:
        await store.set_presence(conn, ws, away, "available", T0)
    await worker(engine, [T0]).step()
    made = await assignments(engine, ws)
    assert {user for _, user in made} == {away}
    assert idle not in {user for _, user in made}


async def test_three_workers_at_once_never_assign_twice(
    engine: AsyncEngine, database_url: str
) -> None:
    """More work than room (5 agents x 60 < 400): each worker's round races the others for
    the same agents' last places and the same conversations."""
    ws = (await make_workspace(database_url)).id
    team = await agents(engine, ws, [60] * 5)
    await waiting(engine, ws, 400)
    # A person claims by hand meanwhile: the workers must neither wait for nor take theirs.
    [person] = await agents(engine, ws, [1], presence="offline")
    engines = [create_engine(database_url, 2) for _ in range(3)]
    claimed: list[int] = []
    clock = [T0]

    async def run(e: AsyncEngine) -> None:
        routing = worker(e, clock, batch=7)
        for _ in range(300):
            await routing.step()
            if len(await assignments(e, ws)) >= 300:
                return

    async def claim_by_hand() -> None:
        for _ in range(20):
            async with engine.begin() as conn:
                got = await desk.claim_next(conn, ws, person, T0)
            if got is not None:
                claimed.append(got)

    try:
        await asyncio.gather(*(run(e) for e in engines), claim_by_hand())
    finally:
        for e in engines:
            await e.dispose()
    made = await assignments(engine, ws)
    assert max(Counter(c for c, _ in made).values()) == 1, "a conversation went to two agents"
    assert not {c for c, _ in made} & set(claimed), "a worker took a person's claim"
    assert Counter(user for _, user in made) == dict.fromkeys(team, 60), (
        "an agent got more than their room (or less than their share)"
    )
    held = await rows(
        engine,
        "SELECT assignee_id, count(*) AS n FROM triage.conversations WHERE workspace_id = :ws "
        "AND assignee_id IS NOT NULL GROUP BY assignee_id",
        ws=ws,
    )
    assert {r.assignee_id: r.n for r in held} == {
        **dict.fromkeys(team, 60),
        **({person: len(claimed)} if claimed else {}),
    }


async def test_a_worker_killed_mid_round_loses_nothing(
    engine: AsyncEngine, database_url: str
) -> None:
    ws = (await make_workspace(database_url)).id
    await agents(engine, ws, [100] * 5)
    await waiting(engine, ws, 500)
    clock = [T0]
    task = asyncio.create_task(worker(engine, clock, batch=500).step())

    async def assigning() -> bool:  # the round holds the workspace's lock (or has ended)
        held = await rows(
            engine,
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = :cls AND granted",
            cls=ROUTING_LOCK,
        )
        return bool(held) or task.done()

    await wait_until(assigning, what="the round assigning", every=0.001)
    assert not task.done(), "the round ended before it could be killed"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await assignments(engine, ws) == [], "a killed round left half its work"
    [[assigned]] = await rows(
        engine,
        "SELECT count(*) FROM triage.conversations WHERE workspace_id = :ws "
        "AND assignee_id IS NOT NULL",
        ws=ws,
    )
    assert assigned == 0
    await worker(engine, clock, batch=500).step()
    made = await assignments(engine, ws)
    assert sorted(c for c, _ in made) == list(range(1, 501))


# --- The API --------------------------------------------------------------------------------


async def user_with_token(database_url: str, ws: uuid.UUID, role: str) -> tuple[uuid.UUID, str]:
    e = create_engine(database_url, 1)
    token = f"eca_{uuid.uuid4().hex}{uuid.uuid4().hex[:11]}"
    try:
        async with e.begin() as conn:
            user = await create_user(conn, ws, f"{role}-{token[-6:]}@x.test", role.title(), role)
            await create_api_token(conn, ws, user, token, "test")
    finally:
        await e.dispose()
    return user, token


@pytest.fixture
async def api(aiohttp_client: Any, database_url: str) -> Any:
    return await aiohttp_client(create_triage(triage_settings(database_url, run_consumer=False)))


async def test_presence_is_set_by_each_and_read_by_leads(
    api: Any, engine: AsyncEngine, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    _, lead = await user_with_token(database_url, ws.id, "lead")
    put = await api.put(
        "/v1/me/presence", headers=bearer(ws.agent_token), json={"presence": "away"}
    )
    assert put.status == 200, await put.text()
    wrong = await api.put(
        "/v1/me/presence", headers=bearer(ws.agent_token), json={"presence": "busy"}
    )
    assert wrong.status == 422
    mine = await (await api.get("/v1/me/presence", headers=bearer(ws.agent_token))).json()
    assert mine["presence"] == "away", "a desk opened again starts as the agent left it"
    never = await (await api.get("/v1/me/presence", headers=bearer(lead))).json()
    assert never["presence"] == "offline"
    assert (await api.get("/v1/team/presence", headers=bearer(ws.agent_token))).status == 403
    team = await (await api.get("/v1/team/presence", headers=bearer(lead))).json()
    states = {m["role"]: m["presence"] for m in team["members"]}
    assert states == {"agent": "away", "lead": "offline"}, "never set: offline"
    switched = await api.put(
        "/v1/routing", headers=bearer(lead), json={"auto_assign": True, "max_open_claims": 3}
    )
    assert (await switched.json())["auto_assign"] is True
    assert (await api.put("/v1/routing", headers=bearer(ws.agent_token), json={})).status == 403


async def test_assign_by_hand_names_the_holder_and_agents_hand_over_only_theirs(
    api: Any, engine: AsyncEngine, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    other = await make_workspace(database_url, "Other care")
    lead_id, lead = await user_with_token(database_url, ws.id, "lead")
    mate_id, mate = await user_with_token(database_url, ws.id, "agent")
    stranger_id, _ = await user_with_token(database_url, other.id, "agent")
    await waiting(engine, ws.id, 2)
    await waiting(engine, other.id, 1, first_id=50)

    given = await api.post(
        "/v1/conversations/1/assign", headers=bearer(lead), json={"user_id": str(mate_id)}
    )
    assert given.status == 200, await given.text()
    assert (await given.json())["assignee_name"] == "Agent"
    assert (await given.json())["how"] == "lead"
    # The agent who holds nothing of conversation 1 may not move it.
    refused = await api.post(
        "/v1/conversations/1/assign",
        headers=bearer(ws.agent_token),
        json={"user_id": str(lead_id)},
    )
    assert refused.status == 403
    handed = await api.post(
        "/v1/conversations/1/assign",
        headers=bearer(mate),
        json={"user_id": str(lead_id), "note": "Billing question, yours"},
    )
    assert handed.status == 200, await handed.text()
    assert (await handed.json())["assignee_id"] == str(lead_id)
    view = await (await api.get("/v1/conversations/1", headers=bearer(lead))).json()
    assert view["assignee_id"] == str(lead_id)
    assert [n["text"] for n in view["notes"]] == ["Billing question, yours"]
    # Another workspace's conversation or user: not found.
    foreign = await api.post(
        "/v1/conversations/50/assign", headers=bearer(lead), json={"user_id": str(mate_id)}
    )
    stranger = await api.post(
        "/v1/conversations/2/assign", headers=bearer(lead), json={"user_id": str(stranger_id)}
    )
    assert foreign.status == stranger.status == 404
    metrics = await (await api.get("/metrics")).text()
    assert 'ecoute_assignments_total{outcome="lead"} 1.0' in metrics
    assert 'ecoute_assignments_total{outcome="handover"} 1.0' in metrics
    audit = await rows(
        engine,
        "SELECT detail->>'how' AS how FROM triage.audit_log WHERE workspace_id = :ws "
        "AND action = 'assigned' ORDER BY id",
        ws=ws.id,
    )
    assert [r.how for r in audit] == ["lead", "handover"]


async def test_a_batch_claim_takes_the_free_and_leaves_a_live_lease_alone(
    engine: AsyncEngine, database_url: str
) -> None:
    """The round's one-statement claim: the desk's lease for each free conversation (or one
    whose lease ran out), never one another agent holds."""
    ws = (await make_workspace(database_url)).id
    first, second = await agents(engine, ws, [5, 5])
    free, held, lapsed = await waiting(engine, ws, 3)
    async with engine.begin() as conn:
        assert await desk.claim(conn, ws, held, second, T0) == "claimed"
        assert await desk.claim(conn, ws, lapsed, second, T0 - desk.CLAIM_LEASE * 2) == "claimed"
    async with engine.begin() as conn:
        pairs = [(free, first), (held, first), (lapsed, first)]
        assert await desk.claim_many(conn, ws, pairs, T0) == {free, lapsed}
        assert await desk.claim_many(conn, ws, [], T0) == set()
    holders = await rows(
        engine,
        "SELECT id, assignee_id, claim_expires_at FROM triage.conversations "
        "WHERE workspace_id = :ws ORDER BY id",
        ws=ws,
    )
    assert [(r.id, r.assignee_id, r.claim_expires_at) for r in holders] == [
        (free, first, T0 + desk.CLAIM_LEASE),
        (held, second, T0 + desk.CLAIM_LEASE),
        (lapsed, first, T0 + desk.CLAIM_LEASE),
    ]
