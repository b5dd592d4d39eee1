"""The delivery worker killed with SIGKILL mid-send: the reply is posted once, not twice.

The fake platform makes the post, then holds its answer; the inbox worker is killed while it
waits. The delivery row was recorded ``sending`` before the request left, so the restarted
worker knows the outcome is unknown and reconciles instead of posting blind: on Mastodon it
resends with the same ``Idempotency-Key`` (the server returns the first post); on X the
resend is refused as duplicate content, which says the first one landed. The fakes count the
posts they made.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from ecoute.v1 import events_pb2
from fakes import mastodon as fake_mastodon
from fakes import x as fake_x
from fakes.clock import wall_clock
from services.infra.db import asyncpg_dsn, create_engine
from services.infra.events import publish
from tests.chaos.conftest import Start
from tests.chaos.harness import record
from tests.support.waiting import wait_until
from tests.support.world import (
    connect_channel,
    credentials_json,
    inbox_holding,
)


@dataclass
class Platform:
    """One fake platform as this test needs it: its world, and how to count its posts."""

    name: str
    state: Any
    app: Any
    account_id: str
    credentials: dict[str, str]
    mention: Callable[[], str]  # adds a customer's mention; returns its platform id
    posts: Callable[[], list[str]]  # ids of the posts the brand made
    post_requests: Callable[[], int]
    replied_to: Callable[[str], str | None]  # a post's parent


def mastodon() -> Platform:
    state = fake_mastodon.MastodonState()
    at = datetime.now(UTC) - timedelta(minutes=1)
    return Platform(
        "mastodon",
        state,
        fake_mastodon.create_app(state),
        state.brand_id,
        {"access_token": "mastodon-test-token"},
        lambda: (
            state.add_mention(
                "jane@piaille.fr", fake_mastodon.status_html("@acme where is my parcel?"), at
            ).status_id
        ),
        lambda: list(state.created_statuses),
        lambda: state.request_log.count("POST /api/v1/statuses"),
        lambda post: state.statuses[post].in_reply_to_id,
    )


def x() -> Platform:
    state = fake_x.XState(clock=wall_clock)
    state.add_user("janedoe", "Jane Doe")
    at = datetime.now(UTC) - timedelta(minutes=1)
    return Platform(
        "x",
        state,
        fake_x.create_app(state),
        state.user_id,
        {"bearer_token": "x-user-token"},
        lambda: state.add_mention("janedoe", "@AcmeSupport where is my parcel?", at),
        lambda: [p.id for p in state.sent_posts],
        lambda: state.requests.count("POST /2/tweets"),
        lambda post: next(p.in_reply_to_tweet_id for p in state.sent_posts if p.id == post),
    )


async def delivery(database_url: str) -> Any:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await conn.fetchrow(
            "SELECT reply_id, state, attempts, platform_message_id, failure_reason "
            "FROM inbox.deliveries"
        )
    finally:
        await conn.close()


async def scalar(database_url: str, sql: str) -> Any:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


@pytest.mark.parametrize("make_platform", [mastodon, x], ids=["mastodon", "x"])
async def test_a_delivery_killed_mid_send_posts_the_reply_exactly_once(
    aiohttp_server: Any,
    aiohttp_client: Any,
    database_url: str,
    processes: Start,
    make_platform: Callable[[], Platform],
) -> None:
    started = time.monotonic()
    platform = make_platform()
    state = platform.state
    fake = await aiohttp_server(platform.app)
    refs = {"care": platform.credentials}
    ws, api = await inbox_holding(aiohttp_client, database_url, refs)
    await connect_channel(
        api,
        ws.channels_token,
        platform.name,
        "care",
        account_id=platform.account_id,
        base_url=str(fake.make_url("/")),
        poll_seconds=60,
    )
    mention = platform.mention()
    worker = processes(
        "inbox",
        "worker",
        database_url,
        INBOX_CHANNEL_CREDENTIALS=credentials_json(ws.id, refs),
        INBOX_ALLOW_LOCAL_PLATFORMS="true",
    )
    await worker.start()

    async def polled() -> bool:
        return bool(await scalar(database_url, "SELECT count(*) FROM inbox.messages"))

    await wait_until(polled, 60, "the mention polled in")

    # An agent answers: triage's reply request, as the desk publishes it.
    state.hold_post_answers(seconds=120)
    engine = create_engine(database_url, 1)
    async with engine.begin() as conn:
        message_id, conversation_id = (
            await conn.execute(text("SELECT id, conversation_id FROM inbox.messages"))
        ).one()
        request = events_pb2.ReplyRequested(
            workspace_id=str(ws.id),
            reply_id=str(uuid.uuid4()),
            conversation_id=conversation_id,
            in_reply_to_message_id=message_id,
            text="Hi Jane, it left our depot this morning.",
            agent_id="agent-1",
        )
        request.requested_at.FromDatetime(datetime.now(UTC))
        await publish(conn, "reply.requested", [ws.id], [request.SerializeToString()])
    await engine.dispose()

    async def mid_send() -> bool:
        return state.posts_held == 1

    await wait_until(mid_send, 60, "the post made, its answer held", every=0.05)
    await worker.kill()
    at_kill = await delivery(database_url)
    posts_at_kill = len(platform.posts())

    # The two-minute lease of the dead attempt runs out (fast-forwarded), then a new worker.
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute(
            "UPDATE inbox.deliveries SET next_attempt_at = now() WHERE state = 'sending'"
        )
    finally:
        await conn.close()
    await worker.start()

    async def settled() -> bool:
        row = await delivery(database_url)
        return row is not None and row["state"] in ("delivered", "failed")

    await wait_until(settled, 60, "the delivery settled")
    done = await delivery(database_url)
    outbound = await scalar(
        database_url, "SELECT count(*) FROM inbox.messages WHERE direction = 'out'"
    )
    posts = platform.posts()
    figures = {
        "state_when_killed": at_kill["state"],
        "posts_when_killed": posts_at_kill,
        "post_requests": platform.post_requests(),
        "posts_made": len(posts),
        "final_state": done["state"],
        "platform_message_id": done["platform_message_id"],
        "attempts": done["attempts"],
        "outbound_messages_stored": outbound,
        "seconds": round(time.monotonic() - started, 1),
    }
    record(f"delivery_sigkill_mid_send_{platform.name}", figures)

    assert (at_kill["state"], at_kill["attempts"], posts_at_kill) == ("sending", 1, 1)
    assert platform.post_requests() == 2, "the restarted worker did send again"
    assert len(posts) == 1, "and the platform made no second post"
    assert platform.replied_to(posts[0]) == mention
    assert (done["state"], done["attempts"]) == ("delivered", 2)
    # Mastodon returns the first post; X only says "duplicate", so the id is marked unconfirmed.
    confirmed = {"mastodon": posts[0], "x": f"unconfirmed:{done['reply_id']}"}
    assert done["platform_message_id"] == confirmed[platform.name]
    assert outbound == 1
