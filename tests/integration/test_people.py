"""The person behind a conversation through the API: their conversations on every channel
(by platform identity and by identities linked by hand), notes, and what an erasure leaves."""

from __future__ import annotations

from typing import Any

from tests.support.world import (
    answer_when,
    bearer,
    count,
    ingest,
    make_user,
    make_workspace,
    message,
    scalar,
)

PSID = "24000000000000001"


def messenger(external_id: str, text: str, minutes: float, name: str = "Jane Doe") -> Any:
    item = message(
        external_id, text, minutes=minutes, platform="messenger", channel="acme-dm", kind="dm"
    )
    item["author"] = {"external_id": PSID, "display_name": name}
    item["thread_id"] = PSID
    return item


MESSAGES = [
    message("x1", "@acme my order 7731 never arrived", minutes=0, author="9001"),
    message("x2", "@acme and nobody answers", minutes=5, author="9001"),
    messenger("m1", "Hello, I wrote on X yesterday about order 7731\nsecond line", minutes=60),
    message("x3", "@acme unrelated person", minutes=70, author="555"),
]


async def _ingest(inbox: Any, ws: Any) -> dict[str, int]:
    return {
        i["external_id"]: i["conversation_id"]
        for i in await ingest(inbox, ws.ingest_token, *MESSAGES)
    }


async def _person(triage: Any, token: str, path: str, ready: Any = lambda b: True) -> Any:
    return await answer_when(triage, f"/v1/people/{path}", token, ready)


async def test_a_person_linked_by_hand_shows_their_conversations_on_every_channel(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws = desk
    ids = await _ingest(inbox, ws)
    agent = ws.agent_token
    alone = await _person(triage, agent, f"messenger/{PSID}")
    assert [(i["platform"], i["display_name"], i["link"]) for i in alone["identities"]] == [
        ("messenger", "Jane Doe", None)
    ]
    assert [c["id"] for c in alone["conversations"]] == [ids["m1"]]
    assert alone["conversations"][0]["first_line"] == (
        "Hello, I wrote on X yesterday about order 7731"
    )

    # The agent links the customer's X handle (typed with an @ and capitals).
    made = await triage.post(
        f"/v1/people/messenger/{PSID}/links",
        headers=bearer(agent),
        json={"platform": "x", "handle": "@User9001"},
    )
    assert made.status == 201, await made.text()
    person = (await made.json())["person"]
    x = person["identities"][1]
    assert (x["platform"], x["author_id"], x["handle"]) == ("x", "9001", "user9001")
    assert x["link"]["linked_by"]
    # Both X mentions (two conversations) and the DM, the latest activity first.
    assert [(c["id"], c["platform"], c["status"]) for c in person["conversations"]] == [
        (ids["m1"], "messenger", "open"),
        (ids["x2"], "x", "open"),
        (ids["x1"], "x", "open"),
    ]
    assert ids["x3"] not in [c["id"] for c in person["conversations"]]
    again = await triage.post(
        f"/v1/people/messenger/{PSID}/links",
        headers=bearer(agent),
        json={"platform": "x", "author_id": "9001"},
    )
    assert again.status == 200  # the same identity: the same link

    # From the X side, the same person: the Messenger identity and conversation show.
    seen_from_x = await _person(triage, agent, "x/9001")
    assert [i["platform"] for i in seen_from_x["identities"]] == ["x", "messenger"]
    assert ids["m1"] in [c["id"] for c in seen_from_x["conversations"]]

    note = await triage.post(
        "/v1/people/x/9001/notes", headers=bearer(agent), json={"text": "Prefers French"}
    )
    assert note.status == 201, await note.text()
    shown = await _person(triage, agent, f"messenger/{PSID}")
    assert [(n["text"], bool(n["author_name"])) for n in shown["notes"]] == [
        ("Prefers French", True)
    ]

    unlinked = await triage.delete(
        f"/v1/people/messenger/{PSID}/links/{x['link']['id']}", headers=bearer(agent)
    )
    assert unlinked.status == 200
    after = await unlinked.json()
    assert [i["platform"] for i in after["identities"]] == ["messenger"]
    assert [c["id"] for c in after["conversations"]] == [ids["m1"]]
    assert after["notes"] == []  # written about the X identity, which is no longer theirs
    gone = await triage.delete(
        f"/v1/people/messenger/{PSID}/links/{x['link']['id']}", headers=bearer(agent)
    )
    assert gone.status == 404
    audited = "SELECT count(*) FROM triage.audit_log WHERE action LIKE 'person.%'"
    assert await count(database_url, audited) == 3  # linked, noted, unlinked


async def test_refusals_and_another_workspace(desk: Any, database_url: str) -> None:
    inbox, triage, ws = desk
    await _ingest(inbox, ws)
    agent = ws.agent_token
    await _person(triage, agent, f"messenger/{PSID}")
    unknown = await triage.get("/v1/people/messenger/999", headers=bearer(agent))
    assert unknown.status == 404
    bad = await triage.get(f"/v1/people/myspace/{PSID}", headers=bearer(agent))
    assert bad.status == 404
    itself = await triage.post(
        f"/v1/people/messenger/{PSID}/links",
        headers=bearer(agent),
        json={"platform": "messenger", "author_id": PSID},
    )
    assert itself.status == 422
    empty = await triage.post(
        f"/v1/people/messenger/{PSID}/links", headers=bearer(agent), json={"platform": "x"}
    )
    assert empty.status == 422
    # A withheld author (Meta's Instagram mentions) is nobody: never one "person" for all.
    withheld = message("ig1", "@acme love it", platform="instagram", channel="acme-ig")
    withheld["author"] = {"external_id": "unknown"}
    (sent,) = await ingest(inbox, ws.ingest_token, withheld)
    cid = sent["conversation_id"]
    await answer_when(triage, f"/v1/conversations/{cid}", agent, lambda b: b["messages"])
    nobody = await triage.get("/v1/people/instagram/unknown", headers=bearer(agent))
    assert nobody.status == 404
    placeholder = await triage.post(
        f"/v1/people/messenger/{PSID}/links",
        headers=bearer(agent),
        json={"platform": "instagram", "author_id": "unknown"},
    )
    assert placeholder.status == 422
    blank = await triage.post(
        f"/v1/people/messenger/{PSID}/notes", headers=bearer(agent), json={"text": "   "}
    )
    assert blank.status == 422

    other = await make_workspace(database_url, "Other care")
    for method, path, body in (
        ("GET", f"/v1/people/messenger/{PSID}", None),
        ("POST", f"/v1/people/messenger/{PSID}/notes", {"text": "hello"}),
        ("POST", f"/v1/people/messenger/{PSID}/links", {"platform": "x", "handle": "user9001"}),
    ):
        answer = await triage.request(method, path, headers=bearer(other.agent_token), json=body)
        assert answer.status == 404, (method, path)
    notes = "SELECT count(*) FROM triage.person_notes"
    assert await count(database_url, notes) == 0


async def test_an_erasure_removes_the_persons_links_and_notes(desk: Any, database_url: str) -> None:
    inbox, triage, ws = desk
    await _ingest(inbox, ws)
    agent = ws.agent_token
    admin = await make_user(database_url, ws.id, "admin")
    await _person(triage, agent, f"messenger/{PSID}")
    await triage.post(
        f"/v1/people/messenger/{PSID}/links",
        headers=bearer(agent),
        json={"platform": "x", "handle": "user9001"},
    )
    for path in (f"messenger/{PSID}", "x/9001"):
        await triage.post(
            f"/v1/people/{path}/notes", headers=bearer(agent), json={"text": "VIP, be quick"}
        )
    await triage.post(  # someone else's note stays
        "/v1/people/x/555/notes", headers=bearer(agent), json={"text": "other person"}
    )
    erased = await triage.post(
        "/v1/privacy/erasures",
        headers=bearer(admin),
        json={"identities": [{"platform": "messenger", "author_id": PSID}]},
    )
    assert erased.status == 202, await erased.text()
    assert await count(database_url, "SELECT count(*) FROM triage.person_links") == 0
    left = "SELECT string_agg(text, ',') FROM triage.person_notes"
    assert await count(database_url, "SELECT count(*) FROM triage.person_notes") == 1
    assert await scalar(database_url, left) == "other person"
    gone = await triage.get(f"/v1/people/messenger/{PSID}", headers=bearer(agent))
    assert gone.status == 404  # no message of theirs is left to open a person from
    x_side = await _person(triage, agent, "x/9001")
    assert [i["platform"] for i in x_side["identities"]] == ["x"] and x_side["notes"] == []
