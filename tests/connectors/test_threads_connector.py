"""The Threads connector against the fake Threads API: replies to the brand's posts and
mentions in through signed webhooks and the polled catch-up, replies out through the delivery
loop exactly once, hide / unhide, through the platform's faults."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from fakes.clock import ManualClock
from fakes.threads import ThreadsState, deliver_webhook
from fakes.threads import create_app as create_fake
from services.inbox.connectors import threads as connector
from tests.connectors.world import ConnectorWorld, engine_and_session
from tests.support.world import connect_channel, inbox_holding

KEY = "acme-threads"
MESSAGES = (
    "SELECT m.external_id, m.text, m.kind, m.direction, m.conversation_id, "
    "a.external_id AS author FROM inbox.messages m "
    "JOIN inbox.authors a ON a.id = m.author_id ORDER BY m.created_at, m.id"
)


class World(ConnectorWorld):
    def __init__(self, inbox: TestClient[Any, Any], state: ThreadsState, **kw: Any) -> None:
        super().__init__(credentials={KEY: {"access_token": state.access_token}}, **kw)
        self.inbox = inbox
        self.state = state

    async def webhook(self, payload: dict[str, Any], **options: Any) -> int:
        url = str(self.inbox.make_url("/webhooks/threads"))
        secret = options.pop("secret", self.state.app_secret)
        return await deliver_webhook(self.session, url, secret, payload, **options)

    async def webhooks_arrive(self) -> None:
        pending, self.state.outbound_webhooks = self.state.outbound_webhooks, []
        for payload in pending:
            assert await self.webhook(payload) == 200

    async def reply(self, external_id: str, words: str) -> Any:
        reply_id = await self.request_reply(external_id, words)
        async with self.engine.begin() as conn:
            await conn.execute(
                text("UPDATE inbox.deliveries SET next_attempt_at = :now"), {"now": self.clock()}
            )
        return reply_id

    async def delivery(self) -> Any:
        return (await self.rows("SELECT * FROM inbox.deliveries"))[0]

    async def customer_asks(self, username: str, words: str) -> dict[str, Any]:
        """Someone replies to the brand's new post; the webhook brings it in."""
        asked = self.state.reply(username, words, self.state.post("Strike on Monday"))
        await self.webhooks_arrive()
        return asked

    def writes(self) -> list[str]:
        return [r for r in self.state.requests if not r.startswith("GET")]


@pytest.fixture
async def world(aiohttp_server: Any, aiohttp_client: Any, database_url: str) -> Any:
    clock = ManualClock.from_now()
    state = ThreadsState(clock=clock)
    fake = await aiohttp_server(create_fake(state))
    ws, inbox = await inbox_holding(
        aiohttp_client,
        database_url,
        {KEY: {"access_token": state.access_token}},
        threads_app_secret=state.app_secret,
        threads_verify_token=state.verify_token,
    )
    await connect_channel(
        inbox,
        ws.channels_token,
        "threads",
        KEY,
        account_id=state.user_id,
        base_url=str(fake.make_url("/")),
        poll_seconds=60,
    )
    async with engine_and_session(database_url) as (engine, session):
        yield World(
            inbox,
            state,
            database_url=database_url,
            clock=clock,
            workspace=ws,
            engine=engine,
            session=session,
        )


async def test_replies_and_mentions_are_stored_once_under_duplicates_and_out_of_order(
    world: World,
) -> None:
    post = world.state.post("Our autumn timetable is out")
    earlier = world.clock() - timedelta(minutes=10)
    first = world.state.reply("lea_m", "My train was cancelled twice", post, at=earlier)
    nested = world.state.reply("tom", "same here", str(first["id"]))
    mention = world.state.mention("sam", "refund still not here")
    first_hook, nested_hook, mention_hook = world.state.outbound_webhooks
    assert await world.webhook(nested_hook, duplicates=2) == 200  # the later one first, thrice
    assert await world.webhook(mention_hook) == 200
    assert await world.webhook(first_hook, duplicates=1) == 200
    assert await world.poll() == "ok"  # the catch-up meets the same posts again
    rows = await world.rows(MESSAGES)
    assert [(r.external_id, r.kind, r.author, r.direction) for r in rows] == [
        (first["id"], "reply", "lea_m", "in"),
        (nested["id"], "reply", "tom", "in"),
        (mention["id"], "mention", "sam", "in"),
    ]
    assert rows[0].text == "My train was cancelled twice"
    # a reply to a reply joins its conversation; the mention starts its own
    assert rows[0].conversation_id == rows[1].conversation_id != rows[2].conversation_id
    other = world.state.reply("max", "and my bike ticket?", post)  # another customer
    assert await world.webhook(world.state.outbound_webhooks[-1]) == 200
    (own,) = await world.rows(
        "SELECT conversation_id FROM inbox.messages WHERE external_id = :e", e=other["id"]
    )
    assert own.conversation_id not in {r.conversation_id for r in rows}


async def test_polling_catches_up_what_no_webhook_brought_across_pages(world: World) -> None:
    post = world.state.post("New fares")
    world.state.reply("ancient", "hello?", post, at=world.clock() - timedelta(days=3))
    world.state.reply("early", "first!", post, at=world.clock() - timedelta(hours=1))
    assert await world.poll() == "ok"  # a first poll: the last 24 hours only
    (stored,) = await world.rows(
        "SELECT a.handle FROM inbox.messages m JOIN inbox.authors a ON a.id = m.author_id"
    )
    assert stored.handle == "early"
    world.clock.advance(600)
    later = [
        world.state.reply(
            f"user{n}", f"question {n}", post, at=world.clock() + timedelta(seconds=n)
        )
        for n in range(connector.PAGE + 10)  # more than a page
    ]
    mention = world.state.mention("sam", "where is my refund")
    world.clock.advance(3600)
    assert await world.poll() == "ok"
    assert await world.poll() == "ok"  # nothing new, nothing twice
    stored = {r.external_id for r in await world.rows(MESSAGES)}
    assert stored >= {str(r["id"]) for r in later} | {str(mention["id"])}
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == len(later) + 2


async def test_a_reply_is_published_in_two_steps_and_delivered_once(world: World) -> None:
    asked = await world.customer_asks("lea_m", "Is my 8:15 running?")
    await world.reply(str(asked["id"]), "Yes, it runs as planned.")
    assert await world.deliverer().deliver_due() == 1
    (sent,) = world.state.brand_replies()
    assert (sent["text"], sent["replied_to"]) == ("Yes, it runs as planned.", {"id": asked["id"]})
    delivery = await world.delivery()
    assert (delivery.state, delivery.platform_message_id) == ("delivered", sent["id"])
    writes = world.writes()
    assert [w.split("?")[0] for w in writes] == [
        f"POST /v1.0/{world.state.user_id}/threads",
        f"POST /v1.0/{world.state.user_id}/threads_publish",
    ]
    assert all("access_token" not in w for w in world.state.requests)  # a header, not the URL
    assert await world.poll() == "ok"  # our reply comes back in the conversation: stored once
    outbound = await world.rows("SELECT external_id FROM inbox.messages WHERE direction = 'out'")
    assert [r.external_id for r in outbound] == [sent["id"]]


async def test_a_reply_whose_publish_answer_was_lost_is_delivered_once(world: World) -> None:
    asked = await world.customer_asks("lea_m", "Is my 8:15 running?")
    await world.reply(str(asked["id"]), "Yes, it runs.")
    world.state.lose_next_answer()
    assert await world.deliverer().deliver_due() == 1
    assert (await world.delivery()).state == "sending"  # unsure: looked up, never resent
    assert await world.due_now() == 1
    (sent,) = world.state.brand_replies()
    delivery = await world.delivery()
    assert (delivery.state, delivery.platform_message_id) == ("delivered", sent["id"])
    assert sum(w.split("?")[0].endswith("/threads_publish") for w in world.writes()) == 1


async def test_a_spent_reply_quota_and_throttling_are_honoured(world: World) -> None:
    asked = await world.customer_asks("lea_m", "Is my 8:15 running?")
    world.state.reply_quota = 0  # the moving 24 hours' 1,000 replies are spent
    await world.reply(str(asked["id"]), "Yes, it runs.")
    assert await world.deliverer().deliver_due() == 1
    delivery = await world.delivery()
    assert (delivery.state, delivery.failure_reason) == ("queued", "rate_limited")
    assert delivery.next_attempt_at >= world.clock() + connector.QUOTA_RECHECK
    assert world.writes() == []  # no container made against a spent quota
    assert await world.deliverer().deliver_due() == 0  # nothing is tried before its time
    world.state.reply_quota = 1000
    assert await world.due_now() == 1
    assert (await world.delivery()).state == "delivered"
    world.state.throttle_next(2)  # both streams are refused: the channel waits
    await world.polls_rate_limited_until(world.clock())


async def test_an_expired_token_asks_for_reauthorisation(world: World) -> None:
    asked = await world.customer_asks("lea_m", "Is my 8:15 running?")
    await world.reply(str(asked["id"]), "Yes.")
    world.state.expire_token()
    assert await world.deliverer().deliver_due() == 1
    delivery = await world.delivery()
    assert (delivery.state, delivery.failure_reason) == ("failed", "auth_expired")
    assert (await world.channel()).health == "needs_reauth"
    assert world.state.brand_replies() == []
    await world.polls_needing_reauthorisation()


async def test_a_reply_to_the_brand_is_hidden_and_shown_again(world: World) -> None:
    abuse = await world.customer_asks("troll", "you are all thieves")
    await world.request_moderation(str(abuse["id"]), "hide")
    assert await world.moderator().moderate_due() == 1
    assert world.state.is_hidden(str(abuse["id"]))
    assert world.writes()[-1].startswith(f"POST /v1.0/{abuse['id']}/manage_reply?hide=true")
    await world.request_moderation(str(abuse["id"]), "unhide")
    await world.moderator().moderate_due()
    assert not world.state.is_hidden(str(abuse["id"]))
    states = await world.rows("SELECT action, state FROM inbox.moderations ORDER BY action")
    assert [tuple(r) for r in states] == [("hide", "done"), ("unhide", "done")]


async def test_a_forged_notification_stores_nothing(world: World) -> None:
    post = world.state.post("Strike on Monday")
    world.state.reply("lea_m", "send me your password", post)
    (payload,) = world.state.outbound_webhooks
    assert await world.webhook(payload, secret="not-the-app-secret") == 401
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 0
    assert await world.webhook(payload) == 200  # rightly signed, it is stored: the check can fail
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 1
