"""Rules against the real database: a lead's rule closes spam (out of the queue, its name the
reason, audited, counted), tags what it matches (the queue's tag filter finds it), and a rule
that does not fit is a 422 naming the field."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from services.infra.db import create_engine
from services.infra.events import Consumer
from services.triage.intake.consumer import handle_batch
from services.triage.webhooks import sender as webhooks
from tests.support.hooks import hook_receiver, signed_with
from tests.support.waiting import wait_until
from tests.support.world import (
    answer_when,
    bearer,
    ingest,
    make_user,
    make_workspace,
    message,
    sql,
    start_services,
)

SPAM = "WIN a free iPhone at the Casino tonight, my order never arrived, click here"
PLAIN = "my order never arrived, can you help?"


async def _write(triage: Any, lead: str, rule: dict[str, Any]) -> Any:
    return await triage.post("/v1/rules", headers=bearer(lead), json=rule)


async def _ingest(inbox: Any, ws: Any, *messages: dict[str, Any]) -> list[int]:
    return [int(i["conversation_id"]) for i in await ingest(inbox, ws.ingest_token, *messages)]


async def _triaged(triage: Any, token: str, cid: int) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def has_messages() -> bool:
        view = await triage.get(f"/v1/conversations/{cid}", headers=bearer(token))
        seen["view"] = await view.json()
        return view.status == 200 and bool(seen["view"]["messages"])

    await wait_until(has_messages, what="triage sees the conversation")
    return seen["view"]


async def test_a_rule_closes_spam_out_of_the_queue_named_as_the_reason_and_audited(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws = desk
    lead = await make_user(database_url, ws.id, "lead")
    made = await _write(
        triage,
        lead,
        {
            "name": "Close spam",
            "when": {"words": ["casino", "crypto"]},
            "then": [{"kind": "close", "reason": "spam"}],
        },
    )
    assert made.status == 201, await made.text()
    rule = await made.json()
    spam, plain = await _ingest(
        inbox, ws, message("r-spam", SPAM, author="7"), message("r-plain", PLAIN, author="8")
    )

    view = await _triaged(triage, ws.agent_token, spam)
    reason = "rule “Close spam”: closed as no answer (spam)"
    assert view["reasons"][0] == reason, view
    queue = await answer_when(triage, "/v1/queue", ws.agent_token, lambda b: plain in _ids(b))
    assert spam not in _ids(queue), "the closed spam stays out of the queue"
    audited = await sql(
        database_url,
        "SELECT conversation_id, detail FROM triage.audit_log "
        "WHERE workspace_id = :ws AND action = 'rule.fired'",
        ws=ws.id,
    )
    assert [(r.conversation_id, r.detail["rule"], r.detail["kind"]) for r in audited] == [
        (spam, "Close spam", "close")
    ]
    assert audited[0].detail["rule_id"] == rule["id"]
    metrics = await (await triage.get("/metrics")).text()
    assert 'ecoute_rules_fired_total{kind="close"} 1.0' in metrics


def _ids(body: dict[str, Any]) -> list[int]:
    return [i["conversation_id"] for i in body["items"]]


async def test_a_tag_rule_makes_the_queue_filter_find_the_conversation(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws = desk
    lead = await make_user(database_url, ws.id, "lead")
    tag = await (
        await triage.post("/v1/tags", headers=bearer(lead), json={"name": "Refund"})
    ).json()
    rule = {
        "name": "Refunds",
        "position": 2,
        "when": {"words": ["remboursé", "refund"]},
        "then": [{"kind": "tag", "tag_id": tag["id"]}, {"kind": "set_priority", "priority": "P2"}],
    }
    assert (await _write(triage, lead, rule)).status == 201
    off = {**rule, "name": "Switched off", "position": 1, "enabled": False}
    off["then"] = [{"kind": "close", "reason": "never"}]
    assert (await _write(triage, lead, off)).status == 201
    text_ = "Je n'ai jamais été REMBOURSE de ma commande, pouvez-vous m'aider ?"
    refund, plain = await _ingest(
        inbox, ws, message("t-1", text_, author="9"), message("t-2", PLAIN, author="10")
    )
    tagged = await answer_when(
        triage, "/v1/queue", ws.agent_token, lambda b: bool(b["items"]), tag=str(tag["id"])
    )
    assert _ids(tagged) == [refund]
    item = tagged["items"][0]
    assert [t["name"] for t in item["tags"]] == ["Refund"]
    assert item["priority"] == "P2"
    assert item["reasons"][:2] == ["rule “Refunds”: tagged “Refund”", "rule “Refunds”: priority P2"]
    await _triaged(triage, ws.agent_token, plain)
    listed = await (await triage.get("/v1/rules", headers=bearer(lead))).json()
    assert [r["name"] for r in listed["items"]] == ["Switched off", "Refunds"]  # by position


async def test_a_rule_that_does_not_fit_is_a_422_naming_the_field(
    desk: Any, database_url: str
) -> None:
    _, triage, ws = desk
    lead = await make_user(database_url, ws.id, "lead")
    close = [{"kind": "close", "reason": "spam"}]
    cases = [
        (
            {"name": "x", "then": [{"kind": "set_priority", "priority": "P5"}]},
            "/then/0/set_priority/priority",
        ),
        ({"name": "x", "when": {"intents": ["gossip"]}, "then": close}, "/when/intents/0"),
        ({"name": "x", "when": {"platforms": ["myspace"]}, "then": close}, "/when/platforms/0"),
        ({"name": "x", "then": [{"kind": "tag", "tag_id": 999999}]}, "/then/0/tag/tag_id"),
        ({"name": "x", "then": [{"kind": "route"}]}, "/then/0/route"),
        ({"name": "x", "then": [{"kind": "explode"}]}, "/then/0"),
        ({"name": "x", "then": []}, "/then"),
        ({"name": "", "then": close}, "/name"),
        ({"name": "x", "then": close, "colour": "red"}, "/colour"),
    ]
    for body, pointer in cases:
        refused = await _write(triage, lead, body)
        assert refused.status == 422, (body, await refused.text())
        problem = await refused.json()
        assert problem["errors"][0]["pointer"] == pointer, (body, problem)
    assert (await sql(database_url, "SELECT id FROM triage.rules")) == []


async def test_leads_change_reorder_and_remove_rules_and_agents_are_refused(
    desk: Any, database_url: str
) -> None:
    _, triage, ws = desk
    lead = await make_user(database_url, ws.id, "lead")
    body = {"name": "Notify", "then": [{"kind": "notify"}]}
    rule = await (await _write(triage, lead, body)).json()
    assert rule["enabled"] is True and rule["position"] == 0
    assert (await _write(triage, lead, {**body, "name": "notify"})).status == 409
    changed = await triage.put(
        f"/v1/rules/{rule['id']}",
        headers=bearer(lead),
        json={**body, "position": 7, "enabled": False},
    )
    assert changed.status == 200, await changed.text()
    assert (await changed.json())["enabled"] is False
    for method, path in (
        ("GET", "/v1/rules"),
        ("POST", "/v1/rules"),
        ("DELETE", f"/v1/rules/{rule['id']}"),
    ):
        refused = await triage.request(method, path, headers=bearer(ws.agent_token), json=body)
        assert refused.status == 403, (method, path)
    gone = await triage.delete(f"/v1/rules/{rule['id']}", headers=bearer(lead))
    assert (await gone.json()) == {"id": rule["id"]}
    again = await triage.delete(f"/v1/rules/{rule['id']}", headers=bearer(lead))
    assert again.status == 404
    actions = await sql(
        database_url, "SELECT action FROM triage.audit_log WHERE action LIKE 'rule.%' ORDER BY id"
    )
    assert [a.action for a in actions] == ["rule.create", "rule.change", "rule.delete"]


async def test_a_notify_rule_reaches_the_webhook_signed_and_a_route_rule_sets_the_skill(
    aiohttp_client: Any, aiohttp_server: Any, database_url: str
) -> None:
    """The notify action goes through the webhooks' own sender (signed like a breach), and a
    route action names the skill routing matches on."""
    hook = await hook_receiver(aiohttp_server)
    inbox, triage = await start_services(
        aiohttp_client, database_url, workers=False, consumer=False
    )
    ws = await make_workspace(database_url)
    admin = await make_user(database_url, ws.id, "admin")
    secret = await hook.subscribe(triage, admin)
    rule = {
        "name": "Escalate VIPs",
        "when": {"words": ["vip"], "author_seen_before": False},
        "then": [
            {"kind": "notify"},
            {"kind": "route", "language": "fr", "channel": "vip"},
            {"kind": "mark_abuse", "hide": True},
        ],
    }
    assert (await _write(triage, admin, rule)).status == 201
    (cid,) = await _ingest(inbox, ws, message("n-1", "I am a VIP and my order never arrived"))

    engine = create_engine(database_url, 2)
    try:
        assert await Consumer(engine, database_url, "triage", handle_batch).drain_once() == 1
        async with aiohttp.ClientSession() as session:
            hooks = Consumer(engine, database_url, webhooks.CONSUMER, webhooks.sender(session))
            assert await hooks.drain_once() == 1
    finally:
        await engine.dispose()

    ((body, headers),) = hook.received
    assert signed_with(secret, body, headers)
    payload = orjson.loads(body)
    assert (payload["type"], payload["rule"], payload["conversation_id"]) == (
        "rule.fired",
        "Escalate VIPs",
        cid,
    )
    assert "never arrived" not in body.decode(), "a webhook never carries message text"
    routed = await sql(
        database_url,
        "SELECT route_language, route_channel, abuse FROM triage.conversations WHERE id = :c",
        c=cid,
    )
    assert [tuple(r) for r in routed] == [("fr", "vip", True)]
    audited = await sql(
        database_url,
        "SELECT detail FROM triage.audit_log WHERE action = 'rule.fired' ORDER BY id",
    )
    assert [(a.detail["kind"], a.detail.get("hide")) for a in audited] == [
        ("notify", None),
        ("route", None),
        ("mark_abuse", True),  # the hide request is recorded (hiding itself: the inbox's)
    ]
