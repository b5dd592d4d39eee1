"""The Bluesky connector against the fake Bluesky: in, out, and through its faults."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from fakes.bluesky import CHAT_PROXY, BlueskyState, PostRef
from fakes.bluesky import create_app as create_fake
from fakes.clock import ManualClock
from services.inbox.connectors import bluesky as connector_module
from services.inbox.connectors.base import RateLimited
from services.inbox.connectors.bluesky import BlueskyConnector
from services.inbox.delivery.deliverer import Deliverer
from services.inbox.domain.bluesky import record_key
from tests.connectors.world import ConnectorWorld, connected_workspace, engine_and_session

JANE = "did:plc:jane000000000000000000000"
BOB = "did:plc:bob0000000000000000000000"
CAROL = "did:plc:carol00000000000000000000"
LIST = "app.bsky.notification.listNotifications"


class World(ConnectorWorld):
    def __init__(
        self,
        database_url: str,
        fake: Any,
        state: BlueskyState,
        clock: ManualClock,
        workspace: Any,
        engine: Any,
        session: aiohttp.ClientSession,
    ) -> None:
        credentials = {"bsky": {"identifier": state.handle, "password": state.password}}
        super().__init__(database_url, clock, workspace, engine, session, credentials)
        self.fake = fake
        self.state = state
        self.lost: list[tuple[str, str]] = []  # (nsid, "before" | "after"): answers to lose

    async def connector(self) -> BlueskyConnector:
        return BlueskyConnector(
            (await self.channels())[0],
            self.credentials.get(self.workspace.id, "bsky"),
            self.session,
            self.clock,
        )

    def calls(self, nsid: str) -> list[str]:
        return [line for line in self.state.request_log if f"/xrpc/{nsid}" in line]

    def mention(self, did: str, handle: str, words: str, **kwargs: Any) -> PostRef:
        """A mention written and indexed one second after the previous event."""
        self.clock.advance(1)
        return self.state.add_mention(did, handle, words, self.clock(), **kwargs)

    async def brand_dm_from_the_app(self, convo_id: str, words: str) -> str:
        """The brand answers a DM in the Bluesky app (not through Écoute)."""
        base = str(self.fake.make_url("/xrpc"))
        async with self.session.post(
            f"{base}/com.atproto.server.createSession",
            json={"identifier": self.state.handle, "password": self.state.password},
        ) as response:
            token = (await response.json())["accessJwt"]
        async with self.session.post(
            f"{base}/chat.bsky.convo.sendMessage",
            json={"convoId": convo_id, "message": {"text": words}},
            headers={"Authorization": f"Bearer {token}", "atproto-proxy": CHAT_PROXY},
        ) as response:
            assert response.status == 200
            return str((await response.json())["id"])

    async def request_reply(self, external_id: str, words: str) -> uuid.UUID:
        """An agent answers a stored message; the first attempt is recorded, then the process
        dies before sending (the delivery row is left ``sending``)."""
        reply_id = await super().request_reply(external_id, words)
        await self.crash_mid_send()
        return reply_id

    async def deliver(self) -> str:
        deliverer = Deliverer(self.engine, self.credentials, self.session, clock=self.clock)
        assert await deliverer.deliver_due() == 1
        return str(await self.scalar("SELECT state FROM inbox.deliveries"))


def losing_answers(lost: list[tuple[str, str]]) -> Any:
    """A fault the fake lacks: the connection drops around a call (``before`` the fake
    handles it, or ``after`` it acted but before the answer is written)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        nsid = request.match_info.get("nsid", "")
        when = next((w for n, w in lost if n == nsid), None)
        if when is not None:
            lost.remove((nsid, when))
        if when == "before":  # the fake never handles it
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        response: web.StreamResponse = await handler(request)
        if when == "after":
            assert request.transport is not None
            request.transport.close()
        return response

    return middleware


@pytest.fixture
async def world(
    aiohttp_server: Any, aiohttp_client: Any, database_url: str
) -> AsyncIterator[World]:
    connector_module.forget_sessions()
    clock = ManualClock.from_now()
    state = BlueskyState(clock=clock)
    lost: list[tuple[str, str]] = []
    app = create_fake(state)
    app.middlewares.append(losing_answers(lost))
    fake = await aiohttp_server(app)
    ws = await connected_workspace(
        aiohttp_client,
        database_url,
        fake,
        "bluesky",
        "bsky",
        account_id=state.did,
        credentials={"bsky": {"identifier": state.handle, "password": state.password}},
    )
    async with engine_and_session(database_url) as (engine, session):
        world = World(database_url, fake, state, clock, ws, engine, session)
        world.lost = lost
        yield world
    connector_module.forget_sessions()


# ----- notifications -----------------------------------------------------------------------


async def test_mentions_and_replies_are_stored_once_and_thread_under_their_root(
    world: World,
) -> None:
    state = world.state
    offer = state.add_brand_post("Fibre is live in Lyon!", world.clock() - timedelta(hours=1))
    # A reply that also @mentions the brand arrives only as a mention (mention > reply)...
    jane = world.mention(JANE, "jane.bsky.social", "not in my street 📦", reply_to=offer)
    bob = world.mention(BOB, "bob.example.com", "nor mine", reply_to=offer)  # also a mention
    world.clock.advance(1)
    deep = state.add_reply(BOB, "bob.example.com", "same here", world.clock(), reply_to=jane)
    carol = world.mention(CAROL, "carol.example.com", "my box is down since 8am")
    state.add_notification("like", CAROL, "carol.example.com", {"$type": "app.bsky.feed.like"})

    assert await world.poll() == "ok"
    stored = await world.rows(
        "SELECT external_id, kind, direction, in_reply_to, thread_id, conversation_id, text "
        "FROM inbox.messages ORDER BY created_at"
    )
    by_uri = {r.external_id: r for r in stored}
    assert set(by_uri) == {jane.uri, bob.uri, deep.uri, carol.uri}
    assert [by_uri[u].kind for u in (jane.uri, deep.uri, carol.uri)] == [
        "mention",
        "reply",
        "mention",
    ]
    assert by_uri[jane.uri].in_reply_to == offer.uri and by_uri[jane.uri].thread_id == offer.uri
    assert by_uri[deep.uri].in_reply_to == jane.uri and by_uri[deep.uri].thread_id == offer.uri
    # ...and still threads under its root with the plain replies; Carol has her own thread.
    thread = {by_uri[u].conversation_id for u in (jane.uri, bob.uri, deep.uri)}
    assert len(thread) == 1
    assert by_uri[carol.uri].conversation_id not in thread
    assert by_uri[jane.uri].text == "@acme.bsky.social not in my street 📦"
    assert {r.direction for r in stored} == {"in"}

    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 4
    channel = await world.channel()
    assert channel.health == "ok" and channel.cursor["notifications"]
    assert world.state.sessions_created == 1, "one session for every poll of this process"


async def test_duplicates_across_polls_and_deleted_posts(world: World) -> None:
    kept = world.mention(JANE, "jane.bsky.social", "hello?")
    gone = world.mention(BOB, "bob.example.com", "order 4411 lost")
    assert await world.poll() == "ok"
    world.state.duplicate_overlap(kept.uri)  # re-indexed: the same uri at the top again
    world.state.delete_post(gone.uri)  # its notification vanishes; what we stored stays
    never_seen = world.mention(CAROL, "carol.example.com", "oops, wrong account")
    world.state.delete_post(never_seen.uri)
    fresh = world.mention(CAROL, "carol.example.com", "my box is down")
    assert await world.poll() == "ok"
    uris = {r.external_id for r in await world.rows("SELECT external_id FROM inbox.messages")}
    assert uris == {kept.uri, gone.uri, fresh.uri}
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 3


async def test_a_back_dated_post_below_the_last_seen_one_is_still_stored(world: World) -> None:
    world.mention(JANE, "jane.bsky.social", "first")
    assert await world.poll() == "ok"
    posts = [world.mention(BOB, "bob.example.com", f"number {n}") for n in range(60)]
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 61
    # Indexed now, but its createdAt sorts it just below a post already seen, on page two.
    world.clock.advance(1)
    late = world.state.out_of_order(posts[5], CAROL, "carol.example.com", "written offline")
    before = len(world.calls(LIST))
    assert await world.poll() == "ok"
    pages = world.calls(LIST)[before:]
    assert len(pages) >= 2 and "cursor=" in pages[1], "it was below the first page"
    assert (
        await world.scalar("SELECT count(*) FROM inbox.messages WHERE external_id = :u", u=late.uri)
        == 1
    )
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 62


async def test_a_first_poll_takes_the_newest_page_and_later_scans_stop_at_the_margin(
    world: World,
) -> None:
    for n in range(400):  # ten seconds apart: about 67 minutes of history
        world.clock.advance(9)
        world.mention(BOB, "bob.example.com", f"old {n}")
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 50
    world.clock.advance(3600)
    new = world.mention(JANE, "jane.bsky.social", "hello?")
    before = len(world.calls(LIST))
    assert await world.poll() == "ok"
    # The newest page and what lies within ten minutes below it, not all eight pages.
    assert len(world.calls(LIST)) - before <= 3
    assert (
        await world.scalar("SELECT count(*) FROM inbox.messages WHERE external_id = :u", u=new.uri)
        == 1
    )
    # Everything on the pages read is kept (1 new + 149 old); nothing below them was read.
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 150


# ----- sessions ----------------------------------------------------------------------------


async def test_an_expired_access_token_is_refreshed_and_the_rotated_token_kept(
    world: World,
) -> None:
    assert await world.poll() == "ok"
    for round_ in range(2):
        world.state.expire_access_token()  # calls now answer 400 ExpiredToken
        world.mention(JANE, "jane.bsky.social", f"still there? {round_}")
        assert await world.poll() == "ok"
        assert len(world.calls("com.atproto.server.refreshSession")) == round_ + 1
    # The second refresh used the rotated refresh token: no new login was needed.
    assert world.state.sessions_created == 1
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 2


async def test_a_revoked_refresh_token_falls_back_to_a_new_session(world: World) -> None:
    assert await world.poll() == "ok"
    for token in world.state.refresh_tokens.values():  # another process rotated it
        token.next_token, token.rotated_at = "rotated-elsewhere", world.clock()
    world.state.expire_access_token()
    world.mention(JANE, "jane.bsky.social", "hello?")
    assert await world.poll() == "ok"
    assert world.state.sessions_created == 2
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 1
    assert (await world.channel()).health == "ok"


async def test_a_bad_password_marks_the_channel_for_reauthorisation(world: World) -> None:
    world.use_credentials(
        {"bsky": {"identifier": world.state.handle, "password": "wrong-app-password"}}
    )
    await world.polls_needing_reauthorisation()
    assert world.state.sessions_created == 0
    # A person fixes the app password: the next poll logs in with it.
    world.use_credentials(
        {"bsky": {"identifier": world.state.handle, "password": world.state.password}}
    )
    assert await world.poll() == "ok"


async def test_an_app_password_without_dm_access_needs_reauthorisation(world: World) -> None:
    world.state.dm_access = False  # the chat service answers 401 "Bad token scope"
    await world.polls_needing_reauthorisation()
    assert world.state.sessions_created == 2, "one new login was tried before giving up"


async def test_tokens_and_passwords_never_reach_the_logs(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert await world.poll() == "ok"
    world.state.expire_access_token()
    world.state.fail_next(503, nsid=LIST)
    assert await world.poll() == "unavailable"
    assert await world.poll() == "ok"
    secrets = [*world.state.access_tokens, *world.state.refresh_tokens, world.state.password]
    assert caplog.records, "the polls did log"
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert not [s for s in secrets if s in logged]
    cached = [slot.session for slot in connector_module._SESSIONS.values()]
    assert cached and not [s for s in secrets for c in cached if s in repr(c)]


# ----- rate limits and failures ------------------------------------------------------------


async def test_rate_limit_waits_for_the_reset(world: World) -> None:
    assert await world.poll() == "ok"
    world.state.rate_limit = 0  # every call in this 5-minute window is over the limit
    window_end = (int(world.clock().timestamp()) // 300 + 1) * 300  # RateLimit-Reset
    await world.polls_rate_limited_until(datetime.fromtimestamp(window_end, UTC))
    world.state.rate_limit = 3000
    world.clock.advance(window_end - world.clock().timestamp() + 1)
    world.mention(JANE, "jane.bsky.social", "hello again")
    assert await world.poll() == "ok"
    assert (await world.channel()).health == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 1


async def test_a_429_says_when_to_come_back(world: World) -> None:
    """The connector's own answer, whatever the poller makes of it for each stream."""
    connector = await world.connector()
    world.state.rate_limit_next(1, reset_in_seconds=300)
    with pytest.raises(RateLimited) as raised:
        async for _ in connector.poll("notifications", None):
            pass
    assert raised.value.retry_at == world.clock() + timedelta(seconds=300)
    pages = [page async for page in connector.poll("notifications", None)]
    assert len(pages) == 1 and pages[0].cursor


async def test_server_errors_back_off_then_recover(world: World) -> None:
    world.state.fail_next(502, count=3, nsid=LIST)
    await world.backs_off_then_recovers(
        3, lambda: world.mention(JANE, "jane.bsky.social", "are you there?")
    )


# ----- DMs ---------------------------------------------------------------------------------


async def test_dms_come_from_the_chat_log_with_the_brands_own_messages_outbound(
    world: World,
) -> None:
    """Chat calls carry the ``atproto-proxy`` header: without it the fake answers 404."""
    state = world.state
    first = state.add_dm(JANE, "jane.bsky.social", "Hi, order #4411? 📦")
    assert await world.poll() == "ok"  # the first poll keeps DMs from just before it
    convo = next(iter(state.convos))
    world.clock.advance(30)
    ours = await world.brand_dm_from_the_app(convo, "Looking into it 🙏")
    world.clock.advance(30)
    again = state.add_dm(JANE, "jane.bsky.social", "thanks! any news?")
    assert await world.poll() == "ok"
    stored = await world.rows(
        "SELECT m.external_id, m.kind, m.direction, m.thread_id, m.conversation_id, a.handle "
        "FROM inbox.messages AS m JOIN inbox.authors AS a ON a.id = m.author_id "
        "ORDER BY m.created_at"
    )
    assert [(r.external_id, r.kind, r.direction) for r in stored] == [
        (first, "dm", "in"),
        (ours, "dm", "out"),
        (again, "dm", "in"),
    ]
    assert {r.thread_id for r in stored} == {convo}
    assert len({r.conversation_id for r in stored}) == 1
    assert stored[0].handle == "jane.bsky.social"
    assert (await world.channel()).cursor["chat"]
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 3


async def test_a_first_chat_poll_keeps_only_the_newest_dms_of_a_long_history(world: World) -> None:
    for n in range(130):
        world.clock.advance(1)
        world.state.add_dm(f"did:plc:someone{n % 7}", f"someone{n % 7}.bsky.social", f"dm {n}")
    assert await world.poll() == "ok"
    texts = {r.text for r in await world.rows("SELECT text FROM inbox.messages")}
    assert texts == {f"dm {n}" for n in range(30, 130)}


async def test_a_first_chat_poll_starts_from_now_when_the_log_gives_only_its_position(
    world: World,
) -> None:
    world.state.getlog_without_cursor = "latest"
    world.state.add_dm(JANE, "jane.bsky.social", "written before we connected")
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 0
    world.clock.advance(5)
    later = world.state.add_dm(JANE, "jane.bsky.social", "hello?")
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT string_agg(external_id, ',') FROM inbox.messages") == later


async def test_a_rejected_chat_cursor_is_recovered(world: World) -> None:
    first = world.state.add_dm(BOB, "bob.example.com", "hi")
    assert await world.poll() == "ok"
    assert (await world.channel()).cursor["chat"]
    world.clock.advance(5)
    dm = world.state.add_dm(JANE, "jane.bsky.social", "hello?")
    world.state.fail_next(400, nsid="chat.bsky.convo.getLog", error="InvalidRequest")
    assert await world.poll() == "ok"  # the poller starts the stream again from now
    stored = await world.rows("SELECT external_id FROM inbox.messages ORDER BY created_at")
    assert [r.external_id for r in stored] == [first, dm]


# ----- replies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "collision",
    [
        (500, "InternalServerError", "Internal Server Error"),  # what the real PDS answers
        (400, "InvalidRequest", "Record already exists"),
        (409, "RecordAlreadyExists", "Record already exists"),
    ],
)
async def test_a_public_reply_is_posted_once_with_its_thread_even_after_a_crash(
    world: World, collision: tuple[int, str, str]
) -> None:
    state = world.state
    state.validate_reply_root = True  # a wrong root is refused
    state.rkey_conflict_error = collision
    offer = state.add_brand_post("Fibre is live in Lyon!", world.clock() - timedelta(hours=1))
    jane = world.mention(JANE, "jane.bsky.social", "not in my street", reply_to=offer)
    world.clock.advance(1)
    bob = state.add_reply(BOB, "bob.example.com", "mine is down 📦", world.clock(), reply_to=jane)
    assert await world.poll() == "ok"

    reply_id = await world.request_reply(bob.uri, "Hi Bob, a technician is on the way 🙏")
    assert await world.deliver() == "delivered"  # the crash happened before sending
    assert state.created_count == 1
    posted = state.posts[state.created_posts[0]]
    assert posted.record["reply"] == {"root": offer.strong_ref(), "parent": bob.strong_ref()}
    assert posted.record["text"] == "Hi Bob, a technician is on the way 🙏"
    # The record key comes from the reply id (and the answered post's time), not from chance.
    assert posted.uri.rsplit("/", 1)[1] == record_key(reply_id, state.posts[bob.uri].indexed_at)

    # Posted, then the process died before recording it: the resend collides on the rkey.
    await world.crash_mid_send()
    assert await world.deliver() == "delivered"
    assert state.created_count == 1
    assert await world.scalar("SELECT platform_message_id FROM inbox.deliveries") == posted.uri
    outbound = await world.rows(
        "SELECT external_id, thread_id, conversation_id FROM inbox.messages WHERE direction = 'out'"
    )
    assert [(r.external_id, r.thread_id) for r in outbound] == [(posted.uri, offer.uri)]
    conversation = await world.scalar(
        "SELECT conversation_id FROM inbox.messages WHERE external_id = :u", u=bob.uri
    )
    assert outbound[0].conversation_id == conversation


async def test_a_server_error_with_nothing_posted_is_retried_not_taken_for_sent(
    world: World,
) -> None:
    """A 500 is what a reused record key gets, but also a real failure: only a post found
    under the key (``getRecord``) counts as sent."""
    state = world.state
    jane = world.mention(JANE, "jane.bsky.social", "my box is down")
    assert await world.poll() == "ok"
    await world.request_reply(jane.uri, "Hi Jane, a technician is on the way")
    state.fail_next(500, nsid="com.atproto.repo.createRecord")
    assert await world.deliver() == "queued"  # to be tried again
    assert state.created_count == 0
    await world.crash_mid_send()  # the retry is due now
    assert await world.deliver() == "delivered"
    assert state.created_count == 1


async def test_a_dm_reply_is_sent_once_and_not_repeated_after_a_crash(world: World) -> None:
    state = world.state
    canned = "Thanks, we're on it 🙏"
    state.add_dm(JANE, "jane.bsky.social", "my box is down")
    assert await world.poll() == "ok"
    convo = next(iter(state.convos))
    world.clock.advance(10)
    await world.brand_dm_from_the_app(convo, canned)  # an earlier answer, same words
    world.clock.advance(10)
    again = state.add_dm(JANE, "jane.bsky.social", "still down, and now the phone too")
    assert await world.poll() == "ok"
    sends_before = state.sent_count

    await world.request_reply(again, canned)
    # Interrupted before sending: the same words sent *before* her message are not our answer.
    assert await world.deliver() == "delivered"
    assert state.sent_count == sends_before + 1
    sent_id = state.sent_messages[-1]
    assert await world.scalar("SELECT platform_message_id FROM inbox.deliveries") == sent_id

    # Sent, then the process died before recording it: find_sent sees it, nothing is resent.
    await world.crash_mid_send()
    assert await world.deliver() == "delivered"
    assert state.sent_count == sends_before + 1
    assert await world.scalar("SELECT platform_message_id FROM inbox.deliveries") == sent_id

    # The chat log brings our message back: it is already stored, as the delivered reply.
    assert await world.poll() == "ok"
    assert (
        await world.scalar(
            "SELECT count(*) FROM inbox.messages WHERE external_id = :e AND direction = 'out'",
            e=sent_id,
        )
        == 1
    )
    conversations = await world.scalar("SELECT count(DISTINCT conversation_id) FROM inbox.messages")
    assert conversations == 1


@pytest.mark.parametrize("lost", ["after", "before"])
async def test_a_dm_whose_answer_was_lost_is_not_sent_twice(world: World, lost: str) -> None:
    state = world.state
    dm = state.add_dm(JANE, "jane.bsky.social", "my box is down")
    assert await world.poll() == "ok"
    await world.request_reply(dm, "A technician comes tomorrow 🙏")
    world.lost.append(("chat.bsky.convo.sendMessage", lost))
    if lost == "after":  # sent, answer lost: the connector looks and finds it at once
        assert await world.deliver() == "delivered"
    else:  # never arrived: nothing found, tried again later
        assert await world.deliver() != "delivered"
        assert state.sent_count == 0
        world.clock.advance(3600)
        assert await world.deliver() == "delivered"
    assert state.sent_count == 1
    assert (
        await world.scalar("SELECT platform_message_id FROM inbox.deliveries")
        == (state.sent_messages[0])
    )
