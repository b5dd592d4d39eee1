"""Tags through the API: leads define them, agents tag, the queue filters and shows them."""

from __future__ import annotations

from typing import Any

from tests.integration.test_search import customers_wrote
from tests.support.world import answer_when, bearer, count, make_user, make_workspace


async def _tag(triage: Any, token: str, name: str, colour: str = "red") -> Any:
    return await triage.post(
        "/v1/tags", headers=bearer(token), json={"name": name, "colour": colour}
    )


async def test_a_tag_put_on_a_conversation_filters_the_queue_and_shows_on_it(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws = desk
    ids = await customers_wrote(inbox, ws)
    agent = ws.agent_token
    lead = await make_user(database_url, ws.id, "lead")
    await answer_when(triage, "/v1/queue", agent, lambda b: b["count"] == len(ids))

    made = await _tag(triage, lead, "Refund", "orange")
    assert made.status == 201, await made.text()
    refund = await made.json()
    assert refund["name"] == "Refund" and refund["colour"] == "orange"
    vip = await (await _tag(triage, lead, "VIP", "purple")).json()

    cid = ids["s1"]
    for tag in (refund, vip, refund):  # a second put changes nothing
        put = await triage.put(f"/v1/conversations/{cid}/tags/{tag['id']}", headers=bearer(agent))
        assert put.status == 200, await put.text()
    assert [t["name"] for t in (await put.json())["tags"]] == ["Refund", "VIP"]

    only = await answer_when(triage, "/v1/queue", agent, lambda b: True, tag=str(refund["id"]))
    assert [i["conversation_id"] for i in only["items"]] == [cid]
    assert [t["name"] for t in only["items"][0]["tags"]] == ["Refund", "VIP"]
    everything = await answer_when(triage, "/v1/queue", agent, lambda b: True)
    untagged = [i["tags"] for i in everything["items"] if i["conversation_id"] != cid]
    assert untagged == [[]] * (len(ids) - 1)
    shown = await (await triage.get(f"/v1/conversations/{cid}", headers=bearer(agent))).json()
    assert [t["id"] for t in shown["tags"]] == [refund["id"], vip["id"]]

    off = await triage.delete(f"/v1/conversations/{cid}/tags/{refund['id']}", headers=bearer(agent))
    assert [t["name"] for t in (await off.json())["tags"]] == ["VIP"]
    after = await answer_when(triage, "/v1/queue", agent, lambda b: True, tag=str(refund["id"]))
    assert after["items"] == []

    stats = await (await triage.get("/v1/stats", headers=bearer(lead))).json()
    assert stats["per_tag"] == [
        {"id": refund["id"], "name": "Refund", "colour": "orange", "waiting": 0, "tagged": 0},
        {"id": vip["id"], "name": "VIP", "colour": "purple", "waiting": 1, "tagged": 1},
    ]

    audited = "SELECT count(*) FROM triage.audit_log WHERE action LIKE 'tag.%'"
    assert await count(database_url, audited) == 5  # 2 created, 2 put, 1 taken off
    news = "SELECT count(*) FROM triage.changes WHERE change = 'tags' AND conversation_id = :c"
    assert await count(database_url, news, c=cid) == 3

    gone = await triage.delete(f"/v1/tags/{vip['id']}", headers=bearer(lead))
    assert (await gone.json()) == {"id": vip["id"], "untagged": 1}
    shown = await (await triage.get(f"/v1/conversations/{cid}", headers=bearer(agent))).json()
    assert shown["tags"] == []
    listed = await (await triage.get("/v1/tags", headers=bearer(agent))).json()
    assert [t["name"] for t in listed["items"]] == ["Refund"]


async def test_names_are_unique_per_workspace_and_only_leads_define_tags(
    desk: Any, database_url: str
) -> None:
    _, triage, ws = desk
    lead = await make_user(database_url, ws.id, "lead")
    assert (await _tag(triage, lead, "Refund")).status == 201
    taken = await _tag(triage, lead, "refund")
    assert taken.status == 409
    assert (await taken.json())["errors"][0]["pointer"] == "/name"
    assert (await _tag(triage, ws.agent_token, "Agent's")).status == 403
    for bad in ("", " ", "x" * 41, "two\nlines"):
        refused = await _tag(triage, lead, bad)
        assert refused.status == 422, bad
        assert (await refused.json())["errors"][0]["pointer"] == "/name"
    odd = await triage.post(
        "/v1/tags", headers=bearer(lead), json={"name": "Odd", "colour": "#ff0000"}
    )
    assert odd.status == 422
    assert (await _tag(triage, lead, "x" * 40)).status == 201

    other = await make_workspace(database_url, "Other care")
    other_lead = await make_user(database_url, other.id, "lead")
    assert (await _tag(triage, other_lead, "Refund")).status == 201, "unique per workspace only"


async def test_another_workspaces_tag_or_conversation_is_not_found(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws = desk
    ids = await customers_wrote(inbox, ws)
    lead = await make_user(database_url, ws.id, "lead")
    mine = await (await _tag(triage, lead, "Mine")).json()
    other = await make_workspace(database_url, "Other care")
    other_lead = await make_user(database_url, other.id, "lead")
    theirs = await (await _tag(triage, other_lead, "Theirs")).json()

    cid = ids["s2"]
    foreign_tag = await triage.put(
        f"/v1/conversations/{cid}/tags/{theirs['id']}", headers=bearer(ws.agent_token)
    )
    assert foreign_tag.status == 404
    foreign_conversation = await triage.put(
        f"/v1/conversations/{cid}/tags/{mine['id']}", headers=bearer(other.agent_token)
    )
    assert foreign_conversation.status == 404
    assert (await triage.delete(f"/v1/tags/{mine['id']}", headers=bearer(other_lead))).status == 404
    queue = await triage.get("/v1/queue", params={"tag": "x"}, headers=bearer(ws.agent_token))
    assert queue.status == 422
    assert (await queue.json())["errors"][0]["pointer"] == "/query/tag"
    assert await count(database_url, "SELECT count(*) FROM triage.conversation_tags") == 0


async def test_a_lead_renames_and_recolours_a_tag_and_its_conversations_show_it(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws = desk
    ids = await customers_wrote(inbox, ws)
    lead = await make_user(database_url, ws.id, "lead")
    await answer_when(triage, "/v1/queue", ws.agent_token, lambda b: b["count"] == len(ids))
    refund = await (await _tag(triage, lead, "Refund", "orange")).json()
    await _tag(triage, lead, "VIP")
    cid = ids["s1"]
    await triage.put(f"/v1/conversations/{cid}/tags/{refund['id']}", headers=bearer(lead))

    path = f"/v1/tags/{refund['id']}"
    changed = await triage.put(
        path, headers=bearer(lead), json={"name": "Refunds", "colour": "green"}
    )
    assert (await changed.json()) == {"id": refund["id"], "name": "Refunds", "colour": "green"}
    shown = await (await triage.get(f"/v1/conversations/{cid}", headers=bearer(lead))).json()
    assert shown["tags"] == [{"id": refund["id"], "name": "Refunds", "colour": "green"}]
    taken = await triage.put(path, headers=bearer(lead), json={"name": "vip", "colour": "red"})
    assert taken.status == 409 and (await taken.json())["errors"][0]["pointer"] == "/name"
    agent = await triage.put(path, headers=bearer(ws.agent_token), json={"name": "X"})
    assert agent.status == 403
    unknown = await triage.put("/v1/tags/999999", headers=bearer(lead), json={"name": "X"})
    assert unknown.status == 404
    news = "SELECT count(*) FROM triage.changes WHERE change = 'tags' AND conversation_id = :c"
    assert await count(database_url, news, c=cid) == 2  # put on, then renamed
