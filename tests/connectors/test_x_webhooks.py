"""X Account Activity webhooks: CRC, signatures over raw bytes, fan-out, replays, junk."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from fakes.clock import ManualClock
from fakes.x import (
    XState,
    aaa_dm_payloads,
    aaa_tweet_create_payloads,
    aaa_tweet_delete_payloads,
    check_crc,
    deliver_webhook,
    webhook_signature,
)
from services.infra.db import create_engine
from tests.support.world import (
    connect_channel,
    inbox_holding,
)

SECRET = "test_consumer_secret"  # the platforms.md §6 vector
VECTOR_BODY = (
    b'{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"message":{"mid":"m_1",'
    b'"text":"\\u00e4\\u00f6\\u00e5 \\ud83d\\ude21"}}]}]}'
)
VECTOR_SIGNATURE = "sha256=1222NkVP1DTWmxnztVfRM0CGMYR+TfzAL3F6oIOO58I="
SIGNATURE = "x-twitter-webhooks-signature"


class Hook:
    def __init__(self, client: TestClient[Any, Any], state: XState, database_url: str) -> None:
        self.client = client
        self.state = state
        self.database_url = database_url
        self.url = str(client.make_url("/webhooks/x"))

    async def deliver(self, payload: dict[str, Any] | bytes) -> int:
        return await deliver_webhook(self.client.session, self.url, self.state, payload)

    async def post(self, body: bytes, signature: str | None) -> Any:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers[SIGNATURE] = signature
        return await self.client.post("/webhooks/x", data=body, headers=headers)

    async def scalar(self, sql: str) -> Any:
        engine = create_engine(self.database_url, 1)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(text(sql))).scalar_one()
        finally:
            await engine.dispose()

    async def stored(self) -> int:
        return int(await self.scalar("SELECT count(*) FROM inbox.messages"))

    async def outcomes(self) -> dict[str, float]:
        body = await (await self.client.get("/metrics")).text()
        found = {}
        for line in body.splitlines():
            if line.startswith("ecoute_webhook_requests_total{") and 'platform="x"' in line:
                outcome = line.split('outcome="')[1].split('"')[0]
                found[outcome] = float(line.rsplit(" ", 1)[1])
        return {k: v for k, v in found.items() if v}  # series start at zero


async def _hook(aiohttp_client: Any, database_url: str, secret: str) -> Hook:
    state = XState(clock=ManualClock.from_now())
    state.add_user("janedoe", "Jane Doe")
    ws, client = await inbox_holding(
        aiohttp_client,
        database_url,
        {"xcreds": {"bearer_token": "user"}},
        x_consumer_secret=secret,
    )
    await connect_channel(
        client,
        ws.channels_token,
        "x",
        "support",
        account_id=state.user_id,
        base_url="https://api.x.com",
        credentials_ref="xcreds",
    )
    return Hook(client, state, database_url)


@pytest.fixture
async def hook(aiohttp_client: Any, database_url: str) -> Hook:
    return await _hook(aiohttp_client, database_url, SECRET)


async def test_crc_answers_the_platforms_vector(hook: Hook) -> None:
    response = await hook.client.get("/webhooks/x", params={"crc_token": "abc123"})
    assert response.status == 200
    assert await response.json() == {
        "response_token": "sha256=NRSmW12qpe3CEF8MYyBrEyg562XPUUrrQ1iu+H6dKZs="
    }
    assert await check_crc(hook.client.session, hook.url, hook.state)  # X's own check passes
    assert (await hook.client.get("/webhooks/x")).status == 400
    assert (await hook.outcomes())["handshake"] == 2


async def test_the_signature_is_checked_over_the_raw_bytes(hook: Hook) -> None:
    assert webhook_signature(SECRET, VECTOR_BODY) == VECTOR_SIGNATURE
    response = await hook.post(VECTOR_BODY, VECTOR_SIGNATURE)
    assert response.status == 200  # a valid signature (a Meta-shaped body: nothing to store)
    reserialised = json.dumps(json.loads(VECTOR_BODY), ensure_ascii=False).encode()
    assert (await hook.post(reserialised, VECTOR_SIGNATURE)).status == 401
    assert await hook.stored() == 0
    assert (await hook.outcomes()) == {"ignored": 1.0, "forged": 1.0}


async def test_a_mention_is_stored_once_despite_the_fan_out_and_replays(hook: Hook) -> None:
    other = hook.state.add_user("OtherBrand").id
    hook.state.subscribed_user_ids = [hook.state.user_id, other]
    post = hook.state.add_mention(
        "janedoe", "@AcmeSupport @OtherBrand my order 4411 never arrived 😡 " + "détails " * 40
    )
    payloads = aaa_tweet_create_payloads(hook.state, post)
    assert len(payloads) == 2  # one copy per subscribed user
    for payload in payloads:
        assert await hook.deliver(payload) == 200
    for payload in payloads:  # X replays
        assert await hook.deliver(payload) == 200
    assert await hook.stored() == 1
    stored = await hook.scalar(
        "SELECT external_id || '|' || kind || '|' || direction || '|' || text FROM inbox.messages"
    )
    assert stored == f"{post}|mention|in|{hook.state.posts[post].full_text}"
    outcomes = await hook.outcomes()
    assert outcomes["stored"] == 1
    assert outcomes["duplicate"] == 3  # the replays, and the copy for an account we don't serve


async def test_dms_both_ways_are_stored_in_one_conversation(hook: Hook) -> None:
    asked = hook.state.add_dm("janedoe", "Bonjour, ma box ne marche plus")
    answered = hook.state.add_dm("AcmeSupport", "On s'en occupe.", recipient="janedoe")
    for event_id in (asked, answered):
        for payload in aaa_dm_payloads(hook.state, event_id):
            assert await hook.deliver(payload) == 200
    assert await hook.stored() == 2
    assert (
        await hook.scalar("SELECT string_agg(direction, ',' ORDER BY id) FROM inbox.messages")
        == "in,out"
    )
    assert await hook.scalar("SELECT count(DISTINCT conversation_id) FROM inbox.messages") == 1


@pytest.mark.parametrize("signature", [None, "", "sha256=", "sha256=AAAA", "forged"])
async def test_forged_or_missing_signatures_store_nothing(
    hook: Hook, signature: str | None
) -> None:
    post = hook.state.add_mention("janedoe", "@AcmeSupport hello")
    (payload,) = aaa_tweet_create_payloads(hook.state, post)
    body = json.dumps(payload).encode()
    response = await hook.post(body, signature)
    assert response.status == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    assert await hook.stored() == 0
    assert (await hook.outcomes()) == {"forged": 1.0}


async def test_a_signature_for_another_body_is_refused(hook: Hook) -> None:
    post = hook.state.add_mention("janedoe", "@AcmeSupport hello")
    (payload,) = aaa_tweet_create_payloads(hook.state, post)
    body = json.dumps(payload).encode()
    tampered = body.replace(b"hello", b"HELLO")
    assert (await hook.post(tampered, webhook_signature(SECRET, body))).status == 401
    assert (await hook.post(body, webhook_signature("another secret", body))).status == 401
    assert await hook.stored() == 0


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        (b"{not json", "malformed"),
        (b"\xff\xfe", "malformed"),
        (b"[1, 2]", "malformed"),
        (b'{"tweet_create_events": [{"id_str": "1"}]}', "malformed"),
        (
            b'{"for_user_id": "1500000000000000001", "tweet_create_events": [{"id": 1}]}',
            "malformed",
        ),
        (b'{"for_user_id": "1500000000000000001", "favorite_events": [{}]}', "ignored"),
        (b'{"for_user_id": "1500000000000000001", "brand_new_events": [{}]}', "ignored"),
        (b'{"user_event": {"revoke": {}}}', "ignored"),
    ],
)
async def test_junk_is_acknowledged_counted_and_not_stored(
    hook: Hook, body: bytes, outcome: str
) -> None:
    response = await hook.post(body, webhook_signature(SECRET, body))
    assert response.status == 200
    assert await hook.stored() == 0
    assert (await hook.outcomes()) == {outcome: 1.0}


async def test_deletes_are_acknowledged_and_not_acted_on_yet(hook: Hook) -> None:
    post = hook.state.add_mention("janedoe", "@AcmeSupport oops")
    for payload in aaa_tweet_create_payloads(hook.state, post):
        assert await hook.deliver(payload) == 200
    hook.state.delete_post(post)
    for payload in aaa_tweet_delete_payloads(hook.state, post):
        assert await hook.deliver(payload) == 200
    assert await hook.stored() == 1
    assert (await hook.outcomes()) == {"stored": 1.0, "ignored": 1.0}


async def test_without_a_consumer_secret_nothing_is_accepted(
    aiohttp_client: Any, database_url: str
) -> None:
    hook = await _hook(aiohttp_client, database_url, "")
    post = hook.state.add_mention("janedoe", "@AcmeSupport hello")
    (payload,) = aaa_tweet_create_payloads(hook.state, post)
    body = json.dumps(payload).encode()
    assert (await hook.client.get("/webhooks/x", params={"crc_token": "abc123"})).status == 503
    response = await hook.post(body, webhook_signature("", body))
    assert response.status == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert await hook.stored() == 0
