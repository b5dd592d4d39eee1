"""The fake Bluesky follows platforms.md §4, so connector tests against it mean something."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from fakes.bluesky import CHAT_PROXY, BlueskyState, graphemes
from fakes.clock import ManualClock
from tests.fakes import T0, serve

JANE = "did:plc:abc123"
BOB = "did:plc:xyz789"
LIST = "/xrpc/app.bsky.notification.listNotifications"
CREATE = "/xrpc/com.atproto.repo.createRecord"
PROXY = {"atproto-proxy": CHAT_PROXY}


@pytest.fixture
def state(clock: ManualClock) -> BlueskyState:
    return BlueskyState(clock=clock)


async def login(client: TestClient[Any, Any]) -> dict[str, Any]:
    resp = await client.post(
        "/xrpc/com.atproto.server.createSession",
        json={"identifier": "acme.bsky.social", "password": "abcd-efgh-ijkl-mnop"},
    )
    assert resp.status == 200
    session: dict[str, Any] = await resp.json()
    return session


async def auth(client: TestClient[Any, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {(await login(client))['accessJwt']}"}


async def notifications(
    client: TestClient[Any, Any], headers: dict[str, str], query: str = ""
) -> dict[str, Any]:
    resp = await client.get(f"{LIST}?{query}", headers=headers)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return claims


# ----- sessions ----------------------------------------------------------------------------


async def test_create_session_returns_the_documented_fields(
    client: TestClient[Any, Any], state: BlueskyState
) -> None:
    session = await login(client)
    assert {"accessJwt", "refreshJwt", "did", "handle"} <= session.keys()
    assert session["did"] == state.did and session["handle"] == "acme.bsky.social"
    claims = jwt_claims(session["accessJwt"])
    assert claims["exp"] - claims["iat"] == 2 * 3600
    bad = await client.post(
        "/xrpc/com.atproto.server.createSession",
        json={"identifier": "acme.bsky.social", "password": "wrong"},
    )
    assert bad.status == 401 and (await bad.json())["error"] == "AuthenticationRequired"
    assert state.sessions_created == 1


async def test_refresh_rotates_and_the_old_refresh_token_is_revoked(
    client: TestClient[Any, Any],
) -> None:
    first = await login(client)
    old = {"Authorization": f"Bearer {first['refreshJwt']}"}
    resp = await client.post("/xrpc/com.atproto.server.refreshSession", headers=old)
    assert resp.status == 200
    second = await resp.json()
    assert second["refreshJwt"] != first["refreshJwt"]
    assert second["accessJwt"] != first["accessJwt"]
    reused = await client.post("/xrpc/com.atproto.server.refreshSession", headers=old)
    assert reused.status == 400
    assert await reused.json() == {"error": "ExpiredToken", "message": "Token has been revoked"}
    new = {"Authorization": f"Bearer {second['refreshJwt']}"}
    resp = await client.post("/xrpc/com.atproto.server.refreshSession", headers=new)
    assert resp.status == 200


async def test_refresh_grace_is_configurable(
    client: TestClient[Any, Any], state: BlueskyState, clock: ManualClock
) -> None:
    state.refresh_grace = timedelta(minutes=5)
    first = await login(client)
    old = {"Authorization": f"Bearer {first['refreshJwt']}"}
    second = await (
        await client.post("/xrpc/com.atproto.server.refreshSession", headers=old)
    ).json()
    again = await (await client.post("/xrpc/com.atproto.server.refreshSession", headers=old)).json()
    assert again["refreshJwt"] == second["refreshJwt"]
    clock.advance(6 * 60)
    late = await client.post("/xrpc/com.atproto.server.refreshSession", headers=old)
    assert late.status == 400 and (await late.json())["message"] == "Token has been revoked"


async def test_expired_access_token_is_400_expired_token_and_missing_auth_is_401(
    client: TestClient[Any, Any], state: BlueskyState, clock: ManualClock
) -> None:
    headers = await auth(client)
    assert (await client.get(LIST, headers=headers)).status == 200
    clock.advance(2 * 3600)
    expired = await client.get(LIST, headers=headers)
    assert expired.status == 400
    assert await expired.json() == {"error": "ExpiredToken", "message": "Token has expired"}
    fresh = await auth(client)
    state.expire_access_token()
    assert (await client.get(LIST, headers=fresh)).status == 400
    missing = await client.get(LIST)
    assert missing.status == 401
    assert await missing.json() == {
        "error": "AuthenticationRequired",
        "message": "Authentication Required",
    }


# ----- notifications -----------------------------------------------------------------------


async def test_cursor_paging_walks_everything_newest_first_and_ends_without_cursor(
    client: TestClient[Any, Any], state: BlueskyState, clock: ManualClock
) -> None:
    uris = []
    for i in range(23):
        clock.advance(1)
        uris.append(state.add_mention(JANE, "jane.bsky.social", f"help {i}", clock()).uri)
    headers = await auth(client)
    seen: list[str] = []
    cursor = None
    while True:
        query = "limit=10" + (f"&cursor={cursor}" if cursor else "")
        body = await notifications(client, headers, query)
        seen += [n["uri"] for n in body["notifications"]]
        cursor = body.get("cursor")
        if cursor is None:
            break
        assert "::" in cursor
    assert seen == uris[::-1]
    assert body["notifications"] == []


async def test_bad_params_are_invalid_request(client: TestClient[Any, Any]) -> None:
    headers = await auth(client)
    too_many = await client.get(f"{LIST}?limit=101", headers=headers)
    assert too_many.status == 400 and (await too_many.json())["error"] == "InvalidRequest"
    bad_cursor = await client.get(f"{LIST}?cursor=garbage", headers=headers)
    assert await bad_cursor.json() == {"error": "InvalidRequest", "message": "Malformed cursor"}


async def test_notification_shape_and_byte_offset_facets_with_emoji(
    client: TestClient[Any, Any], state: BlueskyState
) -> None:
    text = "📦 @acme.bsky.social where's my parcel? #late https://t.co/x"
    ref = state.add_mention(JANE, "jane.bsky.social", text, T0, display_name="Jane 🌷")
    body = await notifications(client, await auth(client))
    note = body["notifications"][0]
    assert note["uri"] == ref.uri and note["cid"] == ref.cid and ref.cid.startswith("bafyrei")
    assert note["author"]["did"] == JANE and note["author"]["displayName"] == "Jane 🌷"
    assert note["reason"] == "mention" and "reasonSubject" not in note
    assert note["isRead"] is False and note["labels"] == []
    assert note["indexedAt"] == "2024-05-13T10:00:00.000Z"
    record = note["record"]
    assert record["$type"] == "app.bsky.feed.post" and record["langs"] == ["en"]
    assert record["text"] == text and record["createdAt"] == "2024-05-13T10:00:00.000Z"
    mention, tag, link = record["facets"]
    assert mention["index"] == {"byteStart": 5, "byteEnd": 22}, "the emoji is 4 UTF-8 bytes"
    assert text.index("@") == 2, "…but only 2 Python str positions"
    data = text.encode("utf-8")
    start, end = mention["index"]["byteStart"], mention["index"]["byteEnd"]
    assert data[start:end].decode() == "@acme.bsky.social"
    assert mention["features"] == [{"$type": "app.bsky.richtext.facet#mention", "did": state.did}]
    assert tag["features"][0] == {"$type": "app.bsky.richtext.facet#tag", "tag": "late"}
    link_text = data[link["index"]["byteStart"] : link["index"]["byteEnd"]].decode()
    assert link_text == "https://t.co/x"


async def test_a_reply_that_mentions_the_brand_is_only_a_mention(
    client: TestClient[Any, Any], state: BlueskyState
) -> None:
    brand_post = state.add_brand_post("Our new store is open", T0)
    both = state.add_mention(JANE, "jane.bsky.social", "is it?", T0, reply_to=brand_post)
    plain = state.add_reply(BOB, "bob.example.com", "indeed", T0 + timedelta(seconds=1))
    deep = state.add_reply(BOB, "bob.example.com", "and more", T0 + timedelta(seconds=2), both)
    quote = state.add_quote(JANE, "jane.bsky.social", "look", T0, quote=brand_post)
    headers = await auth(client)
    body = await notifications(client, headers, "reasons=mention&reasons=reply&reasons=quote")
    by_uri = {n["uri"]: n for n in body["notifications"]}
    assert [n["uri"] for n in body["notifications"]].count(both.uri) == 1
    assert by_uri[both.uri]["reason"] == "mention" and "reasonSubject" not in by_uri[both.uri]
    assert by_uri[both.uri]["record"]["reply"]["parent"] == brand_post.strong_ref()
    assert by_uri[plain.uri]["reason"] == "reply"
    assert by_uri[plain.uri]["reasonSubject"] == brand_post.uri
    assert by_uri[deep.uri]["reason"] == "reply"
    assert by_uri[deep.uri]["reasonSubject"] == brand_post.uri
    assert by_uri[deep.uri]["record"]["reply"]["root"] == brand_post.strong_ref()
    assert by_uri[quote.uri]["reason"] == "quote"
    assert brand_post.uri not in by_uri, "no self-notifications"
    only_replies = await notifications(client, headers, "reasons=reply")
    assert {n["uri"] for n in only_replies["notifications"]} == {plain.uri, deep.uri}


async def test_back_dated_post_sorts_below_the_last_seen_item(
    client: TestClient[Any, Any], state: BlueskyState, clock: ManualClock
) -> None:
    older = state.add_mention(JANE, "jane.bsky.social", "first", T0)
    clock.advance(60)
    newest = state.add_mention(JANE, "jane.bsky.social", "second", clock())
    headers = await auth(client)
    first_poll = [n["uri"] for n in (await notifications(client, headers))["notifications"]]
    assert first_poll == [newest.uri, older.uri]
    clock.advance(60)
    late = state.out_of_order(newest, BOB, "bob.example.com", "back-dated")
    clock.advance(60)
    backdated = state.add_mention(BOB, "bob.example.com", "from the past", T0 - timedelta(days=1))
    second_poll = [n["uri"] for n in (await notifications(client, headers))["notifications"]]
    assert second_poll == [newest.uri, late.uri, older.uri, backdated.uri]


async def test_reply_indexed_before_its_parent_is_notified_late(
    client: TestClient[Any, Any], state: BlueskyState
) -> None:
    from fakes.bluesky import PostRef

    future = PostRef(f"at://{state.did}/app.bsky.feed.post/3kq2w1root2a", "bafyreiroot")
    reply = state.add_reply(JANE, "jane.bsky.social", "first!", T0, reply_to=future)
    headers = await auth(client)
    assert (await notifications(client, headers))["notifications"] == []
    state.add_brand_post("the parent", T0 - timedelta(seconds=5), rkey="3kq2w1root2a")
    body = await notifications(client, headers)
    assert [(n["uri"], n["reason"]) for n in body["notifications"]] == [(reply.uri, "reply")]


async def test_duplicates_and_deletes(
    client: TestClient[Any, Any], state: BlueskyState, clock: ManualClock
) -> None:
    kept = state.add_mention(JANE, "jane.bsky.social", "hello", clock())
    gone = state.add_mention(BOB, "bob.example.com", "bye", clock.advance(1))
    headers = await auth(client)
    clock.advance(1)
    state.duplicate_overlap(kept.uri)
    uris = [n["uri"] for n in (await notifications(client, headers))["notifications"]]
    assert uris == [kept.uri, gone.uri, kept.uri]
    state.delete_post(gone.uri)
    uris = [n["uri"] for n in (await notifications(client, headers))["notifications"]]
    assert gone.uri not in uris


async def test_update_seen_marks_notifications_read(
    client: TestClient[Any, Any], state: BlueskyState
) -> None:
    state.add_mention(JANE, "jane.bsky.social", "hello", T0)
    headers = await auth(client)
    resp = await client.post(
        "/xrpc/app.bsky.notification.updateSeen",
        json={"seenAt": "2024-05-13T10:00:01.000Z"},
        headers=headers,
    )
    assert resp.status == 200
    body = await notifications(client, headers)
    assert body["notifications"][0]["isRead"] is True and "seenAt" in body


# ----- posting -----------------------------------------------------------------------------


def reply_body(state: BlueskyState, parent: Any, **extra: Any) -> dict[str, Any]:
    return {
        "repo": state.did,
        "collection": "app.bsky.feed.post",
        "record": {
            "$type": "app.bsky.feed.post",
            "text": "Hi Jane, we've sent you a DM 🙏",
            "createdAt": "2024-05-13T10:35:00.000Z",
            "reply": {"root": parent.strong_ref(), "parent": parent.strong_ref()},
        },
        **extra,
    }


async def test_create_record_validates_strong_refs_and_returns_commit(
    client: TestClient[Any, Any], state: BlueskyState
) -> None:
    parent = state.add_mention(JANE, "jane.bsky.social", "help", T0)
    headers = await auth(client)
    broken = reply_body(state, parent)
    del broken["record"]["reply"]["root"]["cid"]
    resp = await client.post(CREATE, json=broken, headers=headers)
    assert resp.status == 400
    assert await resp.json() == {
        "error": "InvalidRequest",
        "message": "Invalid app.bsky.feed.post record: "
        'Record/reply/root must have the property "cid"',
    }
    assert state.created_count == 0
    resp = await client.post(CREATE, json=reply_body(state, parent), headers=headers)
    assert resp.status == 200
    out = await resp.json()
    assert out["uri"].startswith(f"at://{state.did}/app.bsky.feed.post/")
    assert out["cid"].startswith("bafyrei") and out["validationStatus"] == "valid"
    assert set(out["commit"]) == {"cid", "rev"}
    assert state.created_count == 1
    assert state.posts[out["uri"]].record["reply"]["parent"] == parent.strong_ref()
    body = await notifications(client, headers)
    assert [n["uri"] for n in body["notifications"]] == [parent.uri], "no self-notification"


async def test_same_rkey_twice_creates_one_post(
    client: TestClient[Any, Any], state: BlueskyState
) -> None:
    parent = state.add_mention(JANE, "jane.bsky.social", "help", T0)
    headers = await auth(client)
    body = reply_body(state, parent, rkey="3kq2zretry0001")
    assert (await client.post(CREATE, json=body, headers=headers)).status == 200
    again = await client.post(CREATE, json=body, headers=headers)
    assert again.status == 500 and (await again.json())["error"] == "InternalServerError"
    assert state.created_count == 1
    query = {"repo": state.did, "collection": "app.bsky.feed.post", "rkey": "3kq2zretry0001"}
    found = await client.get("/xrpc/com.atproto.repo.getRecord", params=query)
    assert found.status == 200 and (await found.json())["value"]["text"] == body["record"]["text"]
    missing = await client.get(
        "/xrpc/com.atproto.repo.getRecord", params={**query, "rkey": "3kq2zother0001"}
    )
    assert missing.status == 400 and (await missing.json())["error"] == "RecordNotFound"
    state.rkey_conflict_error = (409, "RecordAlreadyExists", "Record already exists")
    again = await client.post(CREATE, json=body, headers=headers)
    assert again.status == 409 and (await again.json())["error"] == "RecordAlreadyExists"


async def test_reply_root_check_is_off_unless_configured(
    client: TestClient[Any, Any], state: BlueskyState
) -> None:
    root = state.add_brand_post("root", T0)
    parent = state.add_reply(JANE, "jane.bsky.social", "reply", T0, reply_to=root)
    headers = await auth(client)
    wrong_root = reply_body(state, parent)  # root should be `root`, not the parent
    assert (await client.post(CREATE, json=wrong_root, headers=headers)).status == 200
    state.validate_reply_root = True
    assert (await client.post(CREATE, json=wrong_root, headers=headers)).status == 400
    wrong_root["record"]["reply"]["root"] = root.strong_ref()
    assert (await client.post(CREATE, json=wrong_root, headers=headers)).status == 200


# ----- chat --------------------------------------------------------------------------------


async def test_chat_requires_the_proxy_header(
    client: TestClient[Any, Any], state: BlueskyState
) -> None:
    headers = await auth(client)
    resp = await client.get("/xrpc/chat.bsky.convo.listConvos", headers=headers)
    assert resp.status == 404
    assert await resp.json() == {"error": "XRPCNotSupported", "message": "XRPCNotSupported"}
    state.missing_proxy_error = (501, "MethodNotImplemented", "Method not implemented")
    resp = await client.get("/xrpc/chat.bsky.convo.listConvos", headers=headers)
    assert resp.status == 501
    ok = await client.get("/xrpc/chat.bsky.convo.listConvos", headers={**headers, **PROXY})
    assert ok.status == 200


async def test_dm_flow_get_log_cursor_and_send_count(
    client: TestClient[Any, Any], state: BlueskyState, clock: ManualClock
) -> None:
    headers = {**(await auth(client)), **PROXY}
    first = state.add_dm(JANE, "jane.bsky.social", "Hi, order #4411? 📦 @acme.bsky.social")
    log = await (await client.get("/xrpc/chat.bsky.convo.getLog", headers=headers)).json()
    assert [e["$type"] for e in log["logs"]] == [
        "chat.bsky.convo.defs#logBeginConvo",
        "chat.bsky.convo.defs#logCreateMessage",
    ]
    created = log["logs"][1]
    message = created["message"]
    assert message["$type"] == "chat.bsky.convo.defs#messageView"
    assert message["id"] == first and message["sender"] == {"did": JANE}
    assert message["facets"][0]["index"]["byteStart"] == len("Hi, order #4411? 📦 ".encode())
    convo_id = created["convoId"]
    cursor = log["cursor"]

    clock.advance(30)
    second = state.add_dm(JANE, "jane.bsky.social", "hello?")
    log = await (
        await client.get(f"/xrpc/chat.bsky.convo.getLog?cursor={cursor}", headers=headers)
    ).json()
    assert [e["message"]["id"] for e in log["logs"]] == [second]
    cursor = log["cursor"]
    idle = await (
        await client.get(f"/xrpc/chat.bsky.convo.getLog?cursor={cursor}", headers=headers)
    ).json()
    assert idle == {"logs": [], "cursor": cursor}

    found = await (
        await client.get(
            f"/xrpc/chat.bsky.convo.getConvoForMembers?members={JANE}", headers=headers
        )
    ).json()
    assert found["convo"]["id"] == convo_id and found["convo"]["unreadCount"] == 2
    sent = await client.post(
        "/xrpc/chat.bsky.convo.sendMessage",
        json={"convoId": convo_id, "message": {"text": "Looking into it 🙏"}},
        headers=headers,
    )
    assert sent.status == 200
    view = await sent.json()
    assert view["sender"] == {"did": state.did} and state.sent_count == 1
    log = await (
        await client.get(f"/xrpc/chat.bsky.convo.getLog?cursor={cursor}", headers=headers)
    ).json()
    assert [e["message"]["id"] for e in log["logs"]] == [view["id"]], "own sends echo in the log"

    messages = await (
        await client.get(
            f"/xrpc/chat.bsky.convo.getMessages?convoId={convo_id}&limit=2", headers=headers
        )
    ).json()
    assert [m["id"] for m in messages["messages"]] == [view["id"], second]
    older = await (
        await client.get(
            f"/xrpc/chat.bsky.convo.getMessages?convoId={convo_id}&cursor={messages['cursor']}",
            headers=headers,
        )
    ).json()
    assert [m["id"] for m in older["messages"]] == [first] and "cursor" not in older
    convos = await (await client.get("/xrpc/chat.bsky.convo.listConvos", headers=headers)).json()
    assert convos["convos"][0]["lastMessage"]["id"] == view["id"]


async def test_chat_needs_an_app_password_with_dm_access(
    client: TestClient[Any, Any], state: BlueskyState
) -> None:
    state.dm_access = False
    session = await login(client)
    assert jwt_claims(session["accessJwt"])["scope"] == "com.atproto.appPass"
    headers = {"Authorization": f"Bearer {session['accessJwt']}", **PROXY}
    resp = await client.get("/xrpc/chat.bsky.convo.getLog", headers=headers)
    assert resp.status == 401 and (await resp.json())["message"] == "Bad token scope"


async def test_send_message_limits_and_unknown_convo(
    client: TestClient[Any, Any], state: BlueskyState
) -> None:
    headers = {**(await auth(client)), **PROXY}
    state.add_dm(JANE, "jane.bsky.social", "hi")
    convo_id = next(iter(state.convos))
    too_long = "👍🏽" * 1001
    assert graphemes(too_long) == 1001 and graphemes("🇫🇷é\u0301") == 2
    resp = await client.post(
        "/xrpc/chat.bsky.convo.sendMessage",
        json={"convoId": convo_id, "message": {"text": too_long}},
        headers=headers,
    )
    assert resp.status == 400
    resp = await client.post(
        "/xrpc/chat.bsky.convo.sendMessage",
        json={"convoId": "nope", "message": {"text": "hi"}},
        headers=headers,
    )
    assert await resp.json() == {"error": "InvalidConvo", "message": "Convo not found"}
    assert state.sent_count == 0


# ----- rate limits and faults --------------------------------------------------------------


async def test_rate_limit_headers_on_every_response_and_429_body(
    aiohttp_client: Any, clock: ManualClock
) -> None:
    state = BlueskyState(clock=clock, rate_limit=3)
    client = await serve(aiohttp_client, state)
    resp = await client.get(LIST)  # even a 401 carries them
    assert resp.status == 401
    assert resp.headers["RateLimit-Limit"] == "3"
    assert resp.headers["RateLimit-Remaining"] == "2"
    assert resp.headers["RateLimit-Reset"] == str(int((T0 + timedelta(minutes=5)).timestamp()))
    assert resp.headers["RateLimit-Policy"] == "3;w=300"
    await client.get(LIST)
    await client.get(LIST)
    limited = await client.get(LIST)
    assert limited.status == 429
    assert await limited.json() == {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
    clock.advance(300)
    assert (await client.get(LIST)).status == 401


async def test_create_session_reports_its_own_tighter_limit(client: TestClient[Any, Any]) -> None:
    resp = await client.post(
        "/xrpc/com.atproto.server.createSession",
        json={"identifier": "acme.bsky.social", "password": "abcd-efgh-ijkl-mnop"},
    )
    assert resp.headers["RateLimit-Policy"] == "30;w=300"
    assert resp.headers["RateLimit-Remaining"] == "29"


async def test_rate_limit_next_and_fail_next(
    client: TestClient[Any, Any], state: BlueskyState
) -> None:
    headers = await auth(client)
    state.rate_limit_next(count=1, reset_in_seconds=42)
    limited = await client.get(LIST, headers=headers)
    assert limited.status == 429 and limited.headers["RateLimit-Remaining"] == "0"
    assert limited.headers["RateLimit-Reset"] == str(int(T0.timestamp()) + 42)
    state.fail_next(500)
    state.fail_next(502, nsid="app.bsky.notification.listNotifications")
    first = await client.get(LIST, headers=headers)
    assert await first.json() == {
        "error": "InternalServerError",
        "message": "Internal Server Error",
    }
    second = await client.get(LIST, headers=headers)
    assert second.status == 502 and (await second.json())["error"] == "UpstreamFailure"
    assert (await client.get(LIST, headers=headers)).status == 200


async def test_unknown_method_and_wrong_verb(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/xrpc/app.bsky.feed.getNothing")
    assert resp.status == 501 and (await resp.json())["error"] == "MethodNotImplemented"
    resp = await client.get("/xrpc/com.atproto.repo.createRecord")
    assert resp.status == 400 and (await resp.json())["error"] == "InvalidRequest"
