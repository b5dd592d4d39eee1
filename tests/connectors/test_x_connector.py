"""The X connector against the fake X: mentions, DMs, replies, and through X's faults."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from fakes.clock import ManualClock
from fakes.x import XState
from fakes.x import create_app as create_fake
from services.inbox.channels import store as channels
from services.inbox.connectors.base import Channel, CursorRejected
from services.inbox.connectors.x import XConnector
from tests.connectors.world import ConnectorWorld, connected_workspace, engine_and_session

TOKEN = "x-user-token"
APP_TOKEN = "x-app-only-token"
CREDENTIALS = {"xcreds": {"bearer_token": TOKEN}, "xapp": {"bearer_token": APP_TOKEN}}


class World(ConnectorWorld):
    def __init__(
        self,
        database_url: str,
        fake: Any,
        state: XState,
        clock: ManualClock,
        workspace: Any,
        engine: Any,
        session: aiohttp.ClientSession,
    ) -> None:
        super().__init__(database_url, clock, workspace, engine, session, CREDENTIALS)
        self.fake = fake
        self.state = state

    async def described_channel(self) -> Channel:
        return channels.describe_channel(await self.channel())

    def mention(self, who: str, words: str, minutes_ago: float = 1, **extra: Any) -> str:
        at = self.clock() - timedelta(minutes=minutes_ago)
        return self.state.add_mention(who, f"@AcmeSupport {words}", at, **extra)

    def requests(self, prefix: str) -> list[str]:
        return [r for r in self.state.requests if r.startswith(prefix)]

    async def deliver(self) -> int:
        """Run the delivery loop once, with every queued or interrupted delivery due."""
        async with self.engine.begin() as conn:
            await conn.execute(
                text("UPDATE inbox.deliveries SET next_attempt_at = now() - interval '1 hour'")
            )
        return await self.deliverer().deliver_due()

    async def delivery(self, reply_id: uuid.UUID) -> Any:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    text("SELECT * FROM inbox.deliveries WHERE reply_id = :r"), {"r": reply_id}
                )
            ).one()

    async def post_directly(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """What an earlier, interrupted attempt did on X before the process died."""
        async with self.session.post(
            self.fake.make_url(path), json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            assert response.status == 201, await response.text()
            found: dict[str, Any] = (await response.json())["data"]
            return found


@pytest.fixture
async def world(aiohttp_server: Any, aiohttp_client: Any, database_url: str) -> Any:
    clock = ManualClock.from_now()
    state = XState(clock=clock, app_only_token=APP_TOKEN)
    state.add_user("janedoe", "Jane Doe")
    fake = await aiohttp_server(create_fake(state))
    ws = await connected_workspace(
        aiohttp_client,
        database_url,
        fake,
        "x",
        "support",
        account_id=state.user_id,
        credentials=CREDENTIALS,
        credentials_ref="xcreds",
    )
    async with engine_and_session(database_url) as (engine, session):
        yield World(database_url, fake, state, clock, ws, engine, session)


# -- mentions ------------------------------------------------------------------------------------


async def test_first_poll_takes_the_newest_page_then_catches_up_in_full(world: World) -> None:
    old = [world.mention(f"user{n}", f"old message {n}", 300 - n) for n in range(120)]
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 100
    assert (await world.channel()).cursor["mentions"] == old[-1]
    assert (
        await world.scalar(
            "SELECT count(*) FROM inbox.messages WHERE external_id = ANY(:ids)", ids=old[:20]
        )
        == 0
    )  # the first poll does not crawl history
    new = [world.mention(f"user{n}", f"new message {n}", 100 - n * 0.1) for n in range(250)]
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 350
    assert await world.scalar("SELECT count(DISTINCT external_id) FROM inbox.messages") == 350
    assert (await world.channel()).cursor["mentions"] == new[-1]
    catch_up = [r for r in world.requests("GET /2/users/") if f"since_id={old[-1]}" in r]
    assert len(catch_up) == 3
    assert ["pagination_token=" in r for r in catch_up] == [False, True, True]


async def test_the_cursor_moves_only_after_the_last_page(world: World) -> None:
    first = world.mention("jane", "first", 200)
    assert await world.poll() == "ok"
    newest = [world.mention(f"u{n}", f"message {n}", 100 - n * 0.1) for n in range(250)][-1]
    world.state.rate_limits["mentions"] = (2, 900)  # the third page is refused
    assert await world.poll() == "ok"  # the DMs stream still polled; mentions wait
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 201
    channel = await world.channel()
    assert channel.cursor["mentions"] == first
    assert "mentions" in channel.health_detail
    held = datetime.fromisoformat(channel.cursor["mentions@retry_at"])
    assert held >= world.clock() + timedelta(seconds=899)
    world.state.rate_limits["mentions"] = (300, 900)
    world.clock.advance(901)
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 251
    assert (await world.channel()).cursor["mentions"] == newest


async def test_overlapping_pages_are_stored_once(world: World) -> None:
    world.mention("jane", "first", 200)
    assert await world.poll() == "ok"
    world.state.duplicate_overlap = 3
    for n in range(150):
        world.mention(f"u{n}", f"message {n}", 100 - n * 0.1)
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 151
    assert await world.scalar("SELECT count(DISTINCT external_id) FROM inbox.messages") == 151


async def test_a_mention_that_shows_up_late_is_still_stored(world: World) -> None:
    late = world.mention("jane", "my card was charged twice", 3, visible=False)
    world.mention("bob", "no signal since this morning", 1)
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 1
    assert int((await world.channel()).cursor["mentions"]) > int(late)
    world.state.reveal(late)  # since_id is now past it: only the overlap window sees it
    world.clock.advance(60)
    assert await world.poll() == "ok"
    texts = await world.rows("SELECT external_id, text FROM inbox.messages ORDER BY id")
    assert [t.external_id for t in texts][-1] == late
    assert texts[-1].text == "@AcmeSupport my card was charged twice"
    assert await world.poll() == "ok"  # the window keeps re-reading it: still once
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 2


async def test_long_posts_arrive_whole_and_edits_keep_their_history(world: World) -> None:
    story = "My order 4411 never arrived and support told me three times it would. " * 6
    long_post = world.mention("jane", story, 5)
    first = world.mention("bob", "my box is donw", 4)
    assert await world.poll() == "ok"
    stored = await world.scalar(
        "SELECT text FROM inbox.messages WHERE external_id = :e", e=long_post
    )
    assert stored == f"@AcmeSupport {story}" and len(stored) > 280
    edited = world.state.edit_post(first, "@AcmeSupport my box is down")
    world.clock.advance(60)
    assert await world.poll() == "ok"
    versions = await world.rows(
        "SELECT external_id, text, raw, conversation_id FROM inbox.messages "
        "WHERE external_id = ANY(:ids) ORDER BY id",
        ids=[first, edited],
    )
    assert [(v.external_id, v.text) for v in versions] == [
        (first, "@AcmeSupport my box is donw"),
        (edited, "@AcmeSupport my box is down"),
    ]
    assert versions[1].raw["previous_version_ids"] == [first]
    assert versions[0].conversation_id == versions[1].conversation_id


async def test_an_unusable_saved_cursor_is_recovered(world: World) -> None:
    world.mention("jane", "hello", 2)
    async with world.engine.begin() as conn:
        await conn.execute(text('UPDATE inbox.channels SET cursor = \'{"mentions": "abc"}\''))
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 1
    assert (await world.channel()).cursor["mentions"].isdigit()


async def test_a_refused_pagination_token_is_a_cursor_rejection(world: World) -> None:
    world.mention("jane", "first", 200)
    assert await world.poll() == "ok"
    for n in range(150):
        world.mention(f"u{n}", f"message {n}", 100 - n * 0.1)
    channel = await world.described_channel()
    connector = XConnector(channel, {"bearer_token": TOKEN}, world.session, world.clock)
    pages = connector.poll("mentions", channel.cursor["mentions"])
    page = await anext(pages)
    assert (len(page.messages), page.cursor) == (100, None)
    world.state.fail_next(
        400,
        endpoint="mentions",
        body={
            "errors": [{"parameters": {"pagination_token": ["x"]}, "message": "expired"}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
    )
    with pytest.raises(CursorRejected):
        await anext(pages)


# -- DMs -------------------------------------------------------------------------------------------


async def test_dms_both_ways_land_in_one_conversation_and_paging_stops_at_the_cursor(
    world: World,
) -> None:
    asked = world.state.add_dm("janedoe", "Bonjour, mon colis est en retard", world.clock())
    world.clock.advance(30)
    answered = world.state.add_dm("AcmeSupport", "On regarde !", recipient="janedoe")
    assert await world.poll() == "ok"
    dms = await world.rows(
        "SELECT external_id, direction, conversation_id, thread_id FROM inbox.messages "
        "WHERE kind = 'dm' ORDER BY id"
    )
    assert [(d.external_id, d.direction) for d in dms] == [(asked, "in"), (answered, "out")]
    assert len({d.conversation_id for d in dms}) == 1
    assert dms[0].thread_id == world.state.dm_events[asked].dm_conversation_id
    assert (await world.channel()).cursor["dms"] == answered
    for n in range(130):
        world.clock.advance(1)
        world.state.add_dm(f"customer{n}", f"question {n}")
    before = len(world.requests("GET /2/dm_events"))
    assert await world.poll() == "ok"
    assert len(world.requests("GET /2/dm_events")) - before == 2
    assert await world.scalar("SELECT count(*) FROM inbox.messages WHERE kind = 'dm'") == 132
    before = len(world.requests("GET /2/dm_events"))
    assert await world.poll() == "ok"
    assert len(world.requests("GET /2/dm_events")) - before == 1  # nothing new: one page
    assert await world.scalar("SELECT count(*) FROM inbox.messages WHERE kind = 'dm'") == 132


# -- faults --------------------------------------------------------------------------------------


async def test_rate_limit_holds_back_that_stream_until_its_reset(world: World) -> None:
    world.state.rate_limit_next(1, reset_in_seconds=300)  # the mentions request gets the 429
    world.state.add_dm("pat", "my parcel is late", world.clock() - timedelta(minutes=1))
    assert await world.poll() == "ok"
    channel = await world.channel()
    assert "mentions" in channel.health_detail
    assert await world.scalar("SELECT count(*) FROM inbox.messages WHERE kind = 'dm'") == 1
    world.mention("jane", "still there?")
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages WHERE kind <> 'dm'") == 0
    world.clock.advance(301)
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages WHERE kind <> 'dm'") == 1


async def test_every_stream_rate_limited_is_a_rate_limited_channel(world: World) -> None:
    world.state.rate_limit_next(2, reset_in_seconds=300)
    await world.polls_rate_limited_until(world.clock() + timedelta(seconds=300))


async def test_an_expired_token_marks_the_channel_for_reauthorisation(world: World) -> None:
    world.state.expire_token()
    await world.polls_needing_reauthorisation()


async def test_an_app_only_token_cannot_read_dms_and_asks_for_reauthorisation(
    world: World,
) -> None:
    async with world.engine.begin() as conn:
        await conn.execute(text("UPDATE inbox.channels SET credentials_ref = 'xapp'"))
    world.mention("jane", "hello")
    await world.polls_needing_reauthorisation()
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 1  # mentions came first


async def test_server_errors_back_off_then_recover(world: World) -> None:
    world.state.fail_next(503, count=3)
    await world.backs_off_then_recovers(3, lambda: world.mention("jane", "are you there?"))


# -- replies -------------------------------------------------------------------------------------


async def _mention_and_dm(world: World) -> tuple[str, str]:
    post = world.mention("janedoe", "where is my parcel?")
    dm = world.state.add_dm("janedoe", "here is my order number: 4411")
    assert await world.poll() == "ok"
    return post, dm


async def test_a_public_reply_and_a_dm_reply_are_delivered_once(world: World) -> None:
    post, dm = await _mention_and_dm(world)
    public = await world.request_reply(post, "Hi Jane, it left our depot this morning.")
    private = await world.request_reply(dm, "Thanks, we found it: delivery tomorrow.")
    assert await world.deliver() == 2
    (sent_post,) = world.state.sent_posts
    assert (sent_post.in_reply_to_tweet_id, sent_post.text) == (
        post,
        "Hi Jane, it left our depot this morning.",
    )
    (sent_dm,) = world.state.sent_dms
    assert sent_dm.participant_id == world.state.add_user("janedoe").id
    assert (await world.delivery(public)).platform_message_id == sent_post.id
    assert (await world.delivery(private)).platform_message_id == sent_dm.dm_event_id
    assert {(await world.delivery(r)).state for r in (public, private)} == {"delivered"}
    assert await world.deliver() == 0
    assert await world.poll() == "ok"  # the brand's DM comes back on the DM list: still once
    assert (len(world.state.sent_posts), len(world.state.sent_dms)) == (1, 1)
    outbound = await world.rows(
        "SELECT external_id, kind FROM inbox.messages WHERE direction = 'out' ORDER BY id"
    )
    assert [(o.external_id, o.kind) for o in outbound] == [
        (sent_post.id, "reply"),
        (sent_dm.dm_event_id, "dm"),
    ]


@pytest.mark.parametrize("landed", [True, False], ids=["post-landed", "post-never-sent"])
async def test_a_public_reply_interrupted_mid_send_is_posted_once(
    world: World, landed: bool
) -> None:
    post, _ = await _mention_and_dm(world)
    words = "Hi Jane, it left our depot this morning."
    reply_id = await world.request_reply(post, words)
    if landed:
        await world.post_directly(
            "/2/tweets", {"text": words, "reply": {"in_reply_to_tweet_id": post}}
        )
    await world.crash_mid_send()
    assert await world.deliver() == 1
    (sent,) = world.state.replies_to(post)
    delivery = await world.delivery(reply_id)
    assert delivery.state == "delivered"
    # X does not say which post was the duplicate: the id is marked unconfirmed.
    expected = f"unconfirmed:{reply_id}" if landed else sent.id
    assert delivery.platform_message_id == expected
    assert await world.scalar("SELECT count(*) FROM inbox.messages WHERE direction = 'out'") == 1
    assert await world.deliver() == 0
    assert len(world.state.sent_posts) == 1


@pytest.mark.parametrize("landed", [True, False], ids=["dm-landed", "dm-never-sent"])
async def test_a_dm_reply_interrupted_mid_send_is_sent_once(world: World, landed: bool) -> None:
    _, dm = await _mention_and_dm(world)
    words = "Thanks, we found it: delivery tomorrow https://acme.example/track/4411"
    reply_id = await world.request_reply(dm, words)
    jane = world.state.add_user("janedoe").id
    earlier = None
    if landed:
        earlier = await world.post_directly(
            f"/2/dm_conversations/with/{jane}/messages", {"text": words}
        )
    await world.crash_mid_send()
    assert await world.deliver() == 1
    (sent,) = world.state.sent_dms
    delivery = await world.delivery(reply_id)
    assert (delivery.state, delivery.platform_message_id) == ("delivered", sent.dm_event_id)
    if earlier is not None:
        assert sent.dm_event_id == earlier["dm_event_id"]


async def test_lost_answers_are_reconciled_without_posting_twice(world: World) -> None:
    post, dm = await _mention_and_dm(world)
    public = await world.request_reply(post, "Hi Jane, it left our depot this morning.")
    private = await world.request_reply(dm, "Thanks, we found it: delivery tomorrow.")
    # X does the work, then the answer is lost (a 503 after the commit).
    world.state.fail_after_commit_next(503, endpoint="tweets_create")
    world.state.fail_after_commit_next(503, endpoint="dm_create")
    assert await world.deliver() == 2
    assert (len(world.state.sent_posts), len(world.state.sent_dms)) == (1, 1)
    public_row, private_row = await world.delivery(public), await world.delivery(private)
    assert (public_row.state, public_row.platform_message_id) == (
        "delivered",
        f"unconfirmed:{public}",
    )
    assert (private_row.state, private_row.platform_message_id) == (
        "delivered",
        world.state.sent_dms[0].dm_event_id,
    )
    assert await world.deliver() == 0
    assert (len(world.state.sent_posts), len(world.state.sent_dms)) == (1, 1)


async def test_a_public_reply_refused_before_sending_is_retried_and_posted_once(
    world: World,
) -> None:
    post, _ = await _mention_and_dm(world)
    reply_id = await world.request_reply(post, "Hi Jane, it left our depot this morning.")
    world.state.fail_next(503, count=2, endpoint="tweets_create")  # refused, then refused again
    assert await world.deliver() == 1
    delivery = await world.delivery(reply_id)
    assert (delivery.state, delivery.failure_reason) == ("queued", "unreachable")
    assert world.state.sent_posts == []
    assert await world.deliver() == 1
    (sent,) = world.state.sent_posts
    assert (await world.delivery(reply_id)).platform_message_id == sent.id


async def test_a_text_already_posted_is_refused_not_claimed_as_delivered(world: World) -> None:
    post, _ = await _mention_and_dm(world)
    other = world.mention("bob", "and my parcel?")
    assert await world.poll() == "ok"
    canned = "Sorry about that! We've sent you a DM."
    await world.post_directly(
        "/2/tweets", {"text": canned, "reply": {"in_reply_to_tweet_id": other}}
    )
    reply_id = await world.request_reply(post, canned)
    assert await world.deliver() == 1
    delivery = await world.delivery(reply_id)
    assert (delivery.state, delivery.failure_reason) == ("failed", "duplicate")
    assert world.state.replies_to(post) == []
    assert await world.scalar("SELECT count(*) FROM inbox.messages WHERE direction = 'out'") == 0
