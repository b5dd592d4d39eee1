"""Two populated workspaces for the security tests: one to attack, one to attack from.

Each holds every kind of object the APIs expose (conversation, messages, a reply, a note, a
saved reply, API tokens — one revoked —, inbox tokens of both scopes, a channel and its
platform credentials, an SLA policy, a breach webhook, users of every role with passwords, a
spare user with two-factor on — its recovery codes, a spent pending sign-in, a live
session —, a spare session of the agent, an invitation waiting and one accepted, an erasure
request, a retention setting, two customer incidents the detector opened from bursts of
messages, with their signals, members and history), and a snapshot reads back every row a
workspace owns, so a test can prove nothing of it changed.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fakes.whatsapp import WhatsAppState
from services.inbox.ingest.store import create_ingest_token
from services.infra.db import create_engine
from services.infra.events import Consumer
from services.triage.incidents.detector import IncidentDetector
from services.triage.intake.consumer import handle_batch
from tests.support.authenticator import Authenticator
from tests.support.waiting import wait_until
from tests.support.world import ago, bearer, ingest, make_user, make_workspace, message

PASSWORD = "correct horse battery staple 42"
BURSTS = {
    # Two unrelated problems, five people each: the detector opens one incident per burst.
    # Each names its own marker word: one word shared by both (a long one, with a random
    # tag) made an outage and a payment message similar enough to chain the two bursts
    # into one incident in 77 of 2,000 simulated worlds (0 of 2,000 with a marker each).
    "outage": [
        "No internet since this morning in {where}, the box is dead. Outage?",
        "internet down in {where} again, box blinking red, please fix",
        "Toujours pas d'internet à {where}, panne générale ? box morte",
        "{where} internet outage since 8am, box dead, when will it be back?",
        "is the internet down in {where}? my box has been dead all morning",
    ],
    "payment": [
        "my card payment is refused at checkout in the {shop} app, order stuck since noon",
        "card payment refused at checkout again, {shop} app, my basket order is stuck",
        "{shop} app checkout refused my card payment, order stuck, please help",
        "why is my card payment refused at checkout? {shop} app order stuck twice",
        "checkout in the {shop} app: card payment refused, order stuck, tried another card",
    ],
}


@dataclass
class Populated:
    """A workspace and the ids and secrets of what it holds."""

    id: uuid.UUID
    name: str
    ingest: str
    channels: str
    """The workspace's inbox token with the ``channels`` scope (its admin connects channels)."""
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
    incident: int
    """An open customer incident (the outage): read, noted, merged into, split, closed and
    reopened by the matrices."""
    other_incident: int
    """A second open customer incident (the payment burst): merged into ``incident``."""
    split_conversation: int
    """One of ``incident``'s several conversations: the one a split moves out."""
    channel_key: str
    whatsapp_key: str
    """The workspace's WhatsApp channel (empty when no fake WhatsApp was given)."""
    credentials_ref: str
    """The reference of the workspace's own platform credentials (its channel names it)."""
    spare_user_id: str
    """A user outside the matrices (two-factor on, signed in): admins' /v1/users/{id}/… act
    on it, so signing it out or resetting it leaves the matrices' own users as they were."""
    spare_session_id: str
    """A second session of the agent, which the agent (or an admin) may end."""
    spare_email: str
    spent_pending_token: str
    """The spare user's pending sign-in token, already used for its second step."""
    recovery_code: str
    """One of the spare user's unused recovery codes."""
    spare_token: str
    two_factor_key: str
    """The spare user's TOTP key, as the desk showed it at enrolment."""
    erasure_id: str
    invitation_id: str
    """An invitation waiting to be accepted (its link is a marker)."""
    spent_link_token: str
    """The token of an invitation already accepted (by a user who joined through it)."""
    leaver: str
    """The author id of a customer whom the matrices may erase (a sacrificial object)."""
    customer: str
    """The author id of the workspace's main customer (exported, never erased)."""
    tag: int
    """A tag the conversation carries: put on and taken off by the matrices."""
    spare_tag: int
    """A tag on nothing that the matrices may delete."""
    comment_conversation: int
    comment_message_id: int
    """A customer's Facebook comment (its own conversation): what a lead may hide."""
    tag_name: str
    """``tag``'s name (a marker): the matrices recolour the tag and keep its name."""
    rule: int
    """A rule the matrices replace (keeping its name, a marker)."""
    rule_name: str
    spare_rule: int
    """A rule the matrices may delete."""
    person_link: int
    """An identity linked by hand to ``customer`` (the matrices unlink it)."""
    markers: list[str] = field(default_factory=list)
    """Strings only this workspace's data contains: none may appear in another's answers."""

    def token(self, role: str) -> str:
        return {"agent": self.agent, "lead": self.lead, "admin": self.admin}[role]

    def inbox_token(self, scope: str) -> str:
        return {"ingest": self.ingest, "channels": self.channels}[scope]


async def populate(
    database_url: str,
    inbox: Any,
    triage: Any,
    name: str,
    credentials: Path,
    whatsapp: WhatsAppState | None = None,
    whatsapp_url: str = "",
) -> Populated:
    """A workspace with one of everything, made through the APIs as its users would; its
    platform credentials are written into ``credentials`` (the inbox's
    ``INBOX_CHANNEL_CREDENTIALS_DIR``). With a fake WhatsApp (its state and URL), it also has
    a WhatsApp channel there, whose templates the channels API reads."""
    ws = await make_workspace(database_url, name)
    tag = uuid.uuid4().hex[:10]
    platform_token = f"{name.lower()}-x-bearer-{tag}"
    write_credentials(credentials, ws.id, f"cred-{tag}", {"bearer_token": platform_token})
    emails = {role: f"{role}-{tag}@{name.lower()}.test" for role in ("agent", "lead", "admin")}
    agent = await make_user(database_url, ws.id, "agent", emails["agent"], PASSWORD)
    lead = await make_user(database_url, ws.id, "lead", emails["lead"], PASSWORD)
    admin = await make_user(database_url, ws.id, "admin", emails["admin"], PASSWORD)
    revoked = await make_user(database_url, ws.id, "agent")
    text_in = f"{name} customer {tag}: my parcel never arrived"
    item, _ = await ingest(
        inbox,
        ws.ingest_token,
        message(f"{tag}-1", text_in, author=f"au{tag}", minutes=-5),
        message(f"{tag}-2", f"{name} leaver {tag}", author=f"lv{tag}", minutes=-4),
    )
    where = f"Town{tag}"  # a word only this workspace's incidents (labels, texts) hold
    shop = f"Shop{tag}"  # the same, for the payment burst
    await ingest(
        inbox,
        ws.ingest_token,
        *(
            message(
                f"{tag}-{topic}-{i}",
                line.format(where=where, shop=shop),
                author=f"{topic[:2]}{i}{tag}",
                created_at=ago(seconds=120 - 10 * i),
            )
            for topic, lines in BURSTS.items()
            for i, line in enumerate(lines)
        ),
    )
    (comment,) = await ingest(
        inbox,
        ws.ingest_token,
        message(
            f"{tag}-fb",
            f"{name} rude comment {tag}",
            platform="facebook",
            channel="page",
            kind="comment",
            author=f"fb{tag}",
            minutes=-3,
        ),
    )
    engine = create_engine(database_url, 2)
    try:
        message_id = await _triaged_message(
            engine, database_url, ws.id, int(item["conversation_id"])
        )
        comment_conversation = int(comment["conversation_id"])
        comment_message_id = await _triaged_message(
            engine, database_url, ws.id, comment_conversation
        )
        incidents = await _detect(engine, database_url, ws.id, (where, shop))
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
        headers=bearer(ws.channels_token),
        json={
            "account_id": f"acct{tag}",
            "base_url": "https://api.x.com",
            "credentials_ref": f"cred-{tag}",
            "polling": False,
        },
    )
    policy = await (await triage.get("/v1/sla/policies", headers=auth)).json()
    policy["at_risk_ratio"] = 0.6
    put_policy = await triage.put("/v1/sla/policies", headers=bearer(lead), json=policy)
    hook = await triage.put(
        "/v1/webhooks", headers=bearer(admin), json={"url": f"https://hooks.{tag}.test/sla"}
    )
    for answer in (note, saved, spare, revoke, channel, put_policy, hook):
        assert answer.status in (200, 201), (answer.url, await answer.text())
    security = await _populate_security(database_url, triage, ws.id, name, tag, agent)
    admin_auth = bearer(admin)
    erasure = await triage.post(
        "/v1/privacy/erasures",
        headers=admin_auth,
        json={"identities": [{"platform": "x", "handle": f"departed{tag}"}]},
    )
    assert erasure.status == 202, await erasure.text()
    retention = await triage.put(
        "/v1/privacy/retention", headers=admin_auth, json={"conversation_days": 400}
    )
    assert retention.status == 200, await retention.text()
    team = await _populate_team(triage, admin, name, tag)
    tags = await _populate_tags(triage, lead, cid, tag)
    rules = await _populate_rules(triage, lead, tags[0], tag)
    person_link = await _populate_person(triage, agent, name, tag)
    return Populated(
        id=ws.id,
        name=name,
        ingest=ws.ingest_token,
        channels=ws.channels_token,
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
        incident=incidents["outage"],
        other_incident=incidents["payment"],
        split_conversation=incidents["conversation"],
        channel_key=f"acct-{tag}",
        whatsapp_key=await _whatsapp_channel(inbox, ws, tag, credentials, whatsapp, whatsapp_url),
        credentials_ref=f"cred-{tag}",
        spare_user_id=security["user_id"],
        spare_session_id=security["session_id"],
        spare_email=security["email"],
        spent_pending_token=security["pending_token"],
        recovery_code=security["recovery_code"],
        spare_token=security["token"],
        two_factor_key=security["key"],
        erasure_id=(await erasure.json())["id"],
        invitation_id=team["invitation_id"],
        spent_link_token=team["spent_token"],
        leaver=f"lv{tag}",
        customer=f"au{tag}",
        tag=tags[0],
        spare_tag=tags[1],
        tag_name=f"tag {tag}",
        rule=rules[0],
        rule_name=f"rule {tag}",
        spare_rule=rules[1],
        comment_conversation=comment_conversation,
        comment_message_id=comment_message_id,
        person_link=person_link,
        markers=[
            f"friend{tag}",
            f"{name} person note {tag}",
            f"tag {tag}",
            f"rule {tag}",
            *security.values(),
            *team.values(),
            (await erasure.json())["id"],
            f"departed{tag}",
            f"{name} leaver {tag}",
            where,
            where.lower(),
            shop,
            shop.lower(),
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
            ws.channels_token,
            platform_token,
            agent,
            lead,
            admin,
            (await spare.json())["token"],
            (await hook.json())["secret"],
        ],
    )


async def _whatsapp_channel(
    inbox: Any,
    ws: Any,
    tag: str,
    credentials: Path,
    whatsapp: WhatsAppState | None,
    url: str,
) -> str:
    """A WhatsApp channel of the workspace at the fake (its own business number)."""
    if whatsapp is None:
        return ""
    values = {
        "access_token": whatsapp.access_token,
        "business_account_id": whatsapp.business_account_id,
    }
    write_credentials(credentials, ws.id, f"wa-{tag}", values)
    connected = await inbox.put(
        f"/v1/channels/whatsapp/wa-{tag}",
        headers=bearer(ws.channels_token),
        json={
            "account_id": str(int(tag, 16)),
            "base_url": url,
            "credentials_ref": f"wa-{tag}",
            "polling": False,
        },
    )
    assert connected.status == 200, await connected.text()
    return f"wa-{tag}"


def write_credentials(
    directory: Path, workspace_id: uuid.UUID, ref: str, values: dict[str, str]
) -> None:
    """One credentials file in a workspace's namespace, as a mounted Secret holds it."""
    (directory / f"{workspace_id}.{ref}.json").write_text(json.dumps(values))


async def _triaged_message(
    engine: AsyncEngine, database_url: str, workspace_id: uuid.UUID, conversation_id: int
) -> int:
    """The id of the conversation's message once triage has it (drained here if need be)."""
    seen: list[int] = []

    async def triaged() -> bool:
        await Consumer(engine, database_url, "triage", handle_batch).drain_once()
        async with engine.connect() as conn:
            found = (
                await conn.execute(
                    text(
                        "SELECT id FROM triage.messages WHERE workspace_id = :ws "
                        "AND conversation_id = :c"
                    ),
                    {"ws": workspace_id, "c": conversation_id},
                )
            ).scalar()
        seen.extend([] if found is None else [int(found)])
        return bool(seen)

    await wait_until(triaged, what="triage never saw the comment")
    return seen[0]


async def _detect(
    engine: AsyncEngine, database_url: str, workspace_id: uuid.UUID, words: tuple[str, str]
) -> dict[str, int]:
    """The bursts triaged (each message a detector signal) and detected, as the product does
    (the detector's own pass, with the product's parameters, run once rather than waiting
    for its tick): the incidents' ids by burst, and one of the outage's conversations."""
    signals = 0
    for _ in range(200):
        await Consumer(engine, database_url, "triage", handle_batch).drain_once()
        async with engine.connect() as conn:
            signals = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM triage.incident_signals AS s "
                        "JOIN triage.messages AS m "
                        "ON m.workspace_id = s.workspace_id AND m.id = s.message_id "
                        "WHERE s.workspace_id = :ws "
                        "AND (strpos(m.text, :one) > 0 OR strpos(m.text, :two) > 0)"
                    ),
                    {"ws": workspace_id, "one": words[0], "two": words[1]},
                )
            ).scalar_one()
        if signals == sum(len(lines) for lines in BURSTS.values()):
            break
        await asyncio.sleep(0.05)
    assert await IncidentDetector(engine).detect(workspace_id) == 1
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT i.id, i.kind, m.conversation_id, msg.text "
                    "FROM triage.incidents AS i JOIN triage.incident_members AS m "
                    "ON m.workspace_id = i.workspace_id AND m.incident_id = i.id "
                    "JOIN triage.messages AS msg "
                    "ON msg.workspace_id = m.workspace_id AND msg.id = m.message_id "
                    "WHERE i.workspace_id = :ws AND i.status = 'open' ORDER BY m.conversation_id"
                ),
                {"ws": workspace_id},
            )
        ).all()
    by_topic: dict[str, set[int]] = {}
    conversations: dict[int, list[int]] = {}
    for row in rows:
        topic = "outage" if "internet" in row.text else "payment"
        by_topic.setdefault(topic, set()).add(row.id)
        conversations.setdefault(row.id, []).append(row.conversation_id)
    assert {t: len(ids) for t, ids in by_topic.items()} == {"outage": 1, "payment": 1}, (
        f"the detector did not open one incident per burst ({signals} signals): {rows}"
    )
    assert {row.kind for row in rows} == {"customer"}
    (outage,) = by_topic["outage"]
    (payment,) = by_topic["payment"]
    assert outage != payment, f"both bursts in one incident: {rows}"
    assert len(conversations[outage]) >= 3, "a split needs an incident of several conversations"
    return {"outage": outage, "payment": payment, "conversation": conversations[outage][-1]}


async def _populate_security(
    database_url: str, triage: Any, workspace_id: uuid.UUID, name: str, tag: str, agent: str
) -> dict[str, str]:
    """The spare user, enrolled in two-factor and signed in with a code through the APIs,
    and a second session of the agent. Returns ids and secrets (all markers)."""
    email = f"spare-{tag}@{name.lower()}.test"
    token = await make_user(database_url, workspace_id, "agent", email, PASSWORD)
    started = await triage.post("/v1/me/two-factor/enrol", headers=bearer(token))
    assert started.status == 201, await started.text()
    app = Authenticator((await started.json())["secret"])
    confirmed = await triage.post(
        "/v1/me/two-factor/confirm", headers=bearer(token), json={"code": await app.code()}
    )
    assert confirmed.status == 200, await confirmed.text()
    first = await triage.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    pending = (await first.json())["pending_token"]
    second = await triage.post(
        "/v1/auth/login/code", json={"pending_token": pending, "code": await app.code()}
    )
    assert second.status == 200, await second.text()
    signed_in = await triage.post(
        "/v1/auth/login",
        json={"email": f"agent-{tag}@{name.lower()}.test", "password": PASSWORD},
    )
    assert signed_in.status == 200, await signed_in.text()
    triage.session.cookie_jar.clear()  # the matrices send their own credentials
    sessions = await (await triage.get("/v1/sessions", headers=bearer(agent))).json()
    return {
        "user_id": str((await second.json())["user"]["id"]),
        "session_id": str(sessions["sessions"][0]["id"]),
        "pending_token": pending,
        "email": email,
        "token": token,
        "recovery_code": (await confirmed.json())["recovery_codes"][0],
        "key": app.key,
    }


async def _populate_team(triage: Any, admin: str, name: str, tag: str) -> dict[str, str]:
    """An invitation waiting (by the admin, through the API), and another one accepted: its
    invitee set a password and joined. Returns ids and secrets (all markers)."""
    links = {}
    for who in ("invitee", "joined"):
        made = await triage.post(
            "/v1/invitations",
            headers=bearer(admin),
            json={"email": f"{who}-{tag}@{name.lower()}.test", "role": "agent"},
        )
        assert made.status == 201, await made.text()
        links[who] = await made.json()
    spent = links["joined"]["link"].split("#invitation=")[1]
    joined = await triage.post("/v1/auth/link/accept", json={"token": spent, "password": PASSWORD})
    assert joined.status == 200, await joined.text()
    triage.session.cookie_jar.clear()  # the matrices send their own credentials
    return {
        "invitation_id": str(links["invitee"]["id"]),
        "invitation_token": links["invitee"]["link"].split("#invitation=")[1],
        "spent_token": spent,
        "invitee": links["invitee"]["email"],
        "joined": links["joined"]["email"],
    }


async def _populate_person(triage: Any, agent: str, name: str, tag: str) -> int:
    """The main customer's Mastodon handle linked by hand, and a note about them (both
    markers); the link's id."""
    person = f"/v1/people/x/au{tag}"
    link = await triage.post(
        f"{person}/links",
        headers=bearer(agent),
        json={"platform": "mastodon", "handle": f"friend{tag}"},
    )
    assert link.status == 201, await link.text()
    note = await triage.post(
        f"{person}/notes", headers=bearer(agent), json={"text": f"{name} person note {tag}"}
    )
    assert note.status == 201, await note.text()
    return int((await link.json())["id"])


async def _populate_tags(triage: Any, lead: str, cid: int, tag: str) -> list[int]:
    """Two tags, the first on the conversation (their names are markers)."""
    made = []
    for n in ("tag", "spare"):
        answer = await triage.post(
            "/v1/tags", headers=bearer(lead), json={"name": f"{n} {tag}", "colour": "teal"}
        )
        assert answer.status == 201, await answer.text()
        made.append((await answer.json())["id"])
    put = await triage.put(f"/v1/conversations/{cid}/tags/{made[0]}", headers=bearer(lead))
    assert put.status == 200, await put.text()
    return made


async def _populate_rules(triage: Any, lead: str, tag_id: int, tag: str) -> list[int]:
    """Two rules that words no message holds would fire (their names are markers)."""
    made = []
    for n in ("rule", "spare"):
        answer = await triage.post(
            "/v1/rules",
            headers=bearer(lead),
            json={
                "name": f"{n} {tag}",
                "when": {"words": [f"never{tag}"]},
                "then": [{"kind": "tag", "tag_id": tag_id}, {"kind": "notify"}],
            },
        )
        assert answer.status == 201, await answer.text()
        made.append((await answer.json())["id"])
    return made


async def snapshot(database_url: str, workspace_id: uuid.UUID) -> dict[str, list[str]]:
    """Every row of every table with a workspace_id that belongs to this workspace, and its
    row in each service's workspaces table (which holds its two-factor policy)."""
    engine = create_engine(database_url, 1)
    found: dict[str, list[str]] = {}
    try:
        async with engine.connect() as conn:
            tables = (
                await conn.execute(
                    text(
                        "SELECT table_schema || '.' || table_name FROM information_schema.columns "
                        "WHERE (column_name = 'workspace_id' OR (column_name = 'id' AND "
                        "table_name = 'workspaces')) AND table_schema IN "
                        "('inbox', 'triage', 'infra', 'events', 'public') ORDER BY 1"
                    )
                )
            ).scalars()
            for table in list(tables):
                column = "id" if table.endswith(".workspaces") else "workspace_id"
                rows = await conn.execute(
                    text(
                        f"SELECT row_to_json(t)::text AS r FROM {table} AS t "
                        f"WHERE {column} = :ws ORDER BY 1"
                    ),
                    {"ws": workspace_id},
                )
                found[table] = [r.r for r in rows]
    finally:
        await engine.dispose()
    assert found, "no table holds a workspace_id: the snapshot would prove nothing"
    return found
