"""`make run`'s demo: the corpus through the fake platforms and the inbox's real connectors.

The pollers are driven here (``claim_due`` + ``Poller.poll_channel``) instead of their loops;
the webhooks are the inbox's own routes; agents' replies go through the real delivery.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from demo.feed import LIVE, feed, load_corpus
from demo.platforms import (
    META_APP_SECRET,
    META_VERIFY_TOKEN,
    THREADS_APP_SECRET,
    THREADS_VERIFY_TOKEN,
    WHATSAPP_APP_SECRET,
    WHATSAPP_VERIFY_TOKEN,
    X_CONSUMER_SECRET,
    CursorWait,
    Demo,
    Inbox,
    Outcome,
    World,
    build_worlds,
    channel_credentials,
    check_webhooks,
    person_id,
)
from ecoute.v1 import events_pb2
from services.inbox.app import create_app
from services.inbox.channels import store as channels
from services.inbox.channels.credentials import CredentialStore
from services.inbox.channels.poller import Poller
from services.inbox.connectors.bluesky import forget_sessions
from services.inbox.consumer import CONSUMER
from services.inbox.delivery.deliverer import Deliverer, record_requests
from services.infra.db import create_engine
from services.infra.events import Consumer, publish
from tests.support.world import Workspace, inbox_settings, make_workspace


@dataclass
class Stage:
    """An inbox (API and webhooks, no background loops), its database and a poller."""

    database_url: str
    workspace: Workspace
    engine: AsyncEngine
    session: aiohttp.ClientSession
    inbox: Inbox
    poller: Poller
    credentials: CredentialStore
    polls: list[str]

    async def poll(self) -> None:
        """Make every polled channel due and poll each once, as the poller's loop would."""
        async with self.engine.begin() as conn:
            await conn.execute(
                text("UPDATE inbox.channels SET next_poll_at = now(), lease_until = NULL")
            )
            due = await channels.claim_due(conn, datetime.now(UTC), 60, 100)
        assert len(due) == 10  # x, mastodon, bluesky, threads and youtube for two brands
        for channel in due:
            self.polls.append(await self.poller.poll_channel(channel))

    async def load(self, aiohttp_server: Any, worlds: Sequence[World]) -> tuple[Demo, Outcome]:
        """A run of ``demo.platforms``: serve these worlds, connect, write the corpus."""
        urls: dict[tuple[str, str], str] = {}
        for world in worlds:
            for fake, app in world.apps().items():
                server = await aiohttp_server(app)
                urls[(world.brand.key, fake)] = str(server.make_url("")).rstrip("/")
        demo = Demo(worlds, self.inbox, wait=CursorWait(self.inbox, between=self.poll))
        return demo, await demo.load(load_corpus(), urls, interval=0)

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(text(sql), {"ws": self.workspace.id, **params})).all())

    async def stored(self) -> dict[tuple[str, str], Any]:
        """Stored messages by (channel key, platform id)."""
        rows = await self.rows(
            "SELECT c.key, m.external_id, m.conversation_id, m.direction, m.text, m.created_at "
            "FROM inbox.messages AS m JOIN inbox.channels AS c "
            "  ON c.workspace_id = m.workspace_id AND c.id = m.channel_id "
            "WHERE m.workspace_id = :ws"
        )
        return {(r.key, r.external_id): r for r in rows}


@pytest.fixture
async def stage(aiohttp_client: Any, database_url: str) -> AsyncIterator[Stage]:
    workspace = await make_workspace(database_url)
    settings = inbox_settings(
        database_url,
        run_workers=False,
        x_consumer_secret=X_CONSUMER_SECRET,
        meta_app_secret=META_APP_SECRET,
        meta_verify_token=META_VERIFY_TOKEN,
        whatsapp_app_secret=WHATSAPP_APP_SECRET,
        whatsapp_verify_token=WHATSAPP_VERIFY_TOKEN,
        threads_app_secret=THREADS_APP_SECRET,
        threads_verify_token=THREADS_VERIFY_TOKEN,
        channel_credentials=json.dumps(channel_credentials(workspace.id)),
    )
    client = await aiohttp_client(create_app(settings))
    engine = create_engine(database_url, 4)
    credentials = CredentialStore.from_settings(settings)
    try:
        async with aiohttp.ClientSession() as session:
            inbox = Inbox(session, str(client.make_url("")), workspace.channels_token)
            poller = Poller(engine, database_url, credentials, session)
            yield Stage(database_url, workspace, engine, session, inbox, poller, credentials, [])
    finally:
        forget_sessions()
        await engine.dispose()


def _groups(corpus: Sequence[dict[str, Any]]) -> dict[str, str]:
    """The corpus's conversations: messages linked by ``in_reply_to`` or a shared thread id."""
    parent = {m["external_id"]: m["external_id"] for m in corpus}

    def root(item: str) -> str:
        while parent[item] != item:
            item = parent[item]
        return item

    threads: dict[tuple[str, str], str] = {}
    for m in corpus:
        if m["in_reply_to"]:
            parent[root(m["external_id"])] = root(m["in_reply_to"])
        if m["thread_id"]:
            first = threads.setdefault((m["channel"], m["thread_id"]), m["external_id"])
            parent[root(m["external_id"])] = root(first)
    return {m["external_id"]: root(m["external_id"]) for m in corpus}


async def test_the_corpus_arrives_through_the_fakes_threaded_back_dated_and_once(
    stage: Stage, aiohttp_server: Any
) -> None:
    corpus = load_corpus()
    worlds = build_worlds()
    base = stage.inbox.base_url
    assert await check_webhooks(stage.session, base, worlds[0], META_VERIFY_TOKEN) == []

    demo, outcome = await stage.load(aiohttp_server, worlds)
    await stage.poll()  # what was written after the last look

    assert not outcome.already_loaded
    assert outcome.injected == Counter(m["platform"] for m in corpus)
    assert outcome.late == []  # every X answer was pushed after its question was stored
    assert stage.polls and set(stage.polls) == {"ok"}

    # Per channel and direction, exactly the corpus: inbound through pollers and webhooks,
    # the brands' answers through the X DM poll and the X and Meta webhooks.
    stored = await stage.stored()
    assert Counter((key, r.direction) for (key, _), r in stored.items()) == Counter(
        (m["channel"], m["direction"]) for m in corpus
    )
    by_platform = Counter(m["platform"] for m in corpus if m["direction"] == "in")
    counted = await stage.rows(
        "SELECT c.platform, count(*) AS n FROM inbox.messages AS m JOIN inbox.channels AS c "
        "  ON c.workspace_id = m.workspace_id AND c.id = m.channel_id "
        "WHERE m.workspace_id = :ws AND m.direction = 'in' GROUP BY c.platform"
    )
    assert {r.platform: r.n for r in counted} == by_platform
    # Messenger and Instagram DMs carry ids only: every author's name came from Meta's profiles.
    dms = await stage.rows(
        "SELECT a.display_name, a.handle FROM inbox.messages AS m "
        "JOIN inbox.channels AS c ON c.workspace_id = m.workspace_id AND c.id = m.channel_id "
        "JOIN inbox.authors AS a ON a.id = m.author_id WHERE m.workspace_id = :ws "
        "AND m.direction = 'in' AND m.kind = 'dm' AND c.platform IN ('messenger', 'instagram')"
    )
    assert dms and [r for r in dms if not (r.display_name or r.handle)] == []

    row = {m["external_id"]: stored[m["channel"], demo.ids[m["external_id"]]] for m in corpus}

    # The conversations are the corpus's: replies with what they answer, DM follow-ups in
    # their DM thread, and nothing else together.
    groups = _groups(corpus)
    conversation_of_group: dict[str, int] = {}
    for m in corpus:
        found = conversation_of_group.setdefault(
            groups[m["external_id"]], row[m["external_id"]].conversation_id
        )
        assert row[m["external_id"]].conversation_id == found, m["external_id"]
    assert len(set(conversation_of_group.values())) == len(conversation_of_group)
    # Three of them by name: an X reply with its question and the brand's public answer, a
    # Messenger follow-up in its customer's thread, and a WhatsApp one.
    assert len({row[i].conversation_id for i in ("d-0008", "d-0105", "d-0110")}) == 1
    assert row["d-0038"].conversation_id == row["d-0004"].conversation_id
    assert row["d-0131"].conversation_id == row["d-0118"].conversation_id
    assert outcome.injected["whatsapp"] == 4
    # A Threads conversation: a customer's reply to the brand's post, their follow-up and the
    # brand's answer (pushed as webhooks, met again by the poll), beside another customer's.
    assert len({row[i].conversation_id for i in ("d-0005", "d-0107", "d-0120")}) == 1
    assert row["d-0120"].direction == "out" and outcome.injected["threads"] == 5
    # YouTube comments under the brands' videos, found by the poller.
    assert {row[i].direction for i in ("d-0064", "d-0065")} == {"in"}
    assert outcome.injected["youtube"] == 2

    # The texts are the corpus's (a Bluesky post names the brand, to reach its notifications).
    handles = {w.brand.key: w.brand.bluesky_handle for w in worlds}
    for m in corpus:
        written = m["text"]
        handle = "@" + handles[m["channel"].split("-")[0]]
        if m["platform"] == "bluesky" and m["kind"] != "dm" and handle not in written:
            written = f"{handle} {written}"
        assert row[m["external_id"]].text == written, m["external_id"]

    # History back-dated by minutes_ago, on every platform (to the second: Meta sends
    # seconds); live messages dated when written, after the history's start.
    history = [m for m in corpus if LIVE not in m]
    start = row[history[0]["external_id"]].created_at
    for m in history:
        apart = (row[m["external_id"]].created_at - start).total_seconds()
        expected = (history[0]["minutes_ago"] - m["minutes_ago"]) * 60
        assert abs(apart - expected) < 1.0, m["external_id"]
    started = start + timedelta(minutes=history[0]["minutes_ago"])
    for m in corpus:
        if LIVE in m:
            assert started - timedelta(seconds=1) <= row[m["external_id"]].created_at, m

    # A second run: new, empty fakes (a restart). The corpus is known to be loaded, the
    # channels now point at the new fakes, and polling them stores nothing new.
    first_fakes = {c["base_url"] for c in await stage.inbox.channels()}
    _, again = await stage.load(aiohttp_server, build_worlds())
    assert again.already_loaded and not again.injected
    before = len(stored)
    stage.polls.clear()
    await stage.poll()
    assert set(stage.polls) == {"ok"}
    assert len(await stage.stored()) == before
    connected = await stage.inbox.channels()
    assert len(connected) == 18
    assert {c["health"] for c in connected} == {"ok"}
    later_fakes = {c["base_url"] for c in connected}
    assert len(later_fakes) == len(first_fakes) == 14 and not later_fakes & first_fakes


REPLIES = (  # corpus ids of the messages answered
    "d-0001",  # an X mention: POST /2/tweets
    "d-0025",  # an X DM
    "d-0018",  # a Mastodon mention
    "d-0015",  # a Bluesky post
    "d-0149",  # a Bluesky DM
    "d-0003",  # a Facebook comment
    "d-0004",  # a Messenger DM
    "d-0053",  # an Instagram DM
    "d-0021",  # a WhatsApp message
    "d-0023",  # a Threads reply to the brand's post
    "d-0065",  # a YouTube comment
)


def _sent(world: World) -> int:
    return (
        len(world.x.sent_posts)
        + len(world.x.sent_dms)
        + world.mastodon.created_count
        + world.bluesky.created_count
        + world.bluesky.sent_count
        + len(world.meta.sends)
        + len(world.whatsapp.sends)
        + len(world.threads.published)
        + len(world.youtube.inserted)
    )


async def test_agents_replies_to_demo_messages_land_on_the_fakes(
    stage: Stage, aiohttp_server: Any
) -> None:
    corpus = {m["external_id"]: m for m in load_corpus()}
    worlds = build_worlds()
    demo, _ = await stage.load(aiohttp_server, worlds)
    await stage.poll()
    stored = await stage.stored()
    ids = await stage.rows(
        "SELECT c.key, m.external_id, m.id FROM inbox.messages AS m JOIN inbox.channels AS c "
        "  ON c.workspace_id = m.workspace_id AND c.id = m.channel_id WHERE m.workspace_id = :ws"
    )
    message_ids = {(r.key, r.external_id): r.id for r in ids}
    async with stage.engine.begin() as conn:
        for answered in REPLIES:
            key = (corpus[answered]["channel"], demo.ids[answered])
            request = events_pb2.ReplyRequested(
                workspace_id=str(stage.workspace.id),
                reply_id=str(uuid.uuid4()),
                conversation_id=stored[key].conversation_id,
                in_reply_to_message_id=message_ids[key],
                text=f"Hello from the care team about {answered}.",
                agent_id="agent-1",
            )
            request.requested_at.FromDatetime(datetime.now(UTC))
            await publish(
                conn, "reply.requested", [stage.workspace.id], [request.SerializeToString()]
            )
    consumer = Consumer(stage.engine, stage.database_url, CONSUMER, record_requests)
    assert await consumer.drain_once() == len(REPLIES)
    deliverer = Deliverer(stage.engine, stage.credentials, stage.session)
    assert await deliverer.deliver_due() == len(REPLIES)

    states = await stage.rows("SELECT state, count(*) AS n FROM inbox.deliveries GROUP BY state")
    assert {r.state: r.n for r in states} == {"delivered": len(REPLIES)}
    volteo, skylark = worlds
    assert _sent(volteo) == 3 and _sent(skylark) == len(REPLIES) - 3
    assert [p.in_reply_to_tweet_id for p in skylark.x.sent_posts] == [demo.ids["d-0001"]]
    assert [d.participant_id for d in skylark.x.sent_dms] == [person_id("x", "u-101")]
    masto = skylark.mastodon
    assert [masto.statuses[i].in_reply_to_id for i in masto.created_statuses] == [
        demo.ids["d-0018"]
    ]
    assert skylark.bluesky.created_count == skylark.bluesky.sent_count == 1
    assert {(s.kind, s.target) for s in skylark.meta.sends} == {
        ("comment_reply", demo.ids["d-0003"]),
        ("message", person_id("messenger", "u-104")),
    }
    igsid = person_id("instagram", corpus["d-0053"]["author"]["external_id"])
    assert [(s.kind, s.account_id, s.target) for s in volteo.meta.sends] == [
        ("message", volteo.brand.ig_account_id, igsid)
    ]
    assert [(s.type, s.to) for s in volteo.whatsapp.sends] == [
        ("text", person_id("whatsapp", corpus["d-0021"]["author"]["external_id"]))
    ]
    (answer,) = skylark.threads.brand_replies()
    assert answer["replied_to"] == {"id": demo.ids["d-0023"]}
    (answer,) = [volteo.youtube.comments[i] for i in volteo.youtube.inserted]
    assert answer.parent_id == demo.ids["d-0065"]


async def test_a_corpus_loaded_by_the_ingest_feeder_counts_as_loaded(
    stage: Stage, aiohttp_server: Any
) -> None:
    """A .pgdata from before the fakes (the corpus posted to the ingest API) is not doubled."""
    corpus = load_corpus()
    stored, _ = await feed(stage.inbox.url("/v1/ingest"), stage.workspace.ingest_token, interval=0)
    assert stored == len(corpus)
    _, outcome = await stage.load(aiohttp_server, build_worlds())
    assert outcome.already_loaded
    await stage.poll()
    assert set(stage.polls) == {"ok"}
    assert len(await stage.stored()) == len(corpus)
