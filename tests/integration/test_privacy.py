"""Data protection end to end: erase a person from both services, export, retention.

The inbox and triage run with their real consumers, so erasures and purges travel through
the outbox. Every text-holding column of the inbox, triage and events schemas is searched
afterwards for the erased person's words and profile.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.inbox.app import create_app as create_inbox
from services.inbox.consumer import inbox_consumer
from services.inbox.metrics import InboxMetrics
from services.infra.db import create_engine
from services.triage.app import create_app as create_triage
from services.triage.privacy.store import CLAIM_IDLE, claim_idle
from tests.support.waiting import wait_until
from tests.support.world import (
    bearer,
    inbox_settings,
    ingest,
    make_user,
    make_workspace,
    triage_settings,
)

# What Marie wrote and who she is: none of it may survive her erasure, anywhere.
MARIE_WORDS = ("zorglub", "quetzalcoatl", "brontosaure", "xylophage")
MARIE_NAME = "Marie Dupontel"
MARIE_X_ID = "9081726354"
MARIE_X_HANDLE = "MarieDupontel"
MARIE_MASTODON = "mariedup@piaille.fr"
PAUL_WORDS = "my parcel from tuesday is still missing, tracking says nothing"
NOW = datetime.now(UTC).replace(microsecond=0)


def at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")


def item(
    external_id: str,
    words: str,
    *,
    author: tuple[str, str, str],
    platform: str = "x",
    channel: str = "support-fr",
    kind: str = "mention",
    minutes_ago: float = 30,
    **extra: Any,
) -> dict[str, Any]:
    author_id, handle, name = author
    return {
        "platform": platform,
        "channel": channel,
        "external_id": external_id,
        "kind": kind,
        "author": {"external_id": author_id, "handle": handle, "display_name": name},
        "text": words,
        "created_at": at(minutes_ago),
        **extra,
    }


MARIE_X = (MARIE_X_ID, MARIE_X_HANDLE, MARIE_NAME)
MARIE_M = ("110000000000000777", MARIE_MASTODON, MARIE_NAME)
PAUL = ("5551212", "paul_k", "Paul Kerouac")
BRAND_X = ("1000", "acme", "Acme")
BRAND_M = ("2000", "acme@mastodon.social", "Acme")


def marie_and_paul() -> list[dict[str, Any]]:
    """Marie on X (a public thread Paul joins) and on Mastodon (a DM), with the brand's
    answers to her; Paul's own post elsewhere."""
    return [
        item(
            "x-1",
            f"My {MARIE_WORDS[0]} router is broken since yesterday, nothing works, help!",
            author=MARIE_X,
            minutes_ago=50,
            raw={"user": {"name": MARIE_NAME, "screen_name": MARIE_X_HANDLE}},
        ),
        item(
            "x-2",
            f"Still waiting, my {MARIE_WORDS[1]} account is blocked and I cannot pay",
            author=MARIE_X,
            minutes_ago=45,
            in_reply_to="x-1",
        ),
        item(
            "x-3",
            "same problem here, no internet at all since this morning",
            author=PAUL,
            minutes_ago=47,
            in_reply_to="x-1",
        ),
        item(
            "x-4",
            "Sorry Marie Dupontel, we are looking at it",
            author=BRAND_X,
            direction="out",
            kind="reply",
            minutes_ago=40,
            in_reply_to="x-1",
        ),
        item(
            "x-9",
            PAUL_WORDS,
            author=PAUL,
            minutes_ago=20,
        ),
        item(
            "m-1",
            f"Bonjour, ma facture {MARIE_WORDS[2]} est fausse, pouvez-vous m'aider ?",
            author=MARIE_M,
            platform="mastodon",
            channel="support-masto",
            kind="dm",
            minutes_ago=35,
            thread_id="dm-77",
        ),
        item(
            "m-2",
            f"Bonjour Marie, envoyez-nous la référence {MARIE_WORDS[3]}",
            author=BRAND_M,
            platform="mastodon",
            channel="support-masto",
            kind="dm",
            direction="out",
            minutes_ago=34,
            thread_id="dm-77",
        ),
    ]


MARIE = [
    {"platform": "x", "author_id": MARIE_X_ID},
    {"platform": "mastodon", "handle": "@MarieDup@piaille.fr"},
]
STORED = len(marie_and_paul())


@dataclass
class Stage:
    inbox: Any
    triage: Any
    engine: AsyncEngine
    database_url: str
    ws: Any
    admin: str
    other: Any
    other_admin: str

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())

    async def value(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar_one()

    async def ingest(self, token: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return await ingest(self.inbox, token, *messages)

    async def until(self, sql: str, expected: Any, **params: Any) -> None:
        async def reached() -> bool:
            return bool(await self.value(sql, **params) == expected)

        await wait_until(reached, what=f"{sql} giving {expected}")


async def run_inbox_consumer(
    database_url: str, stop: asyncio.Event, metrics: InboxMetrics | None
) -> None:
    engine = create_engine(database_url, 2)
    try:
        await inbox_consumer(engine, database_url, metrics).run(stop)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def inbox_consuming(
    database_url: str, metrics: InboxMetrics | None = None
) -> AsyncIterator[None]:
    """The inbox's real consumer (reply requests, erasures, purges) in the background."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_inbox_consumer(database_url, stop, metrics))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


async def build_stage(aiohttp_client: Any, database_url: str, **triage: Any) -> Stage:
    inbox = await aiohttp_client(create_inbox(inbox_settings(database_url, run_workers=False)))
    desk = await aiohttp_client(create_triage(triage_settings(database_url, **triage)))
    ws = await make_workspace(database_url, "Acme care")
    other = await make_workspace(database_url, "Other brand")
    return Stage(
        inbox,
        desk,
        create_engine(database_url, 2),
        database_url,
        ws,
        await make_user(database_url, ws.id, "admin"),
        other,
        await make_user(database_url, other.id, "admin"),
    )


@pytest.fixture
async def stage(aiohttp_client: Any, database_url: str) -> AsyncIterator[Stage]:
    built = await build_stage(aiohttp_client, database_url)
    yield built
    await built.engine.dispose()


async def seeded(stage: Stage) -> None:
    """Marie, Paul and the brand in the workspace; Marie, the same X account, in another
    workspace (another brand's data); all triaged; an agent's reply and note to Marie."""
    await stage.ingest(stage.ws.ingest_token, marie_and_paul())
    await stage.ingest(
        stage.other.ingest_token,
        [item("x-1", f"{MARIE_WORDS[0]} at the other brand", author=MARIE_X)],
    )
    await stage.until("SELECT count(*) FROM triage.messages", STORED + 1)
    cid = await stage.value(
        "SELECT conversation_id FROM triage.messages WHERE workspace_id = :ws AND text LIKE :t",
        ws=stage.ws.id,
        t=f"%{MARIE_WORDS[0]}%",
    )
    agent = bearer(stage.ws.agent_token)
    assert (await stage.triage.post(f"/v1/conversations/{cid}/claim", headers=agent)).status == 200
    reply = await stage.triage.post(
        f"/v1/conversations/{cid}/replies",
        headers=agent,
        json={"text": f"Hello {MARIE_NAME}, your {MARIE_WORDS[1]} case is ours"},
    )
    assert reply.status == 202, await reply.text()
    note = await stage.triage.post(
        f"/v1/conversations/{cid}/notes",
        headers=agent,
        json={"text": f"{MARIE_NAME} called twice about {MARIE_WORDS[0]}"},
    )
    assert note.status == 201
    # The incident detector's rows for Marie's and Paul's messages (its code is elsewhere).
    async with stage.engine.begin() as conn:
        await conn.execute(
            text(
                """
            WITH opened AS (
                INSERT INTO triage.incidents (workspace_id, kind, label, terms, first_seen,
                                              opened_at, last_seen, message_count)
                VALUES (:ws, 'customer', 'internet down', ARRAY['internet', 'down'],
                        now(), now(), now(), 2)
                RETURNING id
            )
            INSERT INTO triage.incident_members (workspace_id, incident_id, message_id,
                                                 conversation_id, author, platform, language, at)
            SELECT :ws, opened.id, m.id, m.conversation_id, m.author_handle, 'x', 'en', now()
            FROM opened, triage.messages AS m
            WHERE m.workspace_id = :ws AND m.direction = 'in'
              AND (m.text LIKE :marie OR m.text LIKE 'same problem%')
            """
            ),
            {"ws": stage.ws.id, "marie": f"%{MARIE_WORDS[1]}%"},
        )
        await conn.execute(
            text(
                """
            INSERT INTO triage.incident_signals (workspace_id, message_id, conversation_id,
                                                 author, platform, language, abuse, at, sketch,
                                                 terms)
            SELECT workspace_id, id, conversation_id, author_handle, 'x', 'en', false, now(),
                   ARRAY[1, 2], string_to_array(lower(text), ' ')
            FROM triage.messages WHERE workspace_id = :ws AND direction = 'in'
            ON CONFLICT DO NOTHING  -- the consumer already signalled those needing an answer
            """
            ),
            {"ws": stage.ws.id},
        )


TEXT_TYPES = ("text", "character varying", "jsonb", "json", "ARRAY", "bytea")


async def pauls_messages_untouched(stage: Stage) -> int:
    """Paul, who shares a conversation with Marie, keeps both his messages in triage."""
    pauls = await stage.rows(
        "SELECT text, author_handle FROM triage.messages WHERE workspace_id = :ws "
        "AND author_handle = 'paul_k' ORDER BY id",
        ws=stage.ws.id,
    )
    assert [tuple(r) for r in pauls] == [
        ("same problem here, no internet at all since this morning", "paul_k"),
        (PAUL_WORDS, "paul_k"),
    ]
    return len(pauls)


async def occurrences(
    stage: Stage,
    needles: list[str],
    skip: frozenset[str] = frozenset(),
    workspace: uuid.UUID | None = None,
) -> dict[str, int]:
    """Rows of every text, JSON, array or byte column, in the inbox, triage and events
    schemas, that contain any needle (case-insensitive); {} when none does. Tables with a
    workspace are searched in ``workspace`` (default: the stage's), the others whole."""
    columns = await stage.rows(
        """
        SELECT c.table_schema, c.table_name, c.column_name, c.data_type,
               EXISTS (SELECT 1 FROM information_schema.columns AS w
                       WHERE w.table_schema = c.table_schema AND w.table_name = c.table_name
                         AND w.column_name = 'workspace_id') AS scoped
        FROM information_schema.columns AS c
        JOIN information_schema.tables AS t
          ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema IN ('inbox', 'triage', 'events') AND c.data_type = ANY(:types)
          AND t.table_type = 'BASE TABLE'
        ORDER BY 1, 2, 3
        """,
        types=list(TEXT_TYPES),
    )
    assert len(columns) >= 40, "the scan sees the schemas"
    patterns = [f"%{n.lower()}%" for n in needles]
    found: dict[str, int] = {}
    for c in columns:
        where = f"{c.table_schema}.{c.table_name}"
        if where in skip:
            continue
        value = (
            f"lower(encode({c.column_name}, 'escape'))"
            if c.data_type == "bytea"
            else f"lower(CAST({c.column_name} AS text))"
        )
        scope = " AND workspace_id = :ws" if c.scoped else ""
        n = await stage.value(
            f"SELECT count(*) FROM {where} WHERE {value} LIKE ANY(:patterns){scope}",
            patterns=patterns,
            ws=workspace or stage.ws.id,
        )
        if n:
            found[f"{where}.{c.column_name}"] = n
    return found


async def erase(stage: Stage, identities: list[dict[str, str]]) -> dict[str, Any]:
    answer = await stage.triage.post(
        "/v1/privacy/erasures", json={"identities": identities}, headers=bearer(stage.admin)
    )
    assert answer.status == 202, await answer.text()
    return dict(await answer.json())


async def done(stage: Stage, request_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(200):
        answer = await stage.triage.get(
            f"/v1/privacy/erasures/{request_id}", headers=bearer(stage.admin)
        )
        assert answer.status == 200
        body = await answer.json()
        if body["state"] == "done":
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"the erasure never finished: {body}")


async def test_erasing_a_person_removes_their_words_and_profile_from_both_services(
    stage: Stage,
) -> None:
    async with inbox_consuming(stage.database_url):
        await seeded(stage)
        await stage.until(
            "SELECT count(*) FROM inbox.deliveries WHERE workspace_id = :ws", 1, ws=stage.ws.id
        )
        before = {
            table: await stage.value(f"SELECT count(*) FROM {table}")
            for table in (
                "inbox.messages",
                "inbox.authors",
                "triage.messages",
                "triage.decisions",
                "triage.conversations",
                "triage.sla_clocks",
                "triage.incident_members",
            )
        }
        # Agents linked her Mastodon account to her X one and wrote a note about her; the
        # inbox had asked a platform her name (the people panel's data).
        person, agent = f"/v1/people/x/{MARIE_X_ID}", bearer(stage.ws.agent_token)
        linked = await stage.triage.post(
            f"{person}/links",
            headers=agent,
            json={"platform": "mastodon", "handle": MARIE_MASTODON},
        )
        assert linked.status == 201, await linked.text()
        noted = await stage.triage.post(
            f"{person}/notes", headers=agent, json={"text": f"{MARIE_NAME} prefers DMs"}
        )
        assert noted.status == 201, await noted.text()
        async with stage.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE inbox.authors SET profile_checked_at = now() WHERE workspace_id = :ws"
                ),
                {"ws": stage.ws.id},
            )
        profile = [MARIE_NAME, MARIE_X_HANDLE, MARIE_MASTODON, MARIE_X_ID, "dm-77"]
        assert await occurrences(stage, [*MARIE_WORDS, *profile]), "the scan finds her first"

        request = await erase(stage, MARIE)
        assert request["state"] == "pending"
        assert request["services"]["triage"]["messages_erased"] >= 3
        finished = await done(stage, request["id"])

    assert finished["services"]["inbox"] == {
        "state": "done",
        "done_at": finished["services"]["inbox"]["done_at"],
        "messages_erased": 5,  # x-1, x-2, the brand's x-4 answering her, her DM and its answer
        "authors_erased": 2,
    }
    assert finished["services"]["triage"]["state"] == "done"
    assert finished["identities"] == [
        {"platform": "mastodon", "author_id": "", "handle": "mariedup@piaille.fr"},
        {"platform": "x", "author_id": MARIE_X_ID, "handle": ""},
    ]

    # Nothing of what she wrote or who she is remains, in any column of either service.
    assert await occurrences(stage, [*MARIE_WORDS, MARIE_NAME]) == {}
    # Her identities are named only where the request itself must name them.
    assert (
        await occurrences(
            stage,
            [MARIE_X_HANDLE, MARIE_MASTODON, MARIE_X_ID, "dm-77"],
            skip=frozenset({"triage.audit_log", "triage.erasure_requests"}),
        )
        == {}
    )
    other = await stage.rows(
        "SELECT m.text, a.handle, a.display_name, a.external_id FROM inbox.messages AS m "
        "JOIN inbox.authors AS a ON a.workspace_id = m.workspace_id AND a.id = m.author_id "
        "WHERE m.workspace_id = :ws",
        ws=stage.other.id,
    )
    assert [tuple(r) for r in other] == [
        (f"{MARIE_WORDS[0]} at the other brand", MARIE_X_HANDLE, MARIE_NAME, MARIE_X_ID)
    ]
    assert await stage.value(
        "SELECT text FROM triage.messages WHERE workspace_id = :ws", ws=stage.other.id
    ) == (f"{MARIE_WORDS[0]} at the other brand")

    # The people panel has nothing left of her; a cached profile is forgotten with its author.
    for table in ("triage.person_links", "triage.person_notes"):
        assert await stage.value(f"SELECT count(*) FROM {table}") == 0, table
    assert (
        await stage.value(
            "SELECT count(*) FROM inbox.authors WHERE erased_at IS NOT NULL "
            "AND profile_checked_at IS NOT NULL"
        )
        == 0
    )

    # Paul and the conversation he shares with her are untouched.
    pauls = await pauls_messages_untouched(stage)
    assert await stage.value(
        "SELECT display_name FROM inbox.authors WHERE workspace_id = :ws AND handle = 'paul_k'",
        ws=stage.ws.id,
    ) == ("Paul Kerouac")
    assert (
        await stage.value(
            "SELECT count(*) FROM triage.incident_signals WHERE workspace_id = :ws "
            "AND author = 'paul_k'",
            ws=stage.ws.id,
        )
        == pauls
    )

    # Rows stay as tombstones: counts, clocks and incidents keep their history.
    for table, n in before.items():
        assert await stage.value(f"SELECT count(*) FROM {table}") == n, table
    assert (
        await stage.value(
            "SELECT count(*) FROM triage.messages "
            "WHERE workspace_id = :ws AND erased_at IS NOT NULL",
            ws=stage.ws.id,
        )
        == 5
    )
    assert (
        await stage.value(
            "SELECT count(*) FROM triage.notes WHERE workspace_id = :ws", ws=stage.ws.id
        )
        == 0
    )
    assert await stage.value(
        "SELECT state || '/' || failure_reason FROM inbox.deliveries WHERE workspace_id = :ws",
        ws=stage.ws.id,
    ) == ("failed/erased")

    # A poller's overlap re-read (the same platform ids again) does not bring her back.
    again = await stage.ingest(stage.ws.ingest_token, marie_and_paul())
    assert {i["status"] for i in again} == {"duplicate"}
    await asyncio.sleep(0.3)
    assert await occurrences(stage, [*MARIE_WORDS, MARIE_NAME]) == {}
    assert await stage.value("SELECT count(*) FROM triage.messages") == before["triage.messages"]

    # The audit names who asked, when, and which identities; never what she wrote.
    audit = await stage.rows(
        "SELECT action, user_id, detail FROM triage.audit_log WHERE workspace_id = :ws "
        "AND action LIKE 'erasure%' ORDER BY id",
        ws=stage.ws.id,
    )
    assert [a.action for a in audit] == ["erasure_requested", "erasure_completed"]
    assert audit[0].user_id is not None
    assert audit[0].detail["identities"] == finished["identities"]
    metrics = await (await stage.triage.get("/metrics")).text()
    assert 'ecoute_privacy_erasures_total{stage="completed"} 1.0' in metrics


async def test_an_erasure_is_idempotent_and_shows_each_service_pending_then_done(
    stage: Stage,
) -> None:
    await stage.ingest(stage.ws.ingest_token, marie_and_paul())
    await stage.until("SELECT count(*) FROM triage.messages", STORED)
    first = await erase(stage, MARIE)
    # The same person named again, in another order and case, while the inbox has not
    # answered yet: the same request.
    again = await stage.triage.post(
        "/v1/privacy/erasures",
        json={"identities": [{**MARIE[1], "handle": "MARIEDUP@piaille.fr"}, MARIE[0]]},
        headers=bearer(stage.admin),
    )
    assert again.status == 200
    same = await again.json()
    assert same["id"] == first["id"]
    assert same["services"]["triage"]["state"] == "pending"
    assert same["services"]["inbox"] == {
        "state": "pending",
        "done_at": None,
        "messages_erased": None,
        "authors_erased": None,
    }
    # Triage erased its copy at once; the inbox still holds hers until its consumer runs.
    assert (
        await stage.value(
            "SELECT count(*) FROM triage.messages WHERE text LIKE :t", t=f"%{MARIE_WORDS[0]}%"
        )
        == 0
    )
    assert (
        await stage.value(
            "SELECT count(*) FROM inbox.messages WHERE text LIKE :t", t=f"%{MARIE_WORDS[0]}%"
        )
        == 1
    )
    async with inbox_consuming(stage.database_url):
        finished = await done(stage, first["id"])
    assert finished["services"]["inbox"]["messages_erased"] == 5
    assert await occurrences(stage, [*MARIE_WORDS, MARIE_NAME]) == {}
    listed = await stage.triage.get("/v1/privacy/erasures", headers=bearer(stage.admin))
    assert [r["id"] for r in (await listed.json())["items"]] == [first["id"]]
    assert (
        await stage.value("SELECT count(*) FROM events.subscription WHERE topic LIKE 'privacy.%'")
        == 3
    )


async def test_only_a_workspace_admin_erases_or_exports_and_bad_requests_say_why(
    stage: Stage, database_url: str
) -> None:
    lead = await make_user(database_url, stage.ws.id, "lead")
    body = {"identities": MARIE}
    for path in ("/v1/privacy/erasures", "/v1/privacy/exports"):
        assert (await stage.triage.post(path, json=body)).status == 401
        for token in (stage.ws.agent_token, lead):
            refused = await stage.triage.post(path, json=body, headers=bearer(token))
            assert refused.status == 403
            assert refused.content_type == "application/problem+json"
    assert (await stage.triage.get("/v1/privacy/retention", headers=bearer(lead))).status == 403

    cases = [
        ({}, "/identities"),
        ({"identities": []}, "/identities"),
        ({"identities": [{"platform": "x"}]}, "/identities/0"),
        ({"identities": [{"platform": "x", "handle": "@"}]}, "/identities/0"),
        ({"identities": [{"platform": "myspace", "handle": "a"}]}, "/identities/0/platform"),
        ({"identities": [{"platform": "x", "handle": "a", "email": "a@b"}]}, "/identities/0"),
        ({"identities": [{"platform": "x", "handle": "a\u0000b"}]}, "/identities/0/handle"),
        ({"identities": [{"platform": "x", "author_id": "1" * 201}]}, "/identities/0/author_id"),
    ]
    for sent, pointer in cases:
        answer = await stage.triage.post(
            "/v1/privacy/erasures", json=sent, headers=bearer(stage.admin)
        )
        assert answer.status == 422, sent
        problem = await answer.json()
        assert answer.content_type == "application/problem+json"
        assert problem["errors"][0]["pointer"].startswith(pointer), (sent, problem)
    broken = await stage.triage.post(
        "/v1/privacy/erasures", data=b"{not json", headers=bearer(stage.admin)
    )
    assert broken.status == 422
    huge = await stage.triage.post(
        "/v1/privacy/exports", data=b"x" * (65 * 1024), headers=bearer(stage.admin)
    )
    assert huge.status == 413
    assert await stage.value("SELECT count(*) FROM triage.erasure_requests") == 0

    # Another workspace's request is not found, nor is a made-up or malformed id.
    mine = await erase(stage, MARIE)
    for path in (mine["id"], str(uuid.uuid4()), "not-a-uuid"):
        answer = await stage.triage.get(
            f"/v1/privacy/erasures/{path}", headers=bearer(stage.other_admin)
        )
        assert answer.status == 404
        assert "identities" not in await answer.text()
    theirs = await stage.triage.get("/v1/privacy/erasures", headers=bearer(stage.other_admin))
    assert (await theirs.json())["items"] == []


async def test_a_signed_in_admin_needs_the_csrf_token_to_erase(
    stage: Stage, database_url: str
) -> None:
    await make_user(database_url, stage.ws.id, "admin", "dpo@acme.test", "long-passphrase")
    signed = await stage.triage.post(
        "/v1/auth/login", json={"email": "dpo@acme.test", "password": "long-passphrase"}
    )
    assert signed.status == 200
    csrf = (await signed.json())["csrf_token"]
    body = {"identities": MARIE}
    refused = await stage.triage.post("/v1/privacy/erasures", json=body)
    assert refused.status == 403
    assert await stage.value("SELECT count(*) FROM triage.erasure_requests") == 0
    for method, path, payload in (
        ("put", "/v1/privacy/retention", {"conversation_days": 30}),
        ("post", "/v1/privacy/exports", body),
    ):
        answer = await getattr(stage.triage, method)(path, json=payload)
        assert answer.status == 403
    accepted = await stage.triage.post(
        "/v1/privacy/erasures", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert accepted.status == 202


async def test_an_admin_exports_everything_about_a_person_and_nothing_else(
    stage: Stage,
) -> None:
    async with inbox_consuming(stage.database_url):
        await seeded(stage)
    answer = await stage.triage.post(
        "/v1/privacy/exports", json={"identities": MARIE}, headers=bearer(stage.admin)
    )
    assert answer.status == 200, await answer.text()
    data = await answer.json()
    texts = [m["text"] for m in data["messages"]]
    # Her three messages and the brand's answer in her DM; not Paul, not the other brand.
    assert len(texts) == 4, texts
    assert all(any(w in t for w in MARIE_WORDS) for t in texts)
    assert not any("other brand" in t or "same problem" in t for t in texts)
    assert {m["direction"] for m in data["messages"]} == {"in", "out"}
    assert {m["author"]["display_name"] for m in data["messages"] if m["direction"] == "in"} == {
        MARIE_NAME
    }
    assert sorted(c["platform"] for c in data["conversations"]) == ["mastodon", "x"]
    assert len(data["decisions"]) == 3
    assert {d["message_id"] for d in data["decisions"]} <= {m["id"] for m in data["messages"]}
    assert [r["text"] for r in data["replies"]] == [
        f"Hello {MARIE_NAME}, your {MARIE_WORDS[1]} case is ours"
    ]
    assert [n["text"] for n in data["notes"]] == [
        f"{MARIE_NAME} called twice about {MARIE_WORDS[0]}"
    ]
    audit = await stage.rows(
        "SELECT user_id, detail FROM triage.audit_log WHERE workspace_id = :ws "
        "AND action = 'data_exported'",
        ws=stage.ws.id,
    )
    assert len(audit) == 1
    assert audit[0].detail["messages"] == 4
    assert not any(w in str(audit[0].detail) for w in MARIE_WORDS)

    # The other brand's admin, asking for the same X account, sees only their own copy.
    theirs = await stage.triage.post(
        "/v1/privacy/exports", json={"identities": MARIE}, headers=bearer(stage.other_admin)
    )
    assert [m["text"] for m in (await theirs.json())["messages"]] == [
        f"{MARIE_WORDS[0]} at the other brand"
    ]


async def test_retention_purges_idle_conversations_in_both_services_per_workspace(
    aiohttp_client: Any, database_url: str
) -> None:
    stage = await build_stage(
        aiohttp_client, database_url, retention_days=3650, retention_interval_seconds=0.3
    )
    try:
        await _retention(stage)
    finally:
        await stage.engine.dispose()


async def _retention(stage: Stage) -> None:
    old = item(
        "x-old", f"my {MARIE_WORDS[0]} modem died", author=MARIE_X, minutes_ago=400 * 24 * 60
    )
    old_dm = item(
        "m-old",
        f"facture {MARIE_WORDS[2]}",
        author=MARIE_M,
        platform="mastodon",
        channel="support-masto",
        kind="dm",
        minutes_ago=400 * 24 * 60,
    )
    recent = item("x-new", PAUL_WORDS, author=PAUL, minutes_ago=5)
    await stage.ingest(stage.ws.ingest_token, [old, old_dm, recent])
    await stage.ingest(stage.other.ingest_token, [old])
    await stage.until("SELECT count(*) FROM triage.messages", 4)
    # Triage saw the old conversations when they happened (its clock is the real one).
    async with stage.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE triage.conversations SET updated_at = last_inbound_at "
                "WHERE last_inbound_at < now() - interval '300 days'"
            )
        )
    cid = await stage.value(
        "SELECT conversation_id FROM triage.messages WHERE workspace_id = :ws AND text LIKE :t",
        ws=stage.ws.id,
        t=f"%{MARIE_WORDS[0]}%",
    )
    async with stage.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO triage.notes (workspace_id, id, conversation_id, author_id, text) "
                "SELECT :ws, gen_random_uuid(), :cid, id, :t FROM triage.users "
                "WHERE workspace_id = :ws LIMIT 1"
            ),
            {"ws": stage.ws.id, "cid": cid, "t": f"{MARIE_NAME} again"},
        )

    admin = bearer(stage.admin)
    shown = await stage.triage.get("/v1/privacy/retention", headers=admin)
    assert await shown.json() == {
        "conversation_days": 3650,
        "source": "default",
        "default_days": 3650,
    }
    bad = await stage.triage.put(
        "/v1/privacy/retention", json={"conversation_days": 0}, headers=admin
    )
    assert bad.status == 422
    assert (await bad.json())["errors"][0]["pointer"] == "/conversation_days"

    registry = CollectorRegistry()
    counted = InboxMetrics.create(registry).initialise()
    async with inbox_consuming(stage.database_url, counted):
        saved = await stage.triage.put(
            "/v1/privacy/retention", json={"conversation_days": 365}, headers=admin
        )
        assert await saved.json() == {
            "conversation_days": 365,
            "source": "workspace",
            "default_days": 3650,
        }
        await stage.until(
            "SELECT count(*) FROM inbox.messages "
            "WHERE erased_at IS NOT NULL AND workspace_id = :ws",
            2,
            ws=stage.ws.id,
        )

    purged = await stage.rows(
        "SELECT id, platform FROM triage.conversations WHERE purged_at IS NOT NULL "
        "AND workspace_id = :ws ORDER BY platform",
        ws=stage.ws.id,
    )
    assert [p.platform for p in purged] == ["mastodon", "x"]
    assert await occurrences(stage, [MARIE_WORDS[2], MARIE_NAME, MARIE_MASTODON]) == {}
    # The other brand keeps its 400-day-old conversation: its retention is the default.
    assert await occurrences(stage, [MARIE_WORDS[0], MARIE_NAME], workspace=stage.other.id) == {
        "inbox.authors.display_name": 1,
        "inbox.messages.text": 1,
        "triage.incident_signals.terms": 1,  # the detector's words for a message needing an answer
        "triage.messages.author_name": 1,
        "triage.messages.text": 1,
    }
    assert (
        await stage.value(
            "SELECT count(*) FROM inbox.messages WHERE workspace_id = :ws AND text = :t",
            ws=stage.other.id,
            t=old["text"],
        )
        == 1
    )
    # The recent conversation is untouched; Paul's profile too.
    assert (
        await stage.value("SELECT count(*) FROM triage.messages WHERE text = :t", t=PAUL_WORDS) == 1
    )
    assert await stage.value("SELECT display_name FROM inbox.authors WHERE handle = 'paul_k'") == (
        "Paul Kerouac"
    )
    # Re-reading the purged posts does not restore them.
    again = await stage.ingest(stage.ws.ingest_token, [old, old_dm])
    assert {i["status"] for i in again} == {"duplicate"}
    metrics = await (await stage.triage.get("/metrics")).text()
    assert "ecoute_retention_purged_conversations_total 2.0" in metrics
    erased = registry.get_sample_value(
        "ecoute_privacy_erased_messages_total", {"reason": "retention"}
    )
    assert erased == 2
    audit = await stage.rows(
        "SELECT detail FROM triage.audit_log WHERE action = 'retention_purged'"
    )
    assert [a.detail["conversations"] for a in audit] == [2]


async def test_a_late_delivery_failure_keeps_no_platform_words_on_an_erased_reply(
    stage: Stage,
) -> None:
    """The platform's refusal may quote or name the person: once the reply to them is
    erased, a ``reply.failed`` that arrives late records the reason, not the words."""
    from services.triage.desk import store as desk

    async with inbox_consuming(stage.database_url):
        await seeded(stage)
        request = await erase(stage, MARIE)
        await done(stage, request["id"])
    reply_id = await stage.value(
        "SELECT id FROM triage.replies WHERE workspace_id = :ws", ws=stage.ws.id
    )
    async with stage.engine.begin() as conn:
        await desk.reply_failed(
            conn, stage.ws.id, reply_id, "rejected", f"{MARIE_NAME} has blocked this account"
        )
    assert (
        await stage.value(
            "SELECT failure_detail FROM triage.replies WHERE workspace_id = :ws", ws=stage.ws.id
        )
        is None
    )
    assert await occurrences(stage, [MARIE_NAME]) == {}


async def test_retention_claims_the_longest_idle_first_through_its_index(
    database_url: str,
) -> None:
    """A retention call reads what it purges, not the workspace: the claim walks the
    ``conversations_idle`` index in idle order (the plan shows it) and stops at its limit."""
    ws = await make_workspace(database_url)
    engine = create_engine(database_url, 1)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            for conversation_id, idle_days in [(1, 10), (2, 400), (3, 900), (4, 2)]:
                at = now - timedelta(days=idle_days)
                await conn.execute(
                    text(
                        "INSERT INTO triage.conversations (workspace_id, id, platform, channel, "
                        "kind, last_inbound_at, updated_at) "
                        "VALUES (:ws, :id, 'x', 'support', 'public', :at, :at)"
                    ),
                    {"ws": ws.id, "id": conversation_id, "at": at},
                )
            claimed = await claim_idle(conn, ws.id, now - timedelta(days=5), limit=2)
            assert claimed == [3, 2]  # the longest idle first; 1 waits for the next call
            await conn.execute(text("SET LOCAL enable_seqscan = off"))
            explain = text("EXPLAIN " + CLAIM_IDLE.text)
            params = {"ws": ws.id, "before": now, "limit": 2}
            plan = "\n".join((await conn.execute(explain, params)).scalars())
            assert "conversations_idle" in plan and "Sort" not in plan, plan
    finally:
        await engine.dispose()


def whatsapp_messages(number: str, name: str, words: list[str]) -> list[dict[str, Any]]:
    """A customer's WhatsApp messages: known by phone number, named by their profile."""
    raw = {"from": number, "id": "wamid.AAA1", "type": "text", "text": {"body": words[0]}}
    return [
        item(
            f"wamid.AAA{n}",
            text,
            author=(number, number, name),
            platform="whatsapp",
            channel="volteo-wa",
            kind="dm",
            minutes_ago=40 - n,
            thread_id=number,
            raw={**raw, "id": f"wamid.AAA{n}", "text": {"body": text}},
        )
        for n, text in enumerate(words, start=1)
    ]


def threads_replies(username: str, name: str, words: list[str]) -> list[dict[str, Any]]:
    """Replies to the brand's Threads post: Threads names people by username only (also in
    the raw media objects)."""
    return [
        item(
            f"1801000000000{n}",
            text,
            author=(username, username, name),
            platform="threads",
            channel="volteo-threads",
            kind="reply",
            minutes_ago=40 - n,
            raw={"id": f"1801000000000{n}", "username": username, "text": text},
        )
        for n, text in enumerate(words, start=1)
    ]


def youtube_comments(channel_id: str, name: str, words: list[str]) -> list[dict[str, Any]]:
    """A comment under the brand's video and a reply in its thread: YouTube knows the
    commenter by channel id (``authorChannelId``, also in the raw snippets)."""
    return [
        item(
            comment_id,
            text,
            author=(channel_id, name, name),
            platform="youtube",
            channel="volteo-yt",
            kind=kind,
            minutes_ago=40 - n,
            thread_id="UgzTop1",
            in_reply_to="" if kind == "comment" else "UgzTop1",
            raw={
                "authorChannelId": {"value": channel_id},
                "authorDisplayName": name,
                "textOriginal": text,
                "moderationStatus": "published",
            },
        )
        for n, (comment_id, kind, text) in enumerate(
            [("UgzTop1", "comment", words[0]), ("UgzTop1.r1", "reply", words[1])], start=1
        )
    ]


@pytest.mark.parametrize(
    ("platform", "person", "name", "written"),
    [
        ("whatsapp", "33612349876", "Léa Moreau", whatsapp_messages),
        ("threads", "lea.moreau.1987", "", threads_replies),
        ("youtube", "UCq3vY2xLeaMoreauChannel0", "Léa Moreau", youtube_comments),
    ],
)
async def test_erasing_a_customer_known_by_number_or_username_removes_them(
    stage: Stage, platform: str, person: str, name: str, written: Any
) -> None:
    """WhatsApp knows a person by phone number, Threads by username, YouTube by channel id:
    erased by that id, they are gone from the messages, the authors, the raw payloads and the
    events, in both services."""
    words = ["my fibre box blinks red since the move", "still red this morning"]
    messages = written(person, name, words)
    async with inbox_consuming(stage.database_url):
        await stage.ingest(stage.ws.ingest_token, messages)
        await stage.until(
            "SELECT count(*) FROM triage.messages WHERE workspace_id = :ws AND direction = 'in'",
            2,
            ws=stage.ws.id,
        )
        assert await occurrences(stage, [person, *words]), "the scan finds her first"
        request = await erase(stage, [{"platform": platform, "author_id": person}])
        finished = await done(stage, request["id"])
    assert finished["services"]["inbox"]["messages_erased"] == 2
    skip = frozenset({"triage.audit_log", "triage.erasure_requests"})
    assert await occurrences(stage, [person, *filter(None, [name]), *words], skip=skip) == {}
