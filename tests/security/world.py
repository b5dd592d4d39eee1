"""Two populated workspaces for the security tests: one to attack, one to attack from.

Each holds every kind of object the APIs expose (conversation, messages, a reply, a note, a
saved reply, API tokens — one revoked —, a channel, an SLA policy, a breach webhook, users of
every role with passwords), and a snapshot reads back every row a workspace owns, so a test
can prove nothing of it changed.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from services.inbox.store import create_ingest_token
from services.infra.db import create_engine
from services.infra.events import Consumer
from services.triage.consumer import handle_batch
from tests.support.world import bearer, make_user, make_workspace, message

PASSWORD = "correct horse battery staple 42"


@dataclass
class Populated:
    """A workspace and the ids and secrets of what it holds."""

    id: uuid.UUID
    name: str
    ingest: str
    agent: str
    lead: str
    admin: str
    revoked: str
    revoked_ingest: str
    emails: dict[str, str]
    conversation: int
    message_id: int
    reply_id: str
    note_id: str
    saved_reply_id: str
    spare_token_id: str
    channel_key: str
    markers: list[str] = field(default_factory=list)
    """Strings only this workspace's data contains: none may appear in another's answers."""

    def token(self, role: str) -> str:
        return {"agent": self.agent, "lead": self.lead, "admin": self.admin}[role]


async def populate(database_url: str, inbox: Any, triage: Any, name: str) -> Populated:
    """A workspace with one of everything, made through the APIs as its users would."""
    ws = await make_workspace(database_url, name)
    tag = uuid.uuid4().hex[:10]
    emails = {role: f"{role}-{tag}@{name.lower()}.test" for role in ("agent", "lead", "admin")}
    agent = await make_user(database_url, ws.id, "agent", emails["agent"], PASSWORD)
    lead = await make_user(database_url, ws.id, "lead", emails["lead"], PASSWORD)
    admin = await make_user(database_url, ws.id, "admin", emails["admin"], PASSWORD)
    revoked = await make_user(database_url, ws.id, "agent")
    text_in = f"{name} customer {tag}: my parcel never arrived"
    ingested = await inbox.post(
        "/v1/ingest",
        headers=bearer(ws.ingest_token),
        json={
            "messages": [
                message(f"{tag}-1", text_in, author=f"au{tag}", minutes=-5),
            ]
        },
    )
    assert ingested.status == 200, await ingested.text()
    item = (await ingested.json())["items"][0]
    engine = create_engine(database_url, 2)
    try:
        message_id = None
        for _ in range(200):  # triaged here, or by the app's own consumer when it runs one
            await Consumer(engine, database_url, "triage", handle_batch).drain_once()
            async with engine.connect() as conn:
                message_id = (
                    await conn.execute(
                        text("SELECT id FROM triage.messages WHERE workspace_id = :ws"),
                        {"ws": ws.id},
                    )
                ).scalar()
            if message_id is not None:
                break
            await asyncio.sleep(0.05)
        assert message_id is not None, "triage never saw the message"
        async with engine.begin() as conn:
            revoked_ingest = f"eci_revoked_{tag}"
            await create_ingest_token(conn, ws.id, revoked_ingest, "old")
            await conn.execute(
                text("UPDATE inbox.ingest_tokens SET revoked_at = now() WHERE name = 'old'")
            )
    finally:
        await engine.dispose()
    cid = int(item["conversation_id"])
    auth = bearer(agent)
    assert (await triage.post(f"/v1/conversations/{cid}/claim", headers=auth)).status == 200
    reply = await triage.post(
        f"/v1/conversations/{cid}/replies", headers=auth, json={"text": f"{name} reply {tag}"}
    )
    assert reply.status == 202, await reply.text()
    note = await triage.post(
        f"/v1/conversations/{cid}/notes", headers=auth, json={"text": f"{name} note {tag}"}
    )
    saved = await triage.post(
        "/v1/saved-replies",
        headers=bearer(lead),
        json={"title": f"{name} saved {tag}", "text": f"{name} template {tag}"},
    )
    spare = await triage.post("/v1/tokens", headers=auth, json={"name": f"spare {tag}"})
    gone = await (await triage.get("/v1/tokens", headers=bearer(revoked))).json()
    revoke = await triage.delete(f"/v1/tokens/{gone['items'][0]['id']}", headers=bearer(revoked))
    channel = await inbox.put(
        f"/v1/channels/x/acct-{tag}",
        headers=bearer(ws.ingest_token),
        json={
            "account_id": f"acct{tag}",
            "base_url": "https://api.x.test",
            "credentials_ref": f"cred-{tag}",
            "polling": False,
        },
    )
    policy = await (await triage.get("/v1/sla/policies", headers=auth)).json()
    policy["at_risk_ratio"] = 0.6
    put_policy = await triage.put("/v1/sla/policies", headers=bearer(lead), json=policy)
    hook = await triage.put(
        "/v1/webhooks", headers=bearer(lead), json={"url": f"https://hooks.{tag}.test/sla"}
    )
    for answer in (note, saved, spare, revoke, channel, put_policy, hook):
        assert answer.status in (200, 201), (answer.url, await answer.text())
    return Populated(
        id=ws.id,
        name=name,
        ingest=ws.ingest_token,
        agent=agent,
        lead=lead,
        admin=admin,
        revoked=revoked,
        revoked_ingest=revoked_ingest,
        emails=emails,
        conversation=cid,
        message_id=int(message_id),
        reply_id=(await reply.json())["reply"]["id"],
        note_id=str((await note.json())["id"]),
        saved_reply_id=str((await saved.json())["id"]),
        spare_token_id=str((await spare.json())["id"]),
        channel_key=f"acct-{tag}",
        markers=[
            str(ws.id),
            text_in,
            f"au{tag}",
            f"{name} reply {tag}",
            f"{name} note {tag}",
            f"{name} saved {tag}",
            f"{name} template {tag}",
            f"acct{tag}",
            f"cred-{tag}",
            f"https://hooks.{tag}.test/sla",
            *emails.values(),
            ws.ingest_token,
            agent,
            lead,
            admin,
            (await spare.json())["token"],
            (await hook.json())["secret"],
        ],
    )


async def snapshot(database_url: str, workspace_id: uuid.UUID) -> dict[str, list[str]]:
    """Every row of every table with a workspace_id that belongs to this workspace."""
    engine = create_engine(database_url, 1)
    found: dict[str, list[str]] = {}
    try:
        async with engine.connect() as conn:
            tables = (
                await conn.execute(
                    text(
                        "SELECT table_schema || '.' || table_name FROM information_schema.columns "
                        "WHERE column_name = 'workspace_id' AND table_schema IN "
                        "('inbox', 'triage', 'infra', 'events', 'public') ORDER BY 1"
                    )
                )
            ).scalars()
            for table in list(tables):
                rows = await conn.execute(
                    text(
                        f"SELECT row_to_json(t)::text AS r FROM {table} AS t "
                        "WHERE workspace_id = :ws ORDER BY 1"
                    ),
                    {"ws": workspace_id},
                )
                found[table] = [r.r for r in rows]
    finally:
        await engine.dispose()
    assert found, "no table holds a workspace_id: the snapshot would prove nothing"
    return found
