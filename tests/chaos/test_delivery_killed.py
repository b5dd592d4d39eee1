"""The delivery worker killed with SIGKILL mid-send: the reply is posted once, not twice.

The fake Mastodon makes the post, then holds its answer; the inbox worker is killed while it
waits. The delivery row was recorded ``sending`` before the request left, so the restarted
worker knows the outcome is unknown and resends with the same ``Idempotency-Key`` (Mastodon
dedupes it) instead of posting blind. The fake counts the posts it made.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import text

from ecoute.v1 import events_pb2
from fakes.mastodon import MastodonState, status_html
from fakes.mastodon import create_app as create_fake
from services.inbox.app import create_app as create_inbox
from services.infra.db import asyncpg_dsn, create_engine
from services.infra.events import publish
from tests.chaos.conftest import Start
from tests.chaos.harness import record, wait_until
from tests.support.world import bearer, inbox_settings, make_workspace

TOKEN = "mastodon-test-token"
POST = "POST /api/v1/statuses"


async def delivery(database_url: str) -> Any:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await conn.fetchrow(
            "SELECT state, attempts, platform_message_id, failure_reason FROM inbox.deliveries"
        )
    finally:
        await conn.close()


async def scalar(database_url: str, sql: str) -> Any:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def test_a_delivery_killed_mid_send_posts_the_reply_exactly_once(
    aiohttp_server: Any, aiohttp_client: Any, database_url: str, processes: Start
) -> None:
    started = time.monotonic()
    state = MastodonState()
    fake = await aiohttp_server(create_fake(state))
    ws = await make_workspace(database_url)
    api = await aiohttp_client(create_inbox(inbox_settings(database_url, run_workers=False)))
    answer = await api.put(
        "/v1/channels/mastodon/masto",
        headers=bearer(ws.ingest_token),
        json={
            "account_id": state.brand_id,
            "base_url": str(fake.make_url("/")),
            "credentials_ref": "masto",
            "poll_seconds": 60,
        },
    )
    assert answer.status == 200, await answer.text()
    mention = state.add_mention(
        "jane@piaille.fr",
        status_html("@acme where is my parcel?"),
        datetime.now(UTC) - timedelta(minutes=1),
    )
    worker = processes(
        "inbox",
        "worker",
        database_url,
        INBOX_CHANNEL_CREDENTIALS=json.dumps({"masto": {"access_token": TOKEN}}),
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
    posts_at_kill = state.created_count

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
    figures = {
        "platform": "mastodon",
        "state_when_killed": at_kill["state"],
        "posts_when_killed": posts_at_kill,
        "post_requests": state.request_log.count(POST),
        "posts_made": state.created_count,
        "final_state": done["state"],
        "attempts": done["attempts"],
        "outbound_messages_stored": outbound,
        "seconds": round(time.monotonic() - started, 1),
    }
    record("delivery_sigkill_mid_send", figures)

    assert (at_kill["state"], at_kill["attempts"], posts_at_kill) == ("sending", 1, 1)
    assert state.request_log.count(POST) == 2, "the restarted worker did send again"
    assert state.created_count == 1, "and the platform made no second post"
    assert (done["state"], done["attempts"]) == ("delivered", 2)
    assert done["platform_message_id"] == state.created_statuses[0]
    assert state.statuses[state.created_statuses[0]].in_reply_to_id == mention.status_id
    assert outbound == 1
