"""``/webhooks/meta`` against the fake Meta's signed, escaped, redelivered notifications."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from fakes.clock import ManualClock
from fakes.meta import (
    MetaState,
    batch,
    deliver_webhook,
    encode_body,
    signature_256,
    signature_sha1,
    verify_subscription,
)
from services.inbox.app import create_app as create_inbox
from services.infra.db import create_engine
from tests.support.world import (
    connect_channel,
    inbox_holding,
    inbox_settings,
)

APP_SECRET = "test_app_secret"
VERIFY_TOKEN = "meatyhamhock"
CUSTOMER = "139560936744123"
PSID = "24000000000000001"
IGSID = "17800000000000001"
# platforms.md §6: the exact bytes and the signature computed over them.
VECTOR_BODY = (
    b'{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"message":{"mid":"m_1",'
    b'"text":"\\u00e4\\u00f6\\u00e5 \\ud83d\\ude21"}}]}]}'
)
VECTOR_SIGNATURE = "sha256=c000061b592b8b3ac8aa53a0f2e037e8936c10dc6273d93bb7ad76757d3f5db4"
ROWS = text(
    """
    SELECT c.platform, c.key, m.external_id, m.kind, m.direction, m.text, m.thread_id,
           m.in_reply_to, m.conversation_id, a.external_id AS author
    FROM inbox.messages AS m
    JOIN inbox.channels AS c ON c.id = m.channel_id
    JOIN inbox.authors AS a ON a.id = m.author_id
    ORDER BY m.id
    """
)


class World:
    def __init__(self, inbox: TestClient[Any, Any], state: MetaState, engine: Any) -> None:
        self.inbox = inbox
        self.state = state
        self.engine = engine
        self.url = str(inbox.make_url("/webhooks/meta"))

    async def deliver(self, payload: dict[str, Any] | bytes, **options: Any) -> int:
        return await deliver_webhook(
            self.inbox.session, self.url, self.state.app_secret, payload, **options
        )

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        resp = await self.inbox.post(
            "/webhooks/meta", data=body, headers={"Content-Type": "application/json", **headers}
        )
        return resp.status, await resp.json(content_type=None)

    async def rows(self) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(ROWS)).all())

    async def count(self, sql: str) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(text(sql))).scalar_one())

    async def outcomes(self) -> dict[str, float]:
        body = await (await self.inbox.get("/metrics")).text()
        found: dict[str, float] = {}
        for line in body.splitlines():
            if line.startswith("ecoute_webhook_requests_total{") and 'platform="meta"' in line:
                outcome = line.split('outcome="')[1].split('"')[0]
                found[outcome] = float(line.rsplit(" ", 1)[1])
        return {k: v for k, v in found.items() if v}  # series start at zero


async def connect(inbox: TestClient[Any, Any], token: str, platform: str, key: str, account: str):
    await connect_channel(
        inbox,
        token,
        platform,
        key,
        account_id=account,
        base_url="https://graph.facebook.com",
        credentials_ref="meta",
    )


@pytest.fixture
async def world(aiohttp_client: Any, database_url: str) -> Any:
    state = MetaState(clock=ManualClock.from_now())
    ws, inbox = await inbox_holding(
        aiohttp_client,
        database_url,
        {"meta": {"page_access_token": "page"}},
        meta_app_secret=APP_SECRET,
        meta_verify_token=VERIFY_TOKEN,
        profile_refresh_hours=0,  # the channels point at the real Graph host: ask it nothing
    )
    await connect(inbox, ws.channels_token, "facebook", "acme-page", state.page_id)
    await connect(inbox, ws.channels_token, "messenger", "acme-dm", state.page_id)
    await connect(inbox, ws.channels_token, "instagram", "acme-ig", state.ig_account_id)
    engine = create_engine(database_url, 2)
    yield World(inbox, state, engine)
    await engine.dispose()


# -- handshake ----------------------------------------------------------------------------------


async def test_the_handshake_echoes_the_challenge_only_for_the_right_token(world: World) -> None:
    session = world.inbox.session
    assert await verify_subscription(session, world.url, VERIFY_TOKEN, challenge="1158201444")
    resp = await world.inbox.get(
        "/webhooks/meta",
        params={"hub.mode": "subscribe", "hub.challenge": "42", "hub.verify_token": VERIFY_TOKEN},
    )
    assert (resp.status, await resp.text(), resp.content_type) == (200, "42", "text/plain")
    assert not await verify_subscription(session, world.url, VERIFY_TOKEN, sent_token="wrong")
    resp = await world.inbox.get(
        "/webhooks/meta",
        params={"hub.mode": "subscribe", "hub.challenge": "42", "hub.verify_token": "wrong"},
    )
    assert resp.status == 403 and "42" not in await resp.text()
    resp = await world.inbox.get(
        "/webhooks/meta",
        params={"hub.mode": "unsubscribe", "hub.challenge": "7", "hub.verify_token": VERIFY_TOKEN},
    )
    assert resp.status == 403
    assert await world.outcomes() == {"handshake": 2.0, "forged": 3.0}


async def test_without_secrets_the_endpoint_is_not_configured(
    aiohttp_client: Any, database_url: str
) -> None:
    inbox = await aiohttp_client(create_inbox(inbox_settings(database_url, run_workers=False)))
    resp = await inbox.post(
        "/webhooks/meta", data=VECTOR_BODY, headers={"X-Hub-Signature-256": VECTOR_SIGNATURE}
    )
    assert resp.status == 503
    assert resp.content_type == "application/problem+json"
    resp = await inbox.get(
        "/webhooks/meta",
        params={"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": ""},
    )
    assert resp.status == 503


# -- signatures ---------------------------------------------------------------------------------


async def test_the_signature_vector_is_accepted_over_the_raw_bytes(world: World) -> None:
    status, _ = await world.post(VECTOR_BODY, {"X-Hub-Signature-256": VECTOR_SIGNATURE})
    assert status == 200
    # The same bytes with upper-case hex are the same signature.
    status, _ = await world.post(VECTOR_BODY, {"X-Hub-Signature-256": VECTOR_SIGNATURE.upper()})
    assert status == 200


async def test_a_reserialised_body_no_longer_matches(world: World) -> None:
    reserialised = json.dumps(json.loads(VECTOR_BODY), ensure_ascii=False).encode()
    assert json.loads(reserialised) == json.loads(VECTOR_BODY)
    status, body = await world.post(reserialised, {"X-Hub-Signature-256": VECTOR_SIGNATURE})
    assert status == 401 and body["status"] == 401


async def test_forged_missing_and_sha1_only_signatures_store_nothing(world: World) -> None:
    payload = world.state.feed_comment(CUSTOMER, "Where is my order?").payload
    raw = encode_body(payload)
    attempts: list[dict[str, str]] = [
        {},
        {"X-Hub-Signature-256": signature_256("another_secret", raw)},
        {"X-Hub-Signature-256": "sha256="},
        {"X-Hub-Signature-256": signature_256(APP_SECRET, raw)[7:]},  # no "sha256=" prefix
        {"X-Hub-Signature": signature_sha1(APP_SECRET, raw)},  # legacy header alone
        {"X-Hub-Signature-256": signature_256(APP_SECRET, raw + b" ")},  # another body's
    ]
    for headers in attempts:
        status, body = await world.post(raw, headers)
        assert status == 401, headers
        assert body["title"] == "Unauthorized"
    assert await world.count("SELECT count(*) FROM inbox.messages") == 0
    assert await world.outcomes() == {"forged": float(len(attempts))}
    # The genuine signature (with the legacy one alongside) is accepted.
    assert await world.deliver(payload, legacy_sha1=True) == 200
    assert await world.count("SELECT count(*) FROM inbox.messages") == 1


# -- Facebook Page feed -------------------------------------------------------------------------


async def test_a_page_comment_is_stored_once_despite_retries_and_duplicates(world: World) -> None:
    event = world.state.feed_comment(CUSTOMER, "Where is my order? äöå")
    assert await world.deliver(event.payload, duplicates=2) == 200
    later = await world.deliver(encode_body(event.payload))  # redelivered hours later
    assert later == 200
    rows = await world.rows()
    assert len(rows) == 1
    row = rows[0]
    post_id = event.payload["entry"][0]["changes"][0]["value"]["post_id"]
    assert (row.platform, row.key, row.external_id, row.kind, row.direction) == (
        "facebook",
        "acme-page",
        event.id,
        "comment",
        "in",
    )
    assert (row.text, row.thread_id, row.author) == ("Where is my order? äöå", post_id, CUSTOMER)
    assert (
        await world.count("SELECT count(*) FROM events.outbox WHERE topic = 'message.ingested'")
        == 1
    )
    assert await world.outcomes() == {"stored": 1.0, "duplicate": 3.0}


async def test_the_pages_own_comment_is_stored_outbound_in_the_same_conversation(
    world: World,
) -> None:
    question = world.state.feed_comment(CUSTOMER, "Is the shop open on Sunday?")
    answer = world.state.feed_comment(world.state.page_id, "Yes, 10-18h!", parent_id=question.id)
    assert await world.deliver(batch(question.payload, answer.payload)) == 200
    rows = await world.rows()
    assert [(r.external_id, r.direction, r.in_reply_to) for r in rows] == [
        (question.id, "in", ""),
        (answer.id, "out", question.id),
    ]
    assert rows[0].conversation_id == rows[1].conversation_id
    assert rows[1].author == world.state.page_id


async def test_edits_keep_the_first_version_and_removals_store_nothing(world: World) -> None:
    event = world.state.feed_comment(CUSTOMER, "Where is my order?")
    assert await world.deliver(event.payload) == 200
    edit = world.state.feed_comment_edit(event.id, "Where is my order 1234?")
    assert await world.deliver(edit.payload) == 200
    assert await world.deliver(world.state.feed_comment_remove(event.id).payload) == 200
    assert [(r.external_id, r.text) for r in await world.rows()] == [
        (event.id, "Where is my order?")
    ]
    assert await world.outcomes() == {"stored": 1.0, "duplicate": 1.0, "ignored": 1.0}


async def test_a_comment_known_only_from_its_edit_is_not_lost(world: World) -> None:
    event = world.state.feed_comment(CUSTOMER, "first words")
    edit = world.state.feed_comment_edit(event.id, "second words")
    assert await world.deliver(edit.payload) == 200  # the "add" never reached us
    assert [(r.external_id, r.text) for r in await world.rows()] == [(event.id, "second words")]


# -- Messenger ----------------------------------------------------------------------------------


async def test_messenger_message_and_its_echo(world: World) -> None:
    incoming = world.state.messenger_message(PSID, "hello, world! 😡")
    echo = world.state.messenger_echo(PSID, "Hi, how can we help?")
    standby = world.state.messenger_message(PSID, "other app's thread", standby=True)
    assert await world.deliver(incoming.payload) == 200
    assert await world.deliver(batch(echo.payload, standby.payload), duplicates=1) == 200
    rows = await world.rows()
    assert [(r.platform, r.key, r.external_id, r.kind, r.direction) for r in rows] == [
        ("messenger", "acme-dm", incoming.id, "dm", "in"),
        ("messenger", "acme-dm", echo.id, "dm", "out"),
    ]
    assert rows[0].text == "hello, world! 😡"
    assert rows[0].thread_id == rows[1].thread_id == PSID
    assert rows[0].conversation_id == rows[1].conversation_id
    assert (rows[0].author, rows[1].author) == (PSID, world.state.page_id)


async def test_the_page_comment_and_messenger_channels_do_not_mix(world: World) -> None:
    comment = world.state.feed_comment(CUSTOMER, "public")
    dm = world.state.messenger_message(PSID, "private")
    assert await world.deliver(batch(comment.payload, dm.payload)) == 200
    assert [(r.key, r.external_id) for r in await world.rows()] == [
        ("acme-page", comment.id),
        ("acme-dm", dm.id),
    ]


# -- Instagram ----------------------------------------------------------------------------------


async def test_instagram_comment_mention_and_dm(world: World) -> None:
    state = world.state
    comment = state.ig_comment(IGSID, "@acme my order never came 📦")
    mention = state.ig_mention("17918195224117851", "17894227972186120")
    dm = state.ig_message(IGSID, "hi, any news?")
    echo = state.ig_message(IGSID, "Checking now", is_echo=True)
    deleted = state.ig_message(IGSID, mid=dm.id, is_deleted=True)
    for payload in (comment.payload, mention.payload, dm.payload, echo.payload, deleted.payload):
        assert await world.deliver(payload, duplicates=1) == 200
    rows = await world.rows()
    assert [(r.key, r.external_id, r.kind, r.direction) for r in rows] == [
        ("acme-ig", comment.id, "comment", "in"),
        ("acme-ig", "17894227972186120", "mention", "in"),
        ("acme-ig", dm.id, "dm", "in"),
        ("acme-ig", echo.id, "dm", "out"),
    ]
    assert rows[0].text == "@acme my order never came 📦"
    assert (rows[2].text, rows[2].thread_id) == ("hi, any news?", IGSID)
    assert rows[2].conversation_id == rows[3].conversation_id


async def test_an_account_no_channel_knows_stores_nothing(world: World) -> None:
    stranger = MetaState(page_id="999000999", clock=world.state.clock)
    assert await world.deliver(stranger.feed_comment(CUSTOMER, "hello?").payload) == 200
    assert await world.count("SELECT count(*) FROM inbox.messages") == 0


# -- what is not a message ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        (b"{not json", "malformed"),
        (b"\xff\xfe\x00", "malformed"),
        (b"[" * 100_000, "malformed"),
        (b'{"object":"page"}', "malformed"),
        (b'{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"x":1}]}]}', "ignored"),
        (b'{"object":"user","entry":[{"id":"1","time":1,"changes":[]}]}', "ignored"),
        (b'{"object":"whatsapp_business_account","entry":[]}', "ignored"),
    ],
)
async def test_malformed_and_unknown_notifications_are_acknowledged_and_counted(
    world: World, body: bytes, outcome: str
) -> None:
    signed = {"X-Hub-Signature-256": signature_256(APP_SECRET, body)}
    status, answer = await world.post(body, signed)
    assert (status, answer) == (200, {"status": "received"})
    assert await world.count("SELECT count(*) FROM inbox.messages") == 0
    assert await world.outcomes() == {outcome: 1.0}


async def test_a_bad_event_does_not_cost_the_good_ones(world: World) -> None:
    good = world.state.messenger_message(PSID, "keep me").payload
    good["entry"][0]["messaging"].append({"sender": {"id": PSID}, "message": {"text": "no mid"}})
    assert await world.deliver(good) == 200
    assert [r.text for r in await world.rows()] == ["keep me"]
    assert await world.outcomes() == {"stored": 1.0}
