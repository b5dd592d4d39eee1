"""Incidents on the desk: the queue's badge and filter, the incident view, and what a lead
does by hand (status note, merge, split, close, reopen), against a real Postgres."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text

from ecoute.v1 import events_pb2
from services.infra.db import create_engine
from tests.integration.test_desk import conversation
from tests.support.incidents import make_incident
from tests.support.world import (
    bearer,
    count,
    make_user,
    make_workspace,
    sql,
    start_services,
)

# Different problems, so nothing here looks like a burst to the detector.
TEXTS = (
    "My internet has been down since this morning, please help",
    "The invoice for October charged me twice, can you refund?",
    "How do I change the delivery address of my parcel?",
    "The app crashes when I open my account settings",
    "Je n'arrive pas à me connecter à mon espace client",
)
TOPICS = ("incident.merged", "incident.split", "incident.closed", "incident.reopened")


@pytest.fixture
async def desk(aiohttp_client: Any, database_url: str) -> Any:
    inbox, triage = await start_services(aiohttp_client, database_url, workers=False)
    ws = await make_workspace(database_url)
    lead = await make_user(database_url, ws.id, "lead")
    return inbox, triage, ws, lead


async def conversations(inbox: Any, triage: Any, ws: Any, n: int) -> list[int]:
    return [
        await conversation(inbox, triage, ws, f"i{i}", TEXTS[i], author=str(100 + i))
        for i in range(n)
    ]


async def subscribe(database_url: str, *topics: str) -> None:
    """A listener for incident events (no service consumes them yet), to see them published."""
    engine = create_engine(database_url, 1)
    try:
        async with engine.begin() as conn:
            for topic in topics:
                await conn.execute(
                    text(
                        "INSERT INTO events.subscription (topic, consumer) "
                        "VALUES (:topic, 'incident-test')"
                    ),
                    {"topic": topic},
                )
    finally:
        await engine.dispose()


async def events(database_url: str) -> list[tuple[str, events_pb2.IncidentChanged]]:
    rows = await sql(
        database_url,
        "SELECT topic, payload FROM events.outbox WHERE consumer = 'incident-test' ORDER BY id",
    )
    return [(r.topic, events_pb2.IncidentChanged.FromString(r.payload)) for r in rows]


async def view(triage: Any, token: str, iid: int) -> dict[str, Any]:
    answer = await triage.get(f"/v1/incidents/{iid}", headers=bearer(token))
    assert answer.status == 200, await answer.text()
    result: dict[str, Any] = await answer.json()
    return result


async def test_the_queue_shows_each_conversations_incident_and_filters_by_it(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws, _ = desk
    first, second, alone = await conversations(inbox, triage, ws, 3)
    iid = await make_incident(database_url, ws.id, [first, second], "internet down")

    queue = await (await triage.get("/v1/queue", headers=bearer(ws.agent_token))).json()
    badges = {item["conversation_id"]: item["incident"] for item in queue["items"]}
    assert (
        badges[first]
        == badges[second]
        == {
            "id": iid,
            "label": "internet down",
            "status": "open",
            "kind": "customer",
        }
    )
    assert badges[alone] is None

    only = await (
        await triage.get(f"/v1/queue?incident={iid}", headers=bearer(ws.agent_token))
    ).json()
    assert sorted(i["conversation_id"] for i in only["items"]) == sorted([first, second])
    for bad in ("abc", "0", "-1"):
        refused = await triage.get(f"/v1/queue?incident={bad}", headers=bearer(ws.agent_token))
        assert refused.status == 422
        assert "/query/incident" in (await refused.json())["detail"]

    shown = await (
        await triage.get(f"/v1/conversations/{first}", headers=bearer(ws.agent_token))
    ).json()
    assert shown["incident"]["id"] == iid and shown["incident"]["label"] == "internet down"
    plain = await (
        await triage.get(f"/v1/conversations/{alone}", headers=bearer(ws.agent_token))
    ).json()
    assert plain["incident"] is None


async def test_agents_read_an_incident_with_its_conversations_samples_and_history(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws, _ = desk
    first, second = await conversations(inbox, triage, ws, 2)
    iid = await make_incident(database_url, ws.id, [first, second], "internet down")

    listed = await (await triage.get("/v1/incidents", headers=bearer(ws.agent_token))).json()
    assert [i["id"] for i in listed["items"]] == [iid]
    assert listed["items"][0]["message_count"] == 2
    assert (
        await (
            await triage.get("/v1/incidents?status=closed", headers=bearer(ws.agent_token))
        ).json()
    )["items"] == []
    bad = await triage.get("/v1/incidents?status=gone", headers=bearer(ws.agent_token))
    assert bad.status == 422

    shown = await view(triage, ws.agent_token, iid)
    assert shown["label"] == "internet down" and shown["status"] == "open"
    assert shown["author_count"] == 2 and shown["platforms"] == ["x"]
    assert {c["conversation_id"] for c in shown["conversations"]} == {first, second}
    assert all(c["in_queue"] and c["status"] == "open" for c in shown["conversations"])
    assert {s["text"] for s in shown["samples"]} == {TEXTS[0], TEXTS[1]}
    assert [h["change"] for h in shown["history"]] == ["opened"]
    assert shown["status_note"] == ""
    for path in ("/v1/incidents/999999", "/v1/incidents/abc"):
        assert (await triage.get(path, headers=bearer(ws.agent_token))).status == 404


async def test_only_leads_change_incidents_and_another_workspaces_incident_is_not_found(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws, lead = desk
    (first,) = await conversations(inbox, triage, ws, 1)
    iid = await make_incident(database_url, ws.id, [first])
    other = await make_workspace(database_url, "Other care")
    other_lead = await make_user(database_url, other.id, "lead")

    writes = [
        ("PUT", f"/v1/incidents/{iid}/note", {"text": "We are on it."}),
        ("POST", f"/v1/incidents/{iid}/close", None),
        ("POST", f"/v1/incidents/{iid}/split", {"conversation_ids": [first]}),
    ]
    for method, path, body in writes:
        refused = await triage.request(method, path, json=body, headers=bearer(ws.agent_token))
        assert refused.status == 403
        hidden = await triage.request(method, path, json=body, headers=bearer(other_lead))
        assert hidden.status == 404
    assert (await triage.get(f"/v1/incidents/{iid}", headers=bearer(other_lead))).status == 404
    listed = await (await triage.get("/v1/incidents", headers=bearer(other_lead))).json()
    assert listed["items"] == []
    other_queue = await triage.get(f"/v1/queue?incident={iid}", headers=bearer(other_lead))
    assert (await other_queue.json())["items"] == []
    # Merging another workspace's incident in: it does not exist here.
    (theirs_conv,) = [await conversation(inbox, triage, other, "o1", TEXTS[3], author="9")]
    theirs = await make_incident(database_url, other.id, [theirs_conv])
    merged = await triage.post(
        f"/v1/incidents/{iid}/merge", json={"incident_id": theirs}, headers=bearer(lead)
    )
    assert merged.status == 422
    assert (await view(triage, other_lead, theirs))["status"] == "open"

    # A lead signed in with a session cookie needs the CSRF token to write.
    await make_user(database_url, ws.id, "lead", email="lea@acme.test", password="lead-pass-1")
    signed = await triage.post(
        "/v1/auth/login", json={"email": "lea@acme.test", "password": "lead-pass-1"}
    )
    csrf = (await signed.json())["csrf_token"]
    path = f"/v1/incidents/{iid}/note"
    assert (await triage.put(path, json={"text": "Fixing."})).status == 403
    written = await triage.put(path, json={"text": "Fixing."}, headers={"X-CSRF-Token": csrf})
    assert written.status == 200
    assert (await written.json())["status_note"] == "Fixing."


async def test_a_merge_moves_the_conversations_and_closes_the_other_incident(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws, lead = desk
    await subscribe(database_url, *TOPICS)
    a1, a2, b1, m1 = await conversations(inbox, triage, ws, 4)
    a = await make_incident(database_url, ws.id, [a1, a2], "internet down")
    b = await make_incident(database_url, ws.id, [b1], "no connection")
    moderation = await make_incident(database_url, ws.id, [m1], "insults", kind="moderation")

    itself = await triage.post(
        f"/v1/incidents/{a}/merge", json={"incident_id": a}, headers=bearer(lead)
    )
    assert itself.status == 422
    kinds = await triage.post(
        f"/v1/incidents/{a}/merge", json={"incident_id": moderation}, headers=bearer(lead)
    )
    assert kinds.status == 409 and "moderation" in (await kinds.json())["detail"]

    merged = await triage.post(
        f"/v1/incidents/{a}/merge", json={"incident_id": b}, headers=bearer(lead)
    )
    assert merged.status == 200, await merged.text()
    after = await merged.json()
    assert {c["conversation_id"] for c in after["conversations"]} == {a1, a2, b1}
    assert after["message_count"] == 3 and after["author_count"] == 3
    assert after["history"][0]["change"] == "merged"
    assert after["history"][0]["detail"] == {"from": b, "conversation_ids": [b1]}

    gone = await view(triage, ws.agent_token, b)
    assert gone["status"] == "closed" and gone["close_reason"] == "merged"
    assert gone["merged_into"] == a and gone["conversations"] == []
    assert gone["history"][0]["detail"]["into"] == a
    queue = await (await triage.get("/v1/queue", headers=bearer(ws.agent_token))).json()
    assert {i["conversation_id"]: i["incident"]["id"] for i in queue["items"]}[b1] == a

    again = await triage.post(
        f"/v1/incidents/{a}/merge", json={"incident_id": b}, headers=bearer(lead)
    )
    assert again.status == 409
    assert (await triage.post(f"/v1/incidents/{b}/reopen", headers=bearer(lead))).status == 409
    assert (await triage.post(f"/v1/incidents/{a}/close", headers=bearer(lead))).status == 200
    into_closed = await triage.post(
        f"/v1/incidents/{a}/merge", json={"incident_id": moderation}, headers=bearer(lead)
    )
    assert into_closed.status == 409

    published = await events(database_url)
    assert [t for t, _ in published] == ["incident.merged", "incident.closed"]
    _, event = published[0]
    assert event.incident_id == a and event.other_incident_id == b
    assert list(event.conversation_ids) == [b1] and event.message_count == 3
    assert (
        await count(
            database_url,
            "SELECT count(*) FROM triage.audit_log WHERE action = 'incident_merged' "
            "AND workspace_id = :ws",
            ws=ws.id,
        )
        == 1
    )
    assert (
        await count(
            database_url,
            "SELECT count(DISTINCT conversation_id) FROM triage.changes "
            "WHERE change = 'incident' AND workspace_id = :ws",
            ws=ws.id,
        )
        == 3
    )


async def test_a_split_moves_the_chosen_conversations_to_a_new_incident(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws, lead = desk
    await subscribe(database_url, *TOPICS)
    first, second, third, outside = await conversations(inbox, triage, ws, 4)
    iid = await make_incident(database_url, ws.id, [first, second, third], "outage")
    path = f"/v1/incidents/{iid}/split"

    refusals = {
        422: [{"conversation_ids": []}, {"conversation_ids": [outside]}, {"label": "x"}],
        409: [{"conversation_ids": [first, second, third]}],
    }
    for status, bodies in refusals.items():
        for body in bodies:
            refused = await triage.post(path, json=body, headers=bearer(lead))
            assert refused.status == status, (body, await refused.text())
    blank = await triage.post(
        path, json={"conversation_ids": [third], "label": "  "}, headers=bearer(lead)
    )
    assert blank.status == 422

    split = await triage.post(
        path, json={"conversation_ids": [third], "label": "billing"}, headers=bearer(lead)
    )
    assert split.status == 201, await split.text()
    new = await split.json()
    assert split.headers["Location"] == f"/v1/incidents/{new['id']}"
    assert new["label"] == "billing" and new["status"] == "open"
    assert [c["conversation_id"] for c in new["conversations"]] == [third]
    assert new["message_count"] == 1
    assert new["history"][0]["detail"] == {"from": iid, "conversation_ids": [third]}
    parent = await view(triage, ws.agent_token, iid)
    assert {c["conversation_id"] for c in parent["conversations"]} == {first, second}
    assert parent["message_count"] == 2
    assert parent["history"][0]["change"] == "split"

    unnamed = await triage.post(path, json={"conversation_ids": [second]}, headers=bearer(lead))
    assert unnamed.status == 201
    # Unnamed, it is labelled with its own messages' words (the detector's label).
    assert "invoice" in (await unnamed.json())["label"]

    published = await events(database_url)
    assert [t for t, _ in published] == ["incident.split", "incident.split"]
    assert published[0][1].other_incident_id == new["id"]


async def test_closing_an_incident_never_resolves_its_conversations(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws, lead = desk
    await subscribe(database_url, *TOPICS)
    first, second = await conversations(inbox, triage, ws, 2)
    iid = await make_incident(database_url, ws.id, [first, second])

    closed = await triage.post(f"/v1/incidents/{iid}/close", headers=bearer(lead))
    assert closed.status == 200
    shown = await closed.json()
    assert shown["status"] == "closed" and shown["close_reason"] == "manual"
    assert shown["closed_by_name"] == "Lead"
    assert all(c["status"] == "open" and c["in_queue"] for c in shown["conversations"])
    queue = await (await triage.get("/v1/queue", headers=bearer(ws.agent_token))).json()
    waiting = {i["conversation_id"]: i["incident"] for i in queue["items"]}
    assert first in waiting and second in waiting
    assert waiting[first]["status"] == "closed"
    assert (
        await count(
            database_url,
            "SELECT count(*) FROM triage.conversations WHERE workspace_id = :ws "
            "AND status = 'open' AND needs_answer",
            ws=ws.id,
        )
        == 2
    )
    assert (await triage.post(f"/v1/incidents/{iid}/close", headers=bearer(lead))).status == 409

    reopened = await triage.post(f"/v1/incidents/{iid}/reopen", headers=bearer(lead))
    assert reopened.status == 200
    back = await reopened.json()
    assert back["status"] == "open"
    # The quiet period counts from the reopening: the detector does not close it at once.
    assert datetime.fromisoformat(back["last_seen"]) > datetime.fromisoformat(shown["last_seen"])
    assert (await triage.post(f"/v1/incidents/{iid}/reopen", headers=bearer(lead))).status == 409
    history = [h["change"] for h in (await view(triage, lead, iid))["history"]]
    assert history == ["reopened", "closed", "opened"]
    published = await events(database_url)
    assert [(t, e.close_reason) for t, e in published] == [
        ("incident.closed", "manual"),
        ("incident.reopened", ""),
    ]
    assert (
        await count(
            database_url,
            "SELECT count(*) FROM triage.audit_log WHERE workspace_id = :ws "
            "AND action IN ('incident_closed', 'incident_reopened')",
            ws=ws.id,
        )
        == 2
    )


async def test_a_reply_started_from_the_status_note_stays_a_reply_to_one_person(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws, lead = desk
    await subscribe(database_url, "incident.note_changed")
    first, second, third, outside = await conversations(inbox, triage, ws, 4)
    iid = await make_incident(database_url, ws.id, [first, second, third])
    note = "We know the network is down in the north-east; engineers expect it back by 18:00."
    path = f"/v1/incidents/{iid}/note"
    too_long = await triage.put(path, json={"text": "x" * 5001}, headers=bearer(lead))
    assert too_long.status == 422
    written = await triage.put(path, json={"text": note}, headers=bearer(lead))
    assert written.status == 200
    shown = await written.json()
    assert shown["status_note"] == note and shown["note_by_name"] == "Lead"
    assert shown["history"][0]["change"] == "note"
    same_again = await triage.put(path, json={"text": note}, headers=bearer(lead))
    assert same_again.status == 200  # nothing changed: no second history row or event
    assert [t for t, _ in await events(database_url)] == ["incident.note_changed"]

    conv = await (
        await triage.get(f"/v1/conversations/{first}", headers=bearer(ws.agent_token))
    ).json()
    assert conv["incident"]["status_note"] == note

    async def reply(cid: int, body: str, **extra: Any) -> Any:
        await triage.post(f"/v1/conversations/{cid}/claim", headers=bearer(ws.agent_token))
        return await triage.post(
            f"/v1/conversations/{cid}/replies",
            headers=bearer(ws.agent_token),
            json={"text": body, "incident_id": iid, **extra},
        )

    unchanged = await reply(first, note)
    assert unchanged.status == 202
    warnings = (await unchanged.json())["warnings"]
    assert len(warnings) == 1 and "status note word for word" in warnings[0]

    again = await reply(second, "  " + note.upper() + " ")  # case and spaces do not hide it
    warnings = (await again.json())["warnings"]
    assert any("1 other conversation" in w for w in warnings)
    assert any("word for word" in w for w in warnings)

    personal = await reply(third, "Hello Sam, " + note + " Your line is in that area.")
    assert personal.status == 202
    assert (await personal.json())["warnings"] == []

    not_member = await reply(outside, note)
    assert not_member.status == 422
    assert "/incident_id" in (await not_member.json())["detail"]
    both = await reply(outside, "hello", saved_reply_id=str(uuid.uuid4()))
    assert both.status == 422

    metrics = await (await triage.get("/metrics")).text()
    assert 'ecoute_replies_requested_total{origin="incident_note_unchanged"} 2.0' in metrics
    assert 'ecoute_replies_requested_total{origin="incident_note_personalised"} 1.0' in metrics
    assert 'ecoute_replies_requested_total{origin="written"} 0.0' in metrics
    assert (
        await count(
            database_url,
            "SELECT count(*) FROM triage.audit_log WHERE action = 'replied' "
            "AND detail->>'origin' = 'incident_note_unchanged'",
        )
        == 2
    )


async def test_the_live_stream_tells_the_desk_when_a_conversations_incident_changes(
    desk: Any, database_url: str
) -> None:
    from tests.integration.test_desk import next_change

    inbox, triage, ws, lead = desk
    first, second = await conversations(inbox, triage, ws, 2)
    a = await make_incident(database_url, ws.id, [first])
    b = await make_incident(database_url, ws.id, [second])
    stream = await triage.get("/v1/stream", headers=bearer(ws.agent_token))
    assert stream.status == 200
    merged = await triage.post(
        f"/v1/incidents/{a}/merge", json={"incident_id": b}, headers=bearer(lead)
    )
    assert merged.status == 200
    seen = set()
    while len(seen) < 2:
        _, data = await next_change(stream)
        if data["change"] == "incident":  # the stream also replays the last seconds' messages
            seen.add(data["conversation_id"])
    assert seen == {first, second}
    stream.close()
