"""The Meta connector against the fake Graph API: replies out, exactly once, through its faults.

Inbound messages arrive the way Meta sends them (signed webhooks to the inbox); replies go
through the delivery loop (``reply.requested`` → ``Deliverer``) to the fake, which counts them.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from ecoute.v1 import events_pb2
from fakes.clock import ManualClock
from fakes.meta import MetaState, deliver_webhook
from fakes.meta import create_app as create_fake
from services.inbox.channels import store as channels
from services.inbox.channels.poller import Poller
from services.inbox.connectors.meta import MetaConnector
from services.infra.db import create_engine
from tests.connectors.world import ConnectorWorld
from tests.support.world import (
    connect_channel,
    inbox_holding,
)

CUSTOMER = "139560936744123"
PSID = "24000000000000001"
IGSID = "17800000000000001"
KEYS = {"facebook": "acme-page", "messenger": "acme-dm", "instagram": "acme-ig"}


class World(ConnectorWorld):
    def __init__(
        self,
        database_url: str,
        inbox: TestClient[Any, Any],
        state: MetaState,
        clock: ManualClock,
        workspace: Any,
        engine: Any,
        session: aiohttp.ClientSession,
    ) -> None:
        credentials = {"meta": {"page_access_token": state.page_access_token}}
        super().__init__(database_url, clock, workspace, engine, session, credentials)
        self.inbox = inbox
        self.state = state

    async def webhook(self, payload: dict[str, Any]) -> None:
        url = str(self.inbox.make_url("/webhooks/meta"))
        assert await deliver_webhook(self.session, url, self.state.app_secret, payload) == 200

    async def request_reply(
        self, external_id: str, words: str, *, private: bool = False
    ) -> uuid.UUID:
        """An agent answers ``external_id``; the delivery is due on the test's clock."""
        reply_id = await super().request_reply(external_id, words, private=private)
        async with self.engine.begin() as conn:
            await conn.execute(
                text("UPDATE inbox.deliveries SET next_attempt_at = :now WHERE reply_id = :r"),
                {"now": self.clock(), "r": reply_id},
            )
        return reply_id

    async def delivery(self) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(text("SELECT * FROM inbox.deliveries"))).one()

    async def failures(self) -> list[events_pb2.ReplyFailed]:
        async with self.engine.connect() as conn:
            payloads = (
                await conn.execute(
                    text(
                        "SELECT payload FROM events.outbox WHERE topic = 'reply.failed' "
                        "AND consumer = 'observer' ORDER BY id"
                    )
                )
            ).scalars()
            return [events_pb2.ReplyFailed.FromString(bytes(p)) for p in payloads]

    async def point_at(self, platform: str, base_url: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                text("UPDATE inbox.channels SET base_url = :u WHERE platform = :p"),
                {"u": base_url, "p": platform},
            )


@pytest.fixture
async def world(aiohttp_server: Any, aiohttp_client: Any, database_url: str) -> Any:
    clock = ManualClock.from_now()
    state = MetaState(clock=clock)
    fake = await aiohttp_server(create_fake(state))
    ws, inbox = await inbox_holding(
        aiohttp_client,
        database_url,
        {"meta": {"page_access_token": state.page_access_token}},
        meta_app_secret=state.app_secret,
        meta_verify_token=state.verify_token,
    )
    accounts = {"facebook": state.page_id, "messenger": state.page_id}
    accounts["instagram"] = state.ig_account_id
    for platform, account in accounts.items():
        await connect_channel(
            inbox,
            ws.channels_token,
            platform,
            KEYS[platform],
            account_id=account,
            base_url=str(fake.make_url("/")),
            credentials_ref="meta",
        )
    engine = create_engine(database_url, 4)
    async with engine.begin() as conn:  # someone listening for the delivery outcomes
        await conn.execute(
            text(
                "INSERT INTO events.subscription (topic, consumer) VALUES "
                "('reply.failed', 'observer'), ('reply.delivered', 'observer'), "
                "('moderation.settled', 'observer')"
            )
        )
    async with aiohttp.ClientSession() as session:
        yield World(database_url, inbox, state, clock, ws, engine, session)
    await engine.dispose()


async def test_a_facebook_comment_reply_is_posted_once_and_its_echo_is_not_stored_twice(
    world: World,
) -> None:
    comment = world.state.feed_comment(CUSTOMER, "Where is my order?")
    await world.webhook(comment.payload)
    reply_id = await world.request_reply(comment.id, "Hi Jane, it ships today.")
    assert await world.deliverer().deliver_due() == 1
    (sent,) = world.state.sends
    assert (sent.kind, sent.target, sent.text) == (
        "comment_reply",
        comment.id,
        "Hi Jane, it ships today.",
    )
    delivery = await world.delivery()
    assert (delivery.reply_id, delivery.state, delivery.platform_message_id) == (
        reply_id,
        "delivered",
        sent.id,
    )
    # Meta sends the Page's own reply back through the feed: it is the message already stored.
    await world.webhook(world.state.outbound_webhooks[-1])
    rows = await world.scalar(
        "SELECT string_agg(direction || ':' || external_id, ',' ORDER BY id) FROM inbox.messages"
    )
    assert rows == f"in:{comment.id},out:{sent.id}"
    assert await world.scalar("SELECT count(DISTINCT conversation_id) FROM inbox.messages") == 1
    assert await world.deliverer().deliver_due() == 0
    assert len(world.state.sends) == 1
    authorised = [r for r in world.state.requests if r.startswith("POST")]
    assert authorised == [f"POST /v21.0/{comment.id}/comments"]  # the token is not in the URL


async def test_a_messenger_reply_inside_the_window_is_delivered_once(world: World) -> None:
    message = world.state.messenger_message(PSID, "my parcel is lost 😡")
    await world.webhook(message.payload)
    world.clock.advance(23 * 3600)
    await world.request_reply(message.id, "So sorry! Checking now.")
    assert await world.deliverer().deliver_due() == 1
    (sent,) = world.state.messages_to(PSID)
    assert (sent.account_id, sent.messaging_type, sent.text) == (
        world.state.page_id,
        "RESPONSE",
        "So sorry! Checking now.",
    )
    assert (await world.delivery()).state == "delivered"
    await world.webhook(world.state.outbound_webhooks[-1])  # the is_echo of our own message
    assert await world.scalar("SELECT count(*) FROM inbox.messages WHERE direction = 'out'") == 1
    assert await world.deliverer().deliver_due() == 0
    assert len(world.state.sends) == 1
    assert await world.failures() == []


async def test_outside_the_24_hour_window_the_reply_fails_as_window_closed(world: World) -> None:
    message = world.state.messenger_message(PSID, "hello?")
    await world.webhook(message.payload)
    world.clock.advance(24 * 3600 + 1)
    reply_id = await world.request_reply(message.id, "Sorry for the wait")
    assert await world.deliverer().deliver_due() == 1
    delivery = await world.delivery()
    assert (delivery.state, delivery.failure_reason) == ("failed", "window_closed")
    assert "outside of allowed window" in delivery.failure_detail
    (failed,) = await world.failures()
    assert (failed.reply_id, failed.reason, failed.retryable) == (
        str(reply_id),
        "window_closed",
        False,
    )
    assert world.state.sends == []
    assert await world.deliverer().deliver_due() == 0


async def test_the_window_error_without_its_subcode_is_still_window_closed(world: World) -> None:
    world.state.window_error_subcode = None
    message = world.state.messenger_message(PSID, "hello?")
    await world.webhook(message.payload)
    world.clock.advance(25 * 3600)
    await world.request_reply(message.id, "Sorry for the wait")
    await world.deliverer().deliver_due()
    assert (await world.delivery()).failure_reason == "window_closed"


async def test_an_expired_token_fails_as_auth_expired(world: World) -> None:
    comment = world.state.feed_comment(CUSTOMER, "Where is my order?")
    await world.webhook(comment.payload)
    world.state.expire_token()
    await world.request_reply(comment.id, "On it")
    assert await world.deliverer().deliver_due() == 1
    delivery = await world.delivery()
    assert (delivery.state, delivery.failure_reason) == ("failed", "auth_expired")
    (failed,) = await world.failures()
    assert (failed.reason, failed.retryable) == ("auth_expired", True)
    assert world.state.sends == []


@pytest.mark.parametrize("code", [4, 613, 80001])
async def test_throttling_waits_for_the_regain_time_then_delivers_once(
    world: World, code: int
) -> None:
    message = world.state.messenger_message(PSID, "hi")
    await world.webhook(message.payload)
    await world.request_reply(message.id, "Hello!")
    world.state.throttle_next(code=code)
    assert await world.deliverer().deliver_due() == 1
    delivery = await world.delivery()
    assert (delivery.state, delivery.failure_reason) == ("queued", "rate_limited")
    # The fake's usage header says 60 minutes to regain access (its usage window).
    assert delivery.next_attempt_at == world.clock() + timedelta(minutes=60)
    assert await world.deliverer().deliver_due() == 0  # not before then
    world.clock.advance(60 * 60)
    assert await world.deliverer().deliver_due() == 1
    assert (await world.delivery()).state == "delivered"
    assert len(world.state.messages_to(PSID)) == 1
    assert await world.failures() == []


async def test_throttling_without_usage_headers_backs_off(world: World) -> None:
    world.state.usage_headers = False
    message = world.state.messenger_message(PSID, "hi")
    await world.webhook(message.payload)
    await world.request_reply(message.id, "Hello!")
    world.state.throttle_next()
    await world.deliverer().deliver_due()
    delivery = await world.delivery()
    assert (delivery.state, delivery.failure_reason) == ("queued", "rate_limited")
    assert delivery.next_attempt_at > world.clock()


async def test_server_errors_are_retried_and_delivered_once(world: World) -> None:
    comment = world.state.feed_comment(CUSTOMER, "Where is my order?")
    await world.webhook(comment.payload)
    await world.request_reply(comment.id, "Checking")
    world.state.fail_next(503)
    assert await world.deliverer().deliver_due() == 1
    delivery = await world.delivery()
    assert (delivery.state, delivery.failure_reason) == ("queued", "unreachable")
    world.clock.advance(3600)
    assert await world.deliverer().deliver_due() == 1
    assert (await world.delivery()).state == "delivered"
    assert len(world.state.sends) == 1


async def test_instagram_comment_reply_and_dm(world: World) -> None:
    comment = world.state.ig_comment(IGSID, "@acme my order never came")
    dm = world.state.ig_message(IGSID, "any news?")
    await world.webhook(comment.payload)
    await world.webhook(dm.payload)
    await world.request_reply(comment.id, "Sent you a DM")
    await world.request_reply(dm.id, "It ships today")
    assert await world.deliverer().deliver_due() == 2
    sends = sorted((s.kind, s.account_id, s.target, s.text) for s in world.state.sends)
    ig = world.state.ig_account_id
    assert sends == [
        ("ig_comment_reply", ig, comment.id, "Sent you a DM"),
        ("message", ig, IGSID, "It ships today"),
    ]
    states = await world.scalar("SELECT string_agg(state, ',') FROM inbox.deliveries")
    assert states == "delivered,delivered"


async def test_a_private_reply_to_a_facebook_comment_is_one_message_to_the_commenter(
    world: World,
) -> None:
    comment = world.state.feed_comment(CUSTOMER, "My card was charged twice")
    await world.webhook(comment.payload)
    await world.request_reply(comment.id, "Hi Jane, which card?", private=True)
    assert await world.deliverer().deliver_due() == 1
    (sent,) = world.state.sends
    assert (sent.kind, sent.account_id, sent.target, sent.text) == (
        "private_reply",
        world.state.page_id,
        comment.id,
        "Hi Jane, which card?",
    )
    assert (await world.rows("SELECT state FROM inbox.deliveries")) == [("delivered",)]
    await world.request_reply(comment.id, "One more thing", private=True)
    assert await world.deliverer().deliver_due() == 1
    (failed,) = await world.failures()
    assert (failed.reason, failed.retryable) == ("duplicate", False)
    assert "already got its one private reply" in failed.detail
    assert len(world.state.sends) == 1


async def test_a_private_reply_to_an_instagram_comment_goes_through_the_page_within_7_days(
    world: World,
) -> None:
    fresh = world.state.ig_comment(IGSID, "@acme my order never came")
    await world.webhook(fresh.payload)
    await world.request_reply(fresh.id, "Sent you a message", private=True)
    assert await world.deliverer().deliver_due() == 1
    assert [(s.kind, s.account_id, s.target) for s in world.state.sends] == [
        ("private_reply", world.state.ig_account_id, fresh.id)
    ]
    assert world.state.requests[-1] == "POST /v21.0/me/messages"
    old = world.state.ig_comment("17800000000000002", "@acme still nothing")
    await world.webhook(old.payload)
    world.clock.advance(7 * 86_400 + 60)
    await world.request_reply(old.id, "Sorry, checking", private=True)
    assert await world.deliverer().deliver_due() == 1
    (failed,) = await world.failures()
    assert failed.reason == "window_closed" and "within 7 days" in failed.detail
    assert len(world.state.sends) == 1


async def test_a_private_reply_whose_answer_was_lost_is_sent_once(
    world: World, aiohttp_server: Any
) -> None:
    fake = str(
        await world.scalar("SELECT base_url FROM inbox.channels WHERE platform = 'facebook'")
    )

    async def forward_then_hang_up(request: web.Request) -> web.StreamResponse:
        """Meta gets the request and acts on it; its answer never comes back."""
        headers = {k: request.headers[k] for k in ("Authorization", "Content-Type")}
        async with world.session.post(
            fake.rstrip("/") + request.path, data=await request.read(), headers=headers
        ) as answer:
            await answer.read()
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    app = web.Application()
    app.router.add_post("/{tail:.*}", forward_then_hang_up)
    server = await aiohttp_server(app)
    comment = world.state.feed_comment(CUSTOMER, "My card was charged twice")
    await world.webhook(comment.payload)
    await world.point_at("facebook", str(server.make_url("/")))
    await world.request_reply(comment.id, "Hi Jane, which card?", private=True)
    assert await world.deliverer().deliver_due() == 1
    (failed,) = await world.failures()
    assert failed.reason == "unknown_outcome"
    world.clock.advance(3600)
    assert await world.deliverer().deliver_due() == 0
    assert [(s.kind, s.target) for s in world.state.sends] == [("private_reply", comment.id)]


async def test_an_instagram_mention_cannot_be_answered_yet(world: World) -> None:
    await world.webhook(world.state.ig_mention("17918195224117851", "17894227972186120").payload)
    await world.request_reply("17894227972186120", "Thanks for the mention")
    await world.deliverer().deliver_due()
    assert (await world.delivery()).failure_reason == "unsupported"
    assert world.state.requests == []


async def test_an_interrupted_send_is_never_repeated(world: World) -> None:
    message = world.state.messenger_message(PSID, "hi")
    await world.webhook(message.payload)
    await world.request_reply(message.id, "Hello!")
    await world.crash_mid_send()
    assert await world.deliverer().deliver_due() == 1
    delivery = await world.delivery()
    assert (delivery.state, delivery.failure_reason) == ("failed", "unknown_outcome")
    # Nothing was sent (the only call is the webhook's profile lookup, a read).
    assert [r for r in world.state.requests if not r.startswith("GET")] == []


async def test_no_answer_after_sending_is_an_unknown_outcome_not_a_retry(
    world: World, aiohttp_server: Any
) -> None:
    calls: list[str] = []

    async def hang_up(request: web.Request) -> web.StreamResponse:
        calls.append(request.path)
        await request.read()
        assert request.transport is not None
        request.transport.close()  # the reply may have been made; no answer comes back
        return web.Response()

    app = web.Application()
    app.router.add_post("/{tail:.*}", hang_up)
    server = await aiohttp_server(app)
    message = world.state.messenger_message(PSID, "hi")
    await world.webhook(message.payload)
    await world.point_at("messenger", str(server.make_url("/")))
    await world.request_reply(message.id, "Hello!")
    assert await world.deliverer().deliver_due() == 1
    delivery = await world.delivery()
    assert (delivery.state, delivery.failure_reason) == ("failed", "unknown_outcome")
    assert len(calls) == 1


async def test_a_connection_never_made_is_retried(world: World, unused_tcp_port: int) -> None:
    message = world.state.messenger_message(PSID, "hi")
    await world.webhook(message.payload)
    await world.point_at("messenger", f"http://127.0.0.1:{unused_tcp_port}")
    await world.request_reply(message.id, "Hello!")
    assert await world.deliverer().deliver_due() == 1
    delivery = await world.delivery()
    assert (delivery.state, delivery.failure_reason) == ("queued", "unreachable")


async def test_meta_channels_are_push_only(world: World) -> None:
    async with world.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM inbox.channels ORDER BY id"))).all()
    assert [r.polling for r in rows] == [False, False, False]
    poller = Poller(world.engine, world.database_url, world.credentials, world.session)
    for row in rows:
        channel = channels.describe_channel(row)
        connector = MetaConnector(
            channel, world.credentials.get(world.workspace.id, "meta"), world.session, world.clock
        )
        assert connector.streams == ()
        assert [page async for page in connector.poll("anything", None)] == []
        assert await poller.poll_channel(channel) == "ok"
    assert world.state.requests == []


# Moderation on the platform ---------------------------------------------------------------


async def test_a_facebook_comment_is_hidden_once_and_shown_again(world: World) -> None:
    comment = world.state.feed_comment(CUSTOMER, "you are all thieves")
    await world.webhook(comment.payload)
    hide = await world.request_moderation(comment.id, "hide")
    assert await world.moderator().moderate_due() == 1
    assert await world.moderator().moderate_due() == 0  # the redelivered request acted once
    fake = world.state.comments[comment.id]
    assert (fake.hidden, fake.hidden_changes) == (True, 1)
    assert [r for r in world.state.requests if not r.startswith("GET")] == [
        f"POST /v21.0/{comment.id}"  # the token in a header, not the URL
    ]
    (settled,) = await world.settled()
    assert (settled.action_id, settled.action, settled.done) == (str(hide), "hide", True)
    await world.request_moderation(comment.id, "unhide")
    await world.moderator().moderate_due()
    assert (fake.hidden, fake.hidden_changes) == (False, 2)
    assert [s.done for s in await world.settled()] == [True, True]


async def test_a_hide_whose_answer_was_lost_is_made_again_and_hides_once(world: World) -> None:
    comment = world.state.feed_comment(CUSTOMER, "scam company")
    await world.webhook(comment.payload)
    await world.request_moderation(comment.id, "hide")
    world.state.drop_next_answer()
    assert await world.moderator().moderate_due() == 1
    row = await world.moderation()
    assert (row.state, row.failure_reason) == ("queued", "unreachable")
    assert world.state.comments[comment.id].hidden  # Meta did it; we never heard
    assert await world.settled() == []
    world.clock.advance(3600)
    assert await world.moderator().moderate_due() == 1
    assert (await world.moderation()).state == "done"
    assert world.state.comments[comment.id].hidden_changes == 1
    assert [s.done for s in await world.settled()] == [True]


async def test_a_delete_whose_answer_was_lost_is_done_when_the_comment_is_gone(
    world: World,
) -> None:
    comment = world.state.ig_comment(IGSID, "spam spam spam")
    await world.webhook(comment.payload)
    await world.request_moderation(comment.id, "delete")
    world.state.drop_next_answer()
    await world.moderator().moderate_due()
    assert world.state.comments[comment.id].removed
    world.clock.advance(3600)
    await world.moderator().moderate_due()  # Meta: the comment does not exist (100/33)
    (settled,) = await world.settled()
    assert (settled.action, settled.done) == ("delete", True)


async def test_an_instagram_comment_is_hidden_with_the_hide_parameter(world: World) -> None:
    comment = world.state.ig_comment(IGSID, "this brand is garbage")
    await world.webhook(comment.payload)
    await world.request_moderation(comment.id, "hide")
    await world.moderator().moderate_due()
    assert world.state.comments[comment.id].hidden
    assert [s.done for s in await world.settled()] == [True]


async def test_an_expired_token_fails_the_hide_and_the_channel_needs_reauthorisation(
    world: World,
) -> None:
    comment = world.state.feed_comment(CUSTOMER, "you are all thieves")
    await world.webhook(comment.payload)
    world.state.expire_token()
    await world.request_moderation(comment.id, "hide")
    await world.moderator().moderate_due()
    (settled,) = await world.settled()
    assert (settled.done, settled.reason) == (False, "auth_expired")
    assert world.state.page_access_token not in settled.detail
    health = await world.rows("SELECT platform, health FROM inbox.channels ORDER BY platform")
    assert ("facebook", "needs_reauth") in [tuple(h) for h in health]
    assert not world.state.comments[comment.id].hidden


async def test_a_throttled_hide_waits_for_the_regain_time_then_hides_once(world: World) -> None:
    comment = world.state.feed_comment(CUSTOMER, "you are all thieves")
    await world.webhook(comment.payload)
    await world.request_moderation(comment.id, "hide")
    world.state.throttle_next()
    await world.moderator().moderate_due()
    row = await world.moderation()
    assert (row.state, row.failure_reason) == ("queued", "rate_limited")
    assert row.next_attempt_at == world.clock() + timedelta(minutes=60)
    assert await world.moderator().moderate_due() == 0  # not before then
    world.clock.advance(60 * 60)
    assert await world.moderator().moderate_due() == 1
    assert world.state.comments[comment.id].hidden_changes == 1
    assert [s.done for s in await world.settled()] == [True]


async def test_a_direct_message_cannot_be_hidden(world: World) -> None:
    message = world.state.messenger_message(PSID, "you are useless")
    await world.webhook(message.payload)
    await world.request_moderation(message.id, "hide")
    await world.moderator().moderate_due()
    (settled,) = await world.settled()
    assert (settled.done, settled.reason) == (False, "unsupported")
    assert [r for r in world.state.requests if not r.startswith("GET")] == []


async def authors_seen_by_triage(world: World) -> list[tuple[str, str, str]]:
    """(external id, handle, display name) of each message.ingested, in order."""
    async with world.engine.connect() as conn:
        payloads = (
            await conn.execute(
                text(
                    "SELECT payload FROM events.outbox WHERE topic = 'message.ingested' "
                    "AND consumer = 'triage' ORDER BY id"
                )
            )
        ).scalars()
        events = [events_pb2.MessageIngested.FromString(bytes(p)) for p in payloads]
    return [
        (e.message.author.external_id, e.message.author.handle, e.message.author.display_name)
        for e in events
    ]


async def test_a_messenger_name_is_looked_up_once_and_cached(world: World) -> None:
    world.state.add_person(PSID, "Jane", "Doe")
    await world.webhook(world.state.messenger_message(PSID, "my parcel is lost").payload)
    await world.webhook(world.state.messenger_message(PSID, "hello?").payload)
    assert await authors_seen_by_triage(world) == [(PSID, "", "Jane Doe")] * 2
    assert world.state.profile_lookups(PSID) == 1  # the second message used the cache
    cached = await world.rows(
        "SELECT display_name, profile_checked_at FROM inbox.authors WHERE external_id = :p",
        p=PSID,
    )
    assert [(r.display_name, r.profile_checked_at is not None) for r in cached] == [
        ("Jane Doe", True)
    ]
    (request,) = [r for r in world.state.requests if r.startswith("GET")]
    assert request == f"GET /v21.0/{PSID}?fields=name,first_name,last_name"  # no token in URL


async def test_a_name_older_than_the_refresh_age_is_asked_again(world: World) -> None:
    world.state.add_person(PSID, "Jane", "Doe")
    await world.webhook(world.state.messenger_message(PSID, "first").payload)
    async with world.engine.begin() as conn:  # a week and a bit later
        await conn.execute(
            text(
                "UPDATE inbox.authors SET profile_checked_at = profile_checked_at - "
                "interval '169 hours'"
            )
        )
    world.state.add_person(PSID, "Jane", "Martin")
    await world.webhook(world.state.messenger_message(PSID, "again").payload)
    assert world.state.profile_lookups(PSID) == 2
    assert [a[2] for a in await authors_seen_by_triage(world)] == ["Jane Doe", "Jane Martin"]


async def test_a_failed_lookup_still_stores_the_message_and_the_next_one_asks_again(
    world: World,
) -> None:
    world.state.add_person(PSID, "Jane", "Doe")
    world.state.fail_next(500)
    await world.webhook(world.state.messenger_message(PSID, "my parcel is lost").payload)
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 1
    assert await authors_seen_by_triage(world) == [(PSID, "", "")]
    world.state.throttle_next()
    await world.webhook(world.state.messenger_message(PSID, "anyone?").payload)
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 2
    # Someone Meta will not describe (no consent): stored without a name, like the rest.
    await world.webhook(world.state.messenger_message("24000000000000999", "hi").payload)
    await world.webhook(world.state.messenger_message(PSID, "still there?").payload)
    assert [a[2] for a in await authors_seen_by_triage(world)] == ["", "", "", "Jane Doe"]
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 4


async def test_an_instagram_name_and_username_reach_the_message(world: World) -> None:
    world.state.add_person(IGSID, "Léa Martin", platform="instagram", username="lea.m")
    await world.webhook(world.state.ig_message(IGSID, "où est ma commande ?").payload)
    assert await authors_seen_by_triage(world) == [(IGSID, "lea.m", "Léa Martin")]
    assert world.state.profile_lookups(IGSID) == 1
    # The Page's own echo and comments are not looked up.
    await world.webhook(world.state.ig_message(IGSID, "On it!", is_echo=True).payload)
    assert world.state.profile_lookups(IGSID) == 1
