"""The fake Meta Graph API and webhook sender follow platforms.md §2 and §6."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from fakes.clock import ManualClock
from fakes.meta import (
    MetaState,
    batch,
    deliver_webhook,
    encode_body,
    signature_256,
    verification_answer,
    verify_subscription,
)
from tests.fakes import T0

PAGE = "137542570280222"
IG = "17841405726653026"
TOKEN = "meta-page-token"
VECTOR_BODY = (
    b'{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"message":{"mid":"m_1",'
    b'"text":"\\u00e4\\u00f6\\u00e5 \\ud83d\\ude21"}}]}]}'
)
VECTOR_SIGNATURE = "sha256=c000061b592b8b3ac8aa53a0f2e037e8936c10dc6273d93bb7ad76757d3f5db4"


@pytest.fixture
def state(clock: ManualClock) -> MetaState:
    return MetaState(clock=clock)


class Receiver:
    """A webhook endpoint that records raw bodies and answers from a scripted list of codes."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = statuses or []
        self.bodies: list[bytes] = []
        self.signatures: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            status, text = verification_answer(request.query, "meatyhamhock")
            return web.Response(status=status, text=text)
        self.bodies.append(await request.read())
        self.signatures.append(request.headers["X-Hub-Signature-256"])
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)


async def receiver_url(aiohttp_client: Any, receiver: Receiver) -> tuple[TestClient[Any, Any], str]:
    app = web.Application()
    app.router.add_route("*", "/webhooks", receiver.handle)
    test_client: TestClient[Any, Any] = await aiohttp_client(app)
    return test_client, str(test_client.make_url("/webhooks"))


async def send(
    client: TestClient[Any, Any], body: dict[str, Any], path: str = "/v21.0/me/messages"
) -> tuple[int, Any]:
    resp = await client.post(path, params={"access_token": TOKEN}, json=body)
    return resp.status, await resp.json()


def error_without_trace(body: dict[str, Any]) -> dict[str, Any]:
    error = dict(body["error"])
    assert isinstance(error.pop("fbtrace_id"), str)
    return error


# -- signatures and encoding ------------------------------------------------------------------


def test_the_signature_vector_reproduces_over_meta_style_bytes() -> None:
    payload = {
        "object": "page",
        "entry": [
            {"id": "1", "time": 1, "messaging": [{"message": {"mid": "m_1", "text": "äöå 😡"}}]}
        ],
    }
    assert encode_body(payload) == VECTOR_BODY
    assert signature_256("test_app_secret", VECTOR_BODY) == VECTOR_SIGNATURE


def test_a_signature_over_reserialised_json_does_not_match() -> None:
    reserialised = json.dumps(json.loads(VECTOR_BODY), ensure_ascii=False).encode()
    assert signature_256("test_app_secret", reserialised) != VECTOR_SIGNATURE


def test_bodies_escape_emoji_as_surrogates_and_slashes() -> None:
    body = encode_body({"url": "https://www.facebook.com/1", "text": "😡"})
    assert body == b'{"url":"https:\\/\\/www.facebook.com\\/1","text":"\\ud83d\\ude21"}'
    assert json.loads(body) == {"url": "https://www.facebook.com/1", "text": "😡"}


async def test_delivery_posts_the_exact_signed_bytes(aiohttp_client: Any) -> None:
    receiver = Receiver()
    test_client, url = await receiver_url(aiohttp_client, receiver)
    assert await deliver_webhook(test_client.session, url, "test_app_secret", VECTOR_BODY) == 200
    assert receiver.bodies == [VECTOR_BODY]
    assert receiver.signatures == [VECTOR_SIGNATURE]


async def test_failed_deliveries_are_retried_with_the_same_bytes(
    aiohttp_client: Any, state: MetaState
) -> None:
    receiver = Receiver([500, 503])
    test_client, url = await receiver_url(aiohttp_client, receiver)
    payload = state.messenger_message("24000000000000001", "hello").payload
    status = await deliver_webhook(test_client.session, url, state.app_secret, payload, retries=5)
    assert status == 200
    assert len(receiver.bodies) == 3 and len(set(receiver.bodies)) == 1
    await deliver_webhook(test_client.session, url, state.app_secret, payload, duplicates=1)
    assert len(receiver.bodies) == 5 and len(set(receiver.bodies)) == 1


async def test_the_verification_handshake(aiohttp_client: Any) -> None:
    assert verification_answer(
        {
            "hub.mode": "subscribe",
            "hub.challenge": "1158201444",
            "hub.verify_token": "meatyhamhock",
        },
        "meatyhamhock",
    ) == (200, "1158201444")
    assert verification_answer(
        {"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "nope"}, "meatyhamhock"
    ) == (403, "")
    test_client, url = await receiver_url(aiohttp_client, Receiver())
    assert await verify_subscription(test_client.session, url, "meatyhamhock")
    assert not await verify_subscription(
        test_client.session, url, "meatyhamhock", sent_token="wrong"
    )


# -- payload shapes ---------------------------------------------------------------------------


def test_feed_comment_shapes_including_page_authored_and_removed(state: MetaState) -> None:
    event = state.feed_comment("139560936744123", "Where is my order? äöå")
    entry = event.payload["entry"][0]
    assert event.payload["object"] == "page"
    assert entry["id"] == PAGE and entry["time"] == int(T0.timestamp())
    value = entry["changes"][0]["value"]
    assert entry["changes"][0]["field"] == "feed"
    assert value["from"] == {"id": "139560936744123", "name": "Jane Doe"}
    assert (value["item"], value["verb"], value["comment_id"]) == ("comment", "add", event.id)
    assert value["post_id"].startswith(PAGE + "_")
    assert value["parent_id"] == value["post_id"]
    assert event.id.split("_")[0] == value["post_id"].split("_")[1]
    assert value["message"] == "Where is my order? äöå"
    assert b"\\u00e4\\u00f6\\u00e5" in encode_body(event.payload)
    assert b"https:\\/\\/www.facebook.com" in encode_body(event.payload)

    reply = state.feed_comment(PAGE, "We're on it", parent_id=event.id)
    reply_value = reply.payload["entry"][0]["changes"][0]["value"]
    assert reply_value["from"]["id"] == PAGE and reply_value["parent_id"] == event.id

    edited = state.feed_comment_edit(event.id, "Found it, thanks").payload
    assert edited["entry"][0]["changes"][0]["value"]["verb"] == "edited"
    removed = state.feed_comment_remove(event.id).payload["entry"][0]["changes"][0]["value"]
    assert removed["verb"] == "remove" and "message" not in removed


def test_messenger_message_and_echo(state: MetaState) -> None:
    incoming = state.messenger_message("24000000000000001", "hello, world!")
    entry = incoming.payload["entry"][0]
    assert entry["time"] == int(T0.timestamp() * 1000)
    event = entry["messaging"][0]
    assert event["sender"] == {"id": "24000000000000001"}
    assert event["recipient"] == {"id": PAGE}
    assert event["message"] == {"mid": incoming.id, "text": "hello, world!"}
    echo = state.messenger_echo("24000000000000001", "Hi!").payload["entry"][0]["messaging"][0]
    assert echo["sender"] == {"id": PAGE} and echo["recipient"] == {"id": "24000000000000001"}
    assert echo["message"]["is_echo"] is True and "app_id" in echo["message"]
    standby = state.messenger_message("24000000000000001", "x", standby=True).payload
    assert "standby" in standby["entry"][0]
    both = batch(incoming.payload, state.messenger_echo("24000000000000001", "Hi").payload)
    assert len(both["entry"]) == 2


def test_instagram_comment_mention_and_messaging(state: MetaState) -> None:
    comment = state.ig_comment("17800000000000001", "@acme my order never came")
    value = comment.payload["entry"][0]["changes"][0]["value"]
    assert comment.payload["object"] == "instagram"
    assert comment.payload["entry"][0]["id"] == IG
    assert value["id"] == comment.id and "comment_id" not in value
    assert value["from"] == {"id": "17800000000000001", "username": "jane.doe"}
    assert value["media"]["media_product_type"] == "FEED"
    state.ig_comment_id_key = "both"
    second = state.ig_comment("17800000000000001", "hello?").payload["entry"][0]["changes"][0]
    assert second["value"]["id"] == second["value"]["comment_id"]

    caption = state.ig_mention("17918195224117851").payload["entry"][0]["changes"][0]
    assert caption == {"field": "mentions", "value": {"media_id": "17918195224117851"}}

    dm = state.ig_message("17800000000000001", "hi").payload["entry"][0]["messaging"][0]
    assert dm["sender"] == {"id": "17800000000000001"} and dm["recipient"] == {"id": IG}
    echo = state.ig_message("17800000000000001", "hey", is_echo=True).payload
    echo_event = echo["entry"][0]["messaging"][0]
    assert echo_event["sender"] == {"id": IG} and echo_event["message"]["is_echo"] is True


# -- Graph: Send API, comments, errors --------------------------------------------------------


async def test_send_api_inside_the_window_is_counted(
    client: TestClient[Any, Any], state: MetaState
) -> None:
    state.messenger_message("24000000000000001", "help")
    status, body = await send(
        client,
        {
            "recipient": {"id": "24000000000000001"},
            "messaging_type": "RESPONSE",
            "message": {"text": "hello, world"},
        },
    )
    assert status == 200
    assert body["recipient_id"] == "24000000000000001" and body["message_id"].startswith("m_")
    assert [s.id for s in state.messages_to("24000000000000001")] == [body["message_id"]]
    echo = state.outbound_webhooks[-1]["entry"][0]["messaging"][0]["message"]
    assert echo["is_echo"] is True and echo["mid"] == body["message_id"]


async def test_send_api_outside_24_hours_is_the_code_10_error(
    client: TestClient[Any, Any], state: MetaState, clock: ManualClock
) -> None:
    state.messenger_message("24000000000000001", "help")
    clock.advance(24 * 3600 + 1)
    reply = {
        "recipient": {"id": "24000000000000001"},
        "messaging_type": "RESPONSE",
        "message": {"text": "sorry for the wait"},
    }
    status, body = await send(client, reply, path=f"/v21.0/{PAGE}/messages")
    assert status == 400
    assert error_without_trace(body) == {
        "message": "(#10) This message is sent outside of allowed window. Learn more about the "
        "new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview",
        "type": "OAuthException",
        "code": 10,
        "error_subcode": 2018278,
    }
    tagged = reply | {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    status, _ = await send(client, tagged)
    assert status == 200
    assert [s.tag for s in state.sends] == ["HUMAN_AGENT"]


async def test_send_api_to_an_unknown_user_and_bad_bodies(
    client: TestClient[Any, Any], state: MetaState
) -> None:
    status, body = await send(
        client,
        {"recipient": {"id": "999"}, "messaging_type": "RESPONSE", "message": {"text": "hi"}},
    )
    assert status == 400 and body["error"]["code"] == 100
    assert body["error"]["error_subcode"] == 2018001
    state.messenger_message("24000000000000001", "help")
    status, body = await send(
        client, {"recipient": {"id": "24000000000000001"}, "message": {"text": "hi"}}
    )
    assert status == 400 and body["error"]["code"] == 100
    assert state.sends == []


async def test_send_api_takes_form_fields_and_bearer_tokens(
    client: TestClient[Any, Any], state: MetaState
) -> None:
    state.ig_message("17800000000000001", "hi")
    resp = await client.post(
        "/v21.0/me/messages",
        data={
            "recipient": json.dumps({"id": "17800000000000001"}),
            "messaging_type": "RESPONSE",
            "message": json.dumps({"text": "Hello from IG"}),
        },
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert resp.status == 200
    assert state.sends[0].account_id == IG and state.sends[0].text == "Hello from IG"


async def test_reply_to_a_facebook_comment(client: TestClient[Any, Any], state: MetaState) -> None:
    comment = state.feed_comment("139560936744123", "Where is my order?")
    resp = await client.post(
        f"/v21.0/{comment.id}/comments", params={"access_token": TOKEN, "message": "Checking!"}
    )
    assert resp.status == 200
    body = await resp.json()
    assert list(body) == ["id"]
    assert [(s.kind, s.target, s.id) for s in state.sends] == [
        ("comment_reply", comment.id, body["id"])
    ]
    page_echo = state.outbound_webhooks[-1]["entry"][0]["changes"][0]["value"]
    assert page_echo["from"]["id"] == PAGE and page_echo["parent_id"] == comment.id

    resp = await client.post(
        "/v21.0/1_2/comments", params={"access_token": TOKEN, "message": "Checking!"}
    )
    assert resp.status == 400
    error = error_without_trace(await resp.json())
    assert (error["code"], error["error_subcode"]) == (100, 33)


async def test_reply_to_an_instagram_comment_and_a_private_reply(
    client: TestClient[Any, Any], state: MetaState, clock: ManualClock
) -> None:
    comment = state.ig_comment("17800000000000001", "@acme my order never came")
    resp = await client.post(
        f"/v21.0/{comment.id}/replies", params={"access_token": TOKEN, "message": "DMing you"}
    )
    assert resp.status == 200 and list(await resp.json()) == ["id"]
    status, body = await send(
        client, {"recipient": {"comment_id": comment.id}, "message": {"text": "Hi!"}}
    )
    assert status == 200 and body["recipient_id"] == "17800000000000001"
    assert [s.kind for s in state.sends] == ["ig_comment_reply", "private_reply"]
    clock.advance(8 * 86_400)
    status, body = await send(
        client, {"recipient": {"comment_id": comment.id}, "message": {"text": "Hi again"}}
    )
    assert status == 400 and body["error"]["code"] == 10


@pytest.mark.parametrize(
    ("params", "headers", "code"),
    [
        ({}, {}, 104),
        ({"access_token": "nope"}, {}, 190),
        ({}, {"Authorization": "Bearer nope"}, 190),
    ],
)
async def test_missing_or_bad_tokens(
    client: TestClient[Any, Any], params: dict[str, str], headers: dict[str, str], code: int
) -> None:
    resp = await client.post("/v21.0/me/messages", params=params, headers=headers, json={})
    assert resp.status == 400
    body = await resp.json()
    assert body["error"]["code"] == code and body["error"]["type"] == "OAuthException"


async def test_an_expired_token_is_code_190(client: TestClient[Any, Any], state: MetaState) -> None:
    state.expire_token()
    status, body = await send(client, {})
    assert status == 400
    assert error_without_trace(body) == {
        "message": "Error validating access token: Session has expired.",
        "type": "OAuthException",
        "code": 190,
        "error_subcode": 463,
    }


async def test_throttling_reports_usage_headers(
    client: TestClient[Any, Any], state: MetaState
) -> None:
    state.messenger_message("24000000000000001", "help")
    reply = {
        "recipient": {"id": "24000000000000001"},
        "messaging_type": "RESPONSE",
        "message": {"text": "hi"},
    }
    state.throttle_next()
    resp = await client.post("/v21.0/me/messages", params={"access_token": TOKEN}, json=reply)
    assert resp.status == 400
    assert error_without_trace(await resp.json()) == {
        "message": "(#4) Application request limit reached",
        "type": "OAuthException",
        "code": 4,
    }
    assert json.loads(resp.headers["X-App-Usage"])["call_count"] == 100
    buc = json.loads(resp.headers["X-Business-Use-Case-Usage"])[PAGE][0]
    assert buc["type"] == "pages" and buc["estimated_time_to_regain_access"] > 0
    assert state.sends == []

    state.usage_call_limit = 2
    statuses = []
    for _ in range(3):
        r = await client.post("/v21.0/me/messages", params={"access_token": TOKEN}, json=reply)
        statuses.append(r.status)
    assert statuses == [200, 200, 400]
    assert len(state.sends) == 2


@pytest.mark.parametrize(("status", "code"), [(500, 1), (503, 2)])
async def test_fail_next_is_a_transient_graph_error(
    client: TestClient[Any, Any], state: MetaState, status: int, code: int
) -> None:
    state.fail_next(status)
    resp_status, body = await send(client, {})
    assert resp_status == status and body["error"]["code"] == code
    assert set(body["error"]) == {"message", "type", "code", "fbtrace_id"}


async def test_unversioned_paths_and_subscribed_apps(
    client: TestClient[Any, Any], state: MetaState
) -> None:
    resp = await client.post(
        f"/{PAGE}/subscribed_apps",
        params={"access_token": TOKEN, "subscribed_fields": "feed,messages"},
    )
    assert resp.status == 200 and await resp.json() == {"success": True}
    assert state.subscribed_fields[PAGE] == ["feed", "messages"]


async def test_instagram_dms_go_through_the_page_and_take_1000_bytes(
    client: TestClient[Any, Any], state: MetaState
) -> None:
    """With a Page token, /{ig-id}/messages is not the Send API; Instagram allows 1,000 bytes
    where Messenger allows 2,000 characters."""
    state.ig_message("17800000000000001", "hi")
    state.messenger_message("24000000000000001", "help")

    def reply(user: str, text: str) -> dict[str, Any]:
        return {"recipient": {"id": user}, "messaging_type": "RESPONSE", "message": {"text": text}}

    status, _ = await send(client, reply("17800000000000001", "ok"), path=f"/v21.0/{IG}/messages")
    assert status == 400
    accents = "é" * 500  # 500 characters, 1,000 bytes
    status, _ = await send(client, reply("17800000000000001", accents))
    assert status == 200
    status, body = await send(client, reply("17800000000000001", accents + "e"))
    assert status == 400 and "1000" in body["error"]["message"]
    status, _ = await send(client, reply("24000000000000001", accents * 2))  # Messenger
    assert status == 200
    assert [s.account_id for s in state.sends] == [IG, PAGE]


# -- moderation: hide / unhide / delete a comment ----------------------------------------------


async def test_a_facebook_comment_is_hidden_with_is_hidden_and_deleted_once(
    client: TestClient[Any, Any], state: MetaState
) -> None:
    comment = state.feed_comment("139560936744123", "scam company")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for _ in range(2):  # hiding a hidden comment succeeds and changes nothing
        resp = await client.post(f"/v21.0/{comment.id}", json={"is_hidden": True}, headers=auth)
        assert (resp.status, await resp.json()) == (200, {"success": True})
    assert (state.comments[comment.id].hidden, state.comments[comment.id].hidden_changes) == (
        True,
        1,
    )
    resp = await client.post(f"/v21.0/{comment.id}", data={"is_hidden": "false"}, headers=auth)
    assert (await resp.json(), state.comments[comment.id].hidden) == ({"success": True}, False)
    # Instagram's parameter is not Facebook's: a Facebook comment needs is_hidden.
    resp = await client.post(f"/v21.0/{comment.id}", json={"hide": True}, headers=auth)
    assert error_without_trace(await resp.json())["code"] == 100
    resp = await client.delete(f"/v21.0/{comment.id}", headers=auth)
    assert (resp.status, await resp.json()) == (200, {"success": True})
    assert state.comments[comment.id].removed
    resp = await client.delete(f"/v21.0/{comment.id}", headers=auth)  # gone: does not exist
    assert resp.status == 400
    error = error_without_trace(await resp.json())
    assert (error["code"], error["error_subcode"]) == (100, 33)


async def test_an_instagram_comment_is_hidden_with_hide_and_the_brands_own_cannot_be(
    client: TestClient[Any, Any], state: MetaState
) -> None:
    comment = state.ig_comment("17800000000000001", "garbage brand")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    resp = await client.post(f"/v21.0/{comment.id}", json={"hide": True}, headers=auth)
    assert (resp.status, await resp.json()) == (200, {"success": True})
    assert state.comments[comment.id].hidden
    own = state.feed_comment(PAGE, "Thanks for writing!")
    resp = await client.post(f"/v21.0/{own.id}", json={"is_hidden": True}, headers=auth)
    assert resp.status == 400
    assert not state.comments[own.id].hidden


async def test_a_lost_answer_still_changes_the_comment(
    client: TestClient[Any, Any], state: MetaState
) -> None:
    comment = state.feed_comment("139560936744123", "scam company")
    state.drop_next_answer()
    with pytest.raises(aiohttp.ClientError):
        await client.post(
            f"/v21.0/{comment.id}",
            json={"is_hidden": True},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert state.comments[comment.id].hidden


async def test_profiles_answer_the_fields_asked(
    client: TestClient[Any, Any], state: MetaState
) -> None:
    state.add_person("24000000000000001", "Jane", "Doe")
    state.add_person("17800000000000001", "Léa Martin", platform="instagram", username="lea.m")
    auth = {"Authorization": f"Bearer {state.page_access_token}"}
    resp = await client.get(
        "/v21.0/24000000000000001", params={"fields": "first_name,last_name"}, headers=auth
    )
    assert await resp.json() == {
        "first_name": "Jane",
        "last_name": "Doe",
        "id": "24000000000000001",
    }
    resp = await client.get(
        "/v21.0/17800000000000001", params={"fields": "name,username"}, headers=auth
    )
    assert await resp.json() == {
        "name": "Léa Martin",
        "username": "lea.m",
        "id": "17800000000000001",
    }
    unknown = await client.get("/v21.0/999", params={"fields": "name"}, headers=auth)
    assert unknown.status == 400
    assert (await unknown.json())["error"]["code"] == 100
    private = await client.get("/v21.0/24000000000000001", params={"fields": "email"}, headers=auth)
    assert (await private.json())["error"]["code"] == 100
    anonymous = await client.get("/v21.0/24000000000000001", params={"fields": "name"})
    assert (await anonymous.json())["error"]["code"] == 104
    assert state.profile_lookups("24000000000000001") == 3
