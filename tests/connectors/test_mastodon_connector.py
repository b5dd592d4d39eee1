"""The Mastodon connector against the fake Mastodon: in, out, and through its faults."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from fakes.clock import ManualClock
from fakes.mastodon import MastodonState, status_html
from fakes.mastodon import create_app as create_fake
from services.inbox.app import create_app as create_inbox
from services.inbox.delivery.deliverer import Deliverer
from tests.connectors.world import ConnectorWorld, connected_workspace, engine_and_session
from tests.support.world import (
    bearer,
    credentials_json,
    inbox_settings,
)

TOKEN = "mastodon-test-token"
CREDENTIALS = {"masto": {"access_token": TOKEN}}


def api_settings(database_url: str, workspace_id: uuid.UUID) -> Any:
    """The inbox API, with the workspace's credentials (a channel must name its own)."""
    return inbox_settings(
        database_url,
        run_workers=False,
        channel_credentials=credentials_json(workspace_id, CREDENTIALS),
    )


class World(ConnectorWorld):
    def __init__(
        self,
        database_url: str,
        fake: Any,
        state: MastodonState,
        clock: ManualClock,
        workspace: Any,
        engine: Any,
        session: aiohttp.ClientSession,
    ) -> None:
        super().__init__(database_url, clock, workspace, engine, session, CREDENTIALS)
        self.fake = fake
        self.state = state


@pytest.fixture
async def world(aiohttp_server: Any, aiohttp_client: Any, database_url: str) -> Any:
    clock = ManualClock.from_now()
    state = MastodonState(clock=clock)
    fake = await aiohttp_server(create_fake(state))
    ws = await connected_workspace(
        aiohttp_client,
        database_url,
        fake,
        "mastodon",
        "masto",
        account_id=state.brand_id,
        credentials=CREDENTIALS,
    )
    async with engine_and_session(database_url) as (engine, session):
        yield World(database_url, fake, state, clock, ws, engine, session)


def mention(world: World, who: str, text: str, minutes_ago: float = 1, **extra: Any) -> Any:
    return world.state.add_mention(
        who, status_html(f"@acme {text}"), world.clock() - timedelta(minutes=minutes_ago), **extra
    )


async def test_mentions_and_dms_are_stored_once_with_clean_text(world: World) -> None:
    mention(world, "jane@piaille.fr", "ma box ne marche plus & le wifi non plus", 5)
    mention(world, "bob@m.example", "can you check my order?", 3, visibility="direct")
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 2
    kinds = await world.scalar(
        "SELECT string_agg(kind || ':' || text, '|' ORDER BY id) FROM inbox.messages"
    )
    assert kinds == (
        "mention:@acme ma box ne marche plus & le wifi non plus|dm:@acme can you check my order?"
    )
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 2
    channel = await world.channel()
    assert (channel.health, channel.last_success_at is not None) == ("ok", True)
    assert channel.cursor["notifications"]


async def test_a_backlog_longer_than_a_page_arrives_without_gap_or_repeat(world: World) -> None:
    mention(world, "first@m.example", "first one", 500)
    assert await world.poll() == "ok"
    for n in range(95):
        mention(world, f"u{n}@m.example", f"message number {n}", 400 - n)
    world.state.duplicate_overlap(3)
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 96
    assert await world.scalar("SELECT count(DISTINCT external_id) FROM inbox.messages") == 96


async def test_a_forgotten_cursor_is_recovered_without_a_gap(world: World) -> None:
    mention(world, "a@m.example", "before", 10)
    assert await world.poll() == "ok"
    async with world.engine.begin() as conn:  # a cursor the server no longer knows
        await conn.execute(text('UPDATE inbox.channels SET cursor = \'{"notifications": "1"}\''))
    world.state.reject_unknown_cursors("error")
    mention(world, "b@m.example", "after", 1)
    assert await world.poll() == "ok"
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 2


async def test_rate_limit_waits_for_the_reset_and_says_so(world: World) -> None:
    world.state.rate_limit_next(1, reset_in_seconds=300)
    await world.polls_rate_limited_until(world.clock() + timedelta(seconds=300))


async def test_an_expired_token_marks_the_channel_for_reauthorisation(world: World) -> None:
    world.state.expire_token()
    await world.polls_needing_reauthorisation()


async def test_server_errors_back_off_then_recover(world: World) -> None:
    world.state.fail_next(503, count=3)
    await world.backs_off_then_recovers(3, lambda: mention(world, "c@m.example", "are you there?"))


async def test_a_reply_is_posted_once_even_when_the_sender_crashed_mid_send(world: World) -> None:
    ids = mention(world, "jane@piaille.fr", "where is my parcel?")
    assert await world.poll() == "ok"
    await world.request_reply(ids.status_id, "Hi Jane, it left our depot this morning.")
    conversation_id = await world.scalar("SELECT conversation_id FROM inbox.messages")
    await world.crash_mid_send()
    deliverer = Deliverer(world.engine, world.credentials, world.session, clock=world.clock)
    assert await deliverer.deliver_due() == 1
    assert world.state.created_count == 1
    # A resend of the same reply (the idempotency key) posts nothing new.
    async with world.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE inbox.deliveries SET state = 'sending', "
                "next_attempt_at = now() - interval '1 hour'"
            )
        )
    assert await deliverer.deliver_due() == 1
    assert world.state.created_count == 1
    delivery = await world.scalar(
        "SELECT state || ':' || platform_message_id FROM inbox.deliveries"
    )
    assert delivery == f"delivered:{world.state.created_statuses[0]}"
    posted = world.state.statuses[world.state.created_statuses[0]]
    assert posted.in_reply_to_id == ids.status_id
    outbound = await world.scalar(
        "SELECT count(*) FROM inbox.messages WHERE direction = 'out' AND conversation_id = :c",
        c=conversation_id,
    )
    assert outbound == 1
    assert (
        await world.scalar(
            "SELECT count(*) FROM events.outbox "
            "WHERE topic = 'message.ingested' AND consumer = 'triage'"
        )
        == 2
    )


async def test_channel_api_shows_health_and_never_credentials(
    world: World, aiohttp_client: Any
) -> None:
    inbox = await aiohttp_client(create_inbox(api_settings(world.database_url, world.workspace.id)))
    listed = await (
        await inbox.get("/v1/channels", headers=bearer(world.workspace.channels_token))
    ).json()
    (channel,) = [c for c in listed["items"] if c["key"] == "masto"]
    assert channel["health"] == "ok" and channel["credentials_ref"] == "masto"
    assert TOKEN not in str(listed)
    bad = await inbox.put(
        "/v1/channels/mastodon/masto",
        headers=bearer(world.workspace.channels_token),
        json={"account_id": "1", "base_url": "not a url", "credentials_ref": "masto"},
    )
    assert bad.status == 422
    assert (await bad.json())["errors"][0]["pointer"] == "/base_url"
    assert (await inbox.get("/v1/channels")).status == 401
