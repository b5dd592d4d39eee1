"""The YouTube connector against the fake YouTube: comment threads in, replies out, the quota."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from ecoute.v1 import events_pb2
from fakes.clock import ManualClock
from fakes.youtube import YouTubeState
from fakes.youtube import create_app as create_fake
from services.inbox.domain.youtube import quota_resets_at
from tests.connectors.world import ConnectorWorld, connected_workspace, engine_and_session

TOKEN = "youtube-test-token"
CREDENTIALS = {"yt": {"access_token": TOKEN}}


class World(ConnectorWorld):
    def __init__(self, database_url: str, state: YouTubeState, *args: Any) -> None:
        super().__init__(database_url, *args)
        self.state = state

    def comments(self, name: str, words: str, minutes_ago: float = 1, **extra: Any) -> Any:
        at = self.clock() - timedelta(minutes=minutes_ago)
        return self.state.customer_comments(name, words, at, **extra)

    async def deliver(self) -> str:
        """Deliver the one reply due (the clock moves past the database's instant of the
        request: the fixture's clock started from the real time before it)."""
        self.clock.advance(60)
        assert await self.deliverer().deliver_due() == 1
        return str(await self.scalar("SELECT state FROM inbox.deliveries"))

    async def stored(self) -> int:
        return int(await self.scalar("SELECT count(*) FROM inbox.messages"))


async def world_with(
    aiohttp_server: Any, aiohttp_client: Any, database_url: str, credentials: Any
) -> Any:
    clock = ManualClock.from_now()
    state = YouTubeState(clock=clock)
    fake = await aiohttp_server(create_fake(state))
    ws = await connected_workspace(
        aiohttp_client,
        database_url,
        fake,
        "youtube",
        "yt",
        account_id=state.brand_channel_id,
        credentials=credentials,
    )
    async with engine_and_session(database_url) as (engine, session):
        yield World(database_url, state, clock, ws, engine, session, credentials)


@pytest.fixture
async def world(aiohttp_server: Any, aiohttp_client: Any, database_url: str) -> Any:
    async for made in world_with(aiohttp_server, aiohttp_client, database_url, CREDENTIALS):
        yield made


async def test_threads_and_their_replies_arrive_once_threaded_with_the_brands_own_outbound(
    world: World,
) -> None:
    jane = world.comments("jane", "my box blinks red since the update", 30)
    for n in range(7):  # more than the 5 replies YouTube inlines
        later = jane.published_at + timedelta(minutes=n + 1)
        world.state.customer_replies(jane, f"fan{n}", f"same here {n}", later)
    brand = world.state.brand_channel_id
    world.state.write(brand, "Acme", "we are looking", world.clock(), parent_id=jane.id)
    assert await world.poll() == "ok"
    assert await world.stored() == 9
    rows = await world.rows(
        "SELECT kind, direction, count(DISTINCT conversation_id) AS c FROM inbox.messages "
        "GROUP BY kind, direction ORDER BY kind, direction"
    )
    assert [(r.kind, r.direction) for r in rows] == [
        ("comment", "in"),
        ("reply", "in"),
        ("reply", "out"),
    ]
    assert await world.scalar("SELECT count(DISTINCT conversation_id) FROM inbox.messages") == 1
    # YouTube's authorDisplayName is the commenter's @handle: the desk's @jane.
    jane_as = await world.rows(
        "SELECT handle, display_name FROM inbox.authors WHERE external_id = 'UCc-jane'"
    )
    assert [tuple(r) for r in jane_as] == [("jane", "@jane")]
    replies_read = world.state.requests.count("GET /youtube/v3/comments")
    assert replies_read == 1
    assert await world.poll() == "ok"
    assert await world.stored() == 9
    # A thread already read costs no more comments.list at every poll (1 unit each).
    assert world.state.requests.count("GET /youtube/v3/comments") == replies_read


async def test_a_backlog_of_pages_arrives_once_across_duplicated_pages_and_restarts(
    world: World,
) -> None:
    world.comments("first", "hello", 500)
    assert await world.poll() == "ok"
    for n in range(1150):  # 12 pages of 100: more than one poll reads (10 pages)
        world.comments(f"u{n}", f"comment number {n}", 400 - n * 0.1)
    world.state.repeat_last = 3  # each page repeats the end of the one before
    assert await world.poll() == "ok"
    partial = await world.stored()
    assert partial < 1151  # the walk stopped at its page budget, its place kept
    assert "p" in (await world.channel()).cursor["published"]
    world.comments("late", "arrived during the walk", 0.5)
    world.state.forget_tokens = True  # a restart whose page token YouTube no longer knows
    assert await world.poll() == "ok"
    world.state.forget_tokens = False
    while "p" in (await world.channel()).cursor["published"]:
        assert await world.poll() == "ok"
    assert await world.stored() == 1152
    assert await world.scalar("SELECT count(DISTINCT external_id) FROM inbox.messages") == 1152


async def test_a_comment_held_for_review_is_stored_and_shown_held(world: World) -> None:
    world.comments("spammy", "buy followers at example.com", 5, status="heldForReview")
    world.comments("jane", "is the outage over?", 4)
    assert await world.poll() == "ok"
    held = await world.rows(
        "SELECT m.text, m.raw->>'moderationStatus' AS status FROM inbox.messages m ORDER BY id"
    )
    assert {(r.text, r.status) for r in held} == {
        ("buy followers at example.com", "heldForReview"),
        ("is the outage over?", "published"),
    }
    # Triage (and so the desk) learns it from the contract's flag.
    payloads = await world.rows(
        "SELECT DISTINCT payload FROM events.outbox WHERE topic = 'message.ingested'"
    )
    ingested = [events_pb2.MessageIngested.FromString(bytes(p)).message for (p,) in payloads]
    assert {(m.text, m.held) for m in ingested} == {
        ("buy followers at example.com", True),
        ("is the outage over?", False),
    }


async def test_a_reply_is_posted_once_under_the_thread_even_when_its_answer_was_lost(
    world: World,
) -> None:
    jane = world.comments("jane", "where is my parcel?")
    assert await world.poll() == "ok"
    await world.request_reply(jane.id, "Hi Jane, it left our depot this morning.")
    world.state.lose_answers = 1  # posted, then the connection dropped before the answer
    assert await world.deliver() == "sending"
    assert len(world.state.inserted) == 1
    world.clock.advance(3600)
    assert await world.deliver() == "delivered"  # found again in the thread, not resent
    assert len(world.state.inserted) == 1
    posted = world.state.comments[world.state.inserted[0]]
    assert (posted.parent_id, posted.text) == (jane.id, "Hi Jane, it left our depot this morning.")
    assert await world.scalar("SELECT platform_message_id FROM inbox.deliveries") == posted.id
    assert await world.poll() == "ok"  # the reply comes back in the thread: stored once
    out = await world.rows("SELECT external_id FROM inbox.messages WHERE direction = 'out'")
    assert [r.external_id for r in out] == [posted.id]


async def test_an_expired_token_marks_the_channel_for_reauthorisation(world: World) -> None:
    world.state.expire_token()
    await world.polls_needing_reauthorisation()


async def test_server_errors_back_off_then_recover(world: World) -> None:
    world.state.fail_next(503, count=3)
    await world.backs_off_then_recovers(3, lambda: world.comments("c", "are you there?"))


async def test_a_quota_exceeded_answer_waits_until_midnight_pacific(world: World) -> None:
    world.state.daily_quota = world.state.units_used  # Google's count says: spent
    await world.polls_rate_limited_until(quota_resets_at(world.clock()))
    assert "daily quota spent" in (await world.channel()).health_detail


async def test_polls_stop_before_the_quota_is_spent_and_leave_units_for_replies(
    aiohttp_server: Any, aiohttp_client: Any, database_url: str
) -> None:
    small = {"yt": {"access_token": TOKEN, "daily_quota": "250"}}
    async for world in world_with(aiohttp_server, aiohttp_client, database_url, small):
        jane = world.comments("jane", "where is my parcel?")
        polls = 0
        while await world.poll() == "ok":
            polls += 1
            world.clock.advance(60)
        assert polls == 66  # 3 lists a poll (one per status), and polls keep to 200 units
        channel = await world.channel()
        assert channel.health == "rate_limited"
        assert "daily quota spent" in channel.health_detail
        assert channel.next_poll_at >= quota_resets_at(world.clock())
        # The 50 units polls left are enough for one reply.
        await world.request_reply(jane.id, "Hi Jane, it is on its way.")
        assert await world.deliver() == "delivered"
        assert world.state.units_used == 250


async def test_a_lead_hides_shows_again_and_removes_a_comment_on_youtube(world: World) -> None:
    """Hide is "held for review", unhide "published", delete "rejected" (only its author may
    delete a comment on YouTube); a rejected comment cannot be published again."""
    rude = world.comments("troll", "you are all useless")
    assert await world.poll() == "ok"
    outcomes = []
    for action in ("hide", "unhide", "delete", "unhide"):
        await world.request_moderation(rude.id, action)
        assert await world.moderator().moderate_due() == 1
        outcomes.append(world.state.comments[rude.id].status)
        async with world.engine.begin() as conn:  # settled: the next request is the one row
            row = (
                await conn.execute(
                    text("DELETE FROM inbox.moderations RETURNING state, failure_reason")
                )
            ).one()
        outcomes.append(f"{row.state}:{row.failure_reason or ''}")
    assert outcomes == [
        "heldForReview",
        "done:",
        "published",
        "done:",
        "rejected",
        "done:",
        "rejected",
        "failed:rejected",
    ]
    quota = (await world.channel()).cursor["quota"]
    assert quota.endswith(f":{world.state.units_used}")  # 4 × 50 units, and the poll's 3


async def test_quota_counts_of_a_poll_and_a_delivery_add_up_in_the_channel(world: World) -> None:
    jane = world.comments("jane", "hello?")
    assert await world.poll() == "ok"
    await world.request_reply(jane.id, "Hello Jane!")
    assert await world.deliver() == "delivered"
    quota = (await world.channel()).cursor["quota"]
    assert quota.endswith(f":{world.state.units_used}")
