"""POST /v1/ingest against a real Postgres: stored exactly once, threaded, refused cleanly."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ecoute.v1 import ingest_pb2
from services.inbox.app import create_app
from tests.support.world import bearer, count, inbox_settings, make_workspace, message


@pytest.fixture
async def inbox(aiohttp_client: Any, database_url: str) -> Any:
    return await aiohttp_client(
        create_app(inbox_settings(database_url, max_body_bytes=64_000, max_batch_messages=50))
    )


async def post(client: Any, token: str, messages: list[dict[str, Any]]) -> Any:
    return await client.post("/v1/ingest", json={"messages": messages}, headers=bearer(token))


async def test_batch_is_stored_once_and_resend_changes_nothing(
    inbox: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    batch = [message("1001"), message("1002", author="43"), message("1003", author="44")]
    first = await post(inbox, ws.ingest_token, batch)
    assert first.status == 200
    body = await first.json()
    assert (body["stored"], body["duplicates"]) == (3, 0)
    assert [i["status"] for i in body["items"]] == ["stored"] * 3

    again = await (await post(inbox, ws.ingest_token, batch)).json()
    assert (again["stored"], again["duplicates"]) == (0, 3)
    assert [i["message_id"] for i in again["items"]] == [i["message_id"] for i in body["items"]]

    overlap = await (
        await post(inbox, ws.ingest_token, [message("1003", author="44"), message("1004")])
    ).json()
    assert [i["status"] for i in overlap["items"]] == ["duplicate", "stored"]
    assert await count(database_url, "SELECT count(*) FROM inbox.messages") == 4
    assert (
        await count(
            database_url,
            "SELECT count(*) FROM events.outbox "
            "WHERE topic = 'message.ingested' AND consumer = 'triage'",
        )
        == 4
    )


async def test_same_message_twice_in_one_batch_is_stored_once(
    inbox: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    body = await (await post(inbox, ws.ingest_token, [message("7"), message("7")])).json()
    assert [i["status"] for i in body["items"]] == ["stored", "duplicate"]
    assert body["items"][0]["message_id"] == body["items"][1]["message_id"]
    assert await count(database_url, "SELECT count(*) FROM inbox.messages") == 1


async def test_same_message_sent_concurrently_is_stored_once(inbox: Any, database_url: str) -> None:
    ws = await make_workspace(database_url)
    batch = [message(str(n), author=str(n % 3)) for n in range(20)]
    answers = await asyncio.gather(*(post(inbox, ws.ingest_token, batch) for _ in range(8)))
    bodies = [await a.json() for a in answers]
    assert all(a.status == 200 for a in answers)
    assert sum(b["stored"] for b in bodies) == 20
    assert sum(b["duplicates"] for b in bodies) == 7 * 20
    assert await count(database_url, "SELECT count(*) FROM inbox.messages") == 20
    assert await count(database_url, "SELECT count(*) FROM inbox.authors") == 3
    assert await count(database_url, "SELECT count(*) FROM events.outbox") == 20
    ids = {tuple(i["message_id"] for i in b["items"]) for b in bodies}
    assert len(ids) == 1, "every answer names the same stored messages"


async def test_replies_and_dms_are_threaded(inbox: Any, database_url: str) -> None:
    ws = await make_workspace(database_url)
    root = await (await post(inbox, ws.ingest_token, [message("r1")])).json()
    later = await (
        await post(
            inbox,
            ws.ingest_token,
            [
                message("r2", "still waiting", minutes=5, in_reply_to="r1"),
                message("r3", "any news?", minutes=6, in_reply_to="r2"),
                message("d1", "hi, my parcel is late", kind="dm", thread_id="dm-9", author="9"),
                message("d2", "order 4411", kind="dm", thread_id="dm-9", author="9", minutes=1),
                message("other", "unrelated", author="77"),
            ],
        )
    ).json()
    conversation = {i["external_id"]: i["conversation_id"] for i in later["items"]}
    assert conversation["r2"] == conversation["r3"] == root["items"][0]["conversation_id"]
    assert conversation["d1"] == conversation["d2"]
    assert len({conversation["r2"], conversation["d1"], conversation["other"]}) == 3


async def test_camel_case_json_and_binary_protobuf_are_accepted(
    inbox: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    camel = {
        "platform": "mastodon",
        "channel": "masto",
        "externalId": "m1",
        "kind": "mention",
        "author": {"externalId": "a1", "displayName": "Ann"},
        "text": "hello",
        "createdAt": "2026-11-21T10:00:00+01:00",
        "inReplyTo": "",
    }
    response = await inbox.post(
        "/v1/ingest", json={"messages": [camel]}, headers=bearer(ws.ingest_token)
    )
    assert response.status == 200, await response.text()

    batch = ingest_pb2.IngestBatch()
    item = batch.messages.add(
        platform="bluesky",
        channel="sky",
        external_id="at://x/1",
        kind="mention",
        text="where is my parcel? 📦",
    )
    item.author.external_id = "did:plc:abc"
    item.created_at.FromJsonString("2026-11-21T10:00:00Z")
    response = await inbox.post(
        "/v1/ingest",
        data=batch.SerializeToString(),
        headers={
            **bearer(ws.ingest_token),
            "Content-Type": "application/x-protobuf",
            "Accept": "application/x-protobuf",
        },
    )
    assert response.status == 200
    result = ingest_pb2.IngestResult.FromString(await response.read())
    assert (result.stored, result.items[0].status) == (1, "stored")
    assert (
        await count(
            database_url,
            "SELECT count(*) FROM inbox.messages WHERE text = 'where is my parcel? 📦'",
        )
        == 1
    )


def _raw(body: bytes, content_type: str = "application/json") -> dict[str, Any]:
    return {"data": body, "headers": {"Content-Type": content_type}}


BAD_INPUTS = [
    ("malformed JSON", _raw(b'{"messages": [}'), 400, None),
    ("not UTF-8", _raw(b'{"messages": [{"text": "\xff"}]}'), 400, None),
    ("wrong content type", _raw(b"messages=1", "application/x-www-form-urlencoded"), 415, None),
    ("empty batch", {"json": {"messages": []}}, 422, "/messages"),
    ("not an object", {"json": [1, 2]}, 422, "/"),
    (
        "unknown field",
        {"json": {"messages": [message("1", colour="red")]}},
        422,
        "/messages/0/colour",
    ),
    (
        "missing field",
        {"json": {"messages": [{k: v for k, v in message("1").items() if k != "kind"}]}},
        422,
        "/messages/0/kind",
    ),
    ("wrong type", {"json": {"messages": [message("1", text=12)]}}, 422, "/messages/0/text"),
    (
        "unknown platform",
        {"json": {"messages": [message("1", platform="myspace")]}},
        422,
        "/messages/0/platform",
    ),
    (
        "invalid timestamp",
        {"json": {"messages": [message("1", created_at="2026-02-30T25:00Z")]}},
        422,
        "/messages/0/created_at",
    ),
    (
        "timestamp without zone",
        {"json": {"messages": [message("1", created_at="2026-11-21T10:00")]}},
        422,
        "/messages/0/created_at",
    ),
    (
        "NUL in text",
        {"json": {"messages": [message("1", text="a\u0000b")]}},
        422,
        "/messages/0/text",
    ),
    (
        "second item bad",
        {"json": {"messages": [message("1"), message("2", kind="tweet")]}},
        422,
        "/messages/1/kind",
    ),
    ("too many messages", {"json": {"messages": [message(str(n)) for n in range(51)]}}, 413, None),
    ("body over the limit", {"json": {"messages": [message("1", text="x" * 70_000)]}}, 413, None),
]


@pytest.mark.parametrize(
    ("case", "request_kwargs", "status", "pointer"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS]
)
async def test_bad_input_is_refused_with_a_problem_and_nothing_stored(
    inbox: Any,
    database_url: str,
    case: str,
    request_kwargs: dict[str, Any],
    status: int,
    pointer: str | None,
) -> None:
    ws = await make_workspace(database_url)
    headers = {**request_kwargs.pop("headers", {}), **bearer(ws.ingest_token)}
    response = await inbox.post("/v1/ingest", headers=headers, **request_kwargs)
    assert response.status == status
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["status"] == status and problem["title"]
    if pointer is not None:
        assert pointer in [e["pointer"] for e in problem["errors"]], problem
        assert pointer in problem["detail"]
    assert await count(database_url, "SELECT count(*) FROM inbox.messages") == 0
    assert await count(database_url, "SELECT count(*) FROM events.outbox") == 0


async def test_chunked_body_over_the_limit_is_refused_without_reading_it_all(
    inbox: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    sent = 0

    async def endless() -> Any:
        nonlocal sent
        for _ in range(1000):
            sent += 16_384
            yield b" " * 16_384

    response = await inbox.post(
        "/v1/ingest",
        data=endless(),
        headers={**bearer(ws.ingest_token), "Content-Type": "application/json"},
    )
    assert response.status == 413
    assert sent < 1000 * 16_384


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic abc", "Bearer "])
async def test_missing_or_wrong_token_is_401(
    inbox: Any, database_url: str, authorization: str | None
) -> None:
    await make_workspace(database_url)
    headers = {"Authorization": authorization} if authorization else {}
    response = await inbox.post("/v1/ingest", json={"messages": [message("1")]}, headers=headers)
    assert response.status == 401
    assert response.content_type == "application/problem+json"
    assert await count(database_url, "SELECT count(*) FROM inbox.messages") == 0


async def test_each_workspace_keeps_its_own_messages(inbox: Any, database_url: str) -> None:
    acme = await make_workspace(database_url, "Acme")
    globex = await make_workspace(database_url, "Globex")
    a = await (await post(inbox, acme.ingest_token, [message("same-id")])).json()
    g = await (await post(inbox, globex.ingest_token, [message("same-id")])).json()
    assert a["items"][0]["status"] == g["items"][0]["status"] == "stored"
    assert a["items"][0]["message_id"] != g["items"][0]["message_id"]
    assert (
        await count(
            database_url, "SELECT count(*) FROM inbox.messages WHERE workspace_id = :ws", ws=acme.id
        )
        == 1
    )
