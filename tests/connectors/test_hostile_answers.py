"""Every connector against platform answers of every wrong shape: nothing escapes the
poller's step or the delivery loop's (issue 16).

A proxy stands between each connector and its fake platform (fakes/). It forwards every call
and spoils one answer per example, as hypothesis draws it: the body replaced (empty,
``null``, a list for an object, ``{"data": []}``, an HTML error page, bytes that are not
UTF-8, nesting deeper than any parser, numbers too big for any type), cut short, or the
platform's real answer with values swapped for wrong types, nulls, huge numbers, or with a
key missing; sometimes under another status, or with junk rate-limit headers. Whatever the
answer, a poll ends as one of the poller's outcomes with the channel's health set (none of
the platform's words in it), and a send as a delivery state with a bounded reason.
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import example, given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from fakes.bluesky import BlueskyState
from fakes.bluesky import create_app as create_bluesky
from fakes.clock import ManualClock
from fakes.mastodon import MastodonState, status_html
from fakes.mastodon import create_app as create_mastodon
from fakes.meta import MetaState, deliver_webhook
from fakes.meta import create_app as create_meta
from fakes.threads import ThreadsState
from fakes.threads import create_app as create_threads
from fakes.x import XState
from fakes.x import create_app as create_x
from fakes.youtube import YouTubeState
from fakes.youtube import create_app as create_youtube
from services.inbox.app import create_app as create_inbox
from services.inbox.channels import store as channels
from services.inbox.connectors.bluesky import forget_sessions
from services.inbox.domain.polling import HEALTH
from services.inbox.metrics import POLL_OUTCOMES, InboxMetrics
from services.infra.db import create_engine
from tests.connectors.world import ConnectorWorld
from tests.security.test_webhooks_hostile import HOSTILE_LEAVES, bounded, leaf_paths, mutated
from tests.support.world import inbox_settings, make_workspace

CANARY = "platform-words-7c1e"  # in every spoiled answer; never in a channel's health
HTML = f"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1><p>{CANARY}</p></body></html>"
PSID = "24000000000000001"  # the Messenger customer
CUSTOMER = "139560936744123"  # the Facebook commenter
# Field names the connectors read, so that random documents reach their parsers.
FIELD_NAMES = """
id data meta next_token newest_id result_count includes users username name text created_at
author_id conversation_id referenced_tweets type status account acct content visibility
in_reply_to_id notifications cursor logs message sender did handle uri cid record reason
indexedAt accessJwt refreshJwt error errors title detail convo convos messages members sentAt
dm_event_id message_id recipient_id event_type sender_id dm_conversation_id participant_ids
$type rev displayName createdAt reply root parent
items snippet topLevelComment replies comments totalReplyCount nextPageToken authorChannelId
value textOriginal textDisplay authorDisplayName publishedAt parentId moderationStatus
"""
FIELDS = FIELD_NAMES.split()
ODD = [CANARY, "", "9" * 40, "2026-02-30T25:61:00Z", "-1", "\x00", HTML, 2**63, 10**40, 1e308]
DOCUMENTS = st.recursive(
    HOSTILE_LEAVES | st.sampled_from(ODD),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)
DROP = "\x00drop a key"  # a change that removes a key of the object found there
BODIES = st.sampled_from(
    [
        b"",
        b"null",
        b"[]",
        b"{}",
        b'{"data": []}',
        b'{"data": null}',
        b'{"data": {}}',
        b"[{}]",
        b"true",
        b'"a string"',
        b"1e999999",
        b"99999999999999999999999999999999999999",
        b"\xff\xfe\x00\x00",
        b"[" * 5000,
        b'{"a": {"b": {"c": ',
        HTML.encode(),
        json.dumps({"error": CANARY, "message": CANARY, "detail": CANARY}).encode(),
    ]
) | DOCUMENTS.map(lambda d: json.dumps(d).encode())
STATUSES = st.sampled_from([200, 201, 400, 401, 403, 404, 409, 410, 422, 429, 500, 502, 503])
RATE_HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "x-rate-limit-reset",
            "X-RateLimit-Reset",
            "RateLimit-Reset",
            "Retry-After",
            "X-Business-Use-Case-Usage",
            "X-Page-Usage",
            "X-App-Usage",
            "Content-Type",
        ]
    ),
    st.sampled_from([CANARY, "-1", "9" * 40, "1e999", "", "{", '{"x": [{}]}', "text/html"]),
    max_size=3,
)
NOT_COPIED = {"content-length", "transfer-encoding", "content-encoding", "connection", "host"}
DELIVERY_STATES = {"queued", "sending", "delivered", "failed"}
BOUNDED_REASON = re.compile(r"[a-z_]{1,40}")


@dataclass(frozen=True)
class Spoil:
    """What becomes of the ``call``-th answer of an example (1: the first call)."""

    call: int
    body: bytes | None = None  # this body instead of the platform's
    keep: float | None = None  # the platform's body cut to this share of its length
    changes: tuple[tuple[int, Any], ...] = ()  # (which node, its replacement) in its JSON
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def apply(self, status: int, body: bytes) -> tuple[int, bytes]:
        if self.body is not None:
            body = self.body
        elif self.keep is not None:
            body = body[: int(len(body) * self.keep)]
        elif self.changes:
            body = changed(body, self.changes)
        return self.status or status, body


def changed(body: bytes, changes: tuple[tuple[int, Any], ...]) -> bytes:
    """The JSON answer with each change made at the node it points to (modulo their count)."""
    try:
        document = json.loads(body)
    except ValueError:
        return body
    for which, value in changes:
        paths = leaf_paths(document)
        path = paths[which % len(paths)]
        if value == DROP:
            node = functools.reduce(operator.getitem, path, document)
            if not isinstance(node, dict) or not node:
                continue
            value = {k: v for k, v in node.items() if k != sorted(node)[which % len(node)]}
        document = mutated(document, [(path, value)])
    return json.dumps(document).encode()


CALLS = st.integers(1, 4)  # polls and sends make one to five calls
SPOILS = st.one_of(
    st.builds(Spoil, call=CALLS, body=BODIES, status=st.none() | STATUSES),
    st.builds(Spoil, call=CALLS, keep=st.floats(0, 0.99)),
    st.builds(
        Spoil,
        call=CALLS,
        changes=st.lists(
            st.tuples(st.integers(0, 10_000), DOCUMENTS | st.just(DROP)), min_size=1, max_size=4
        ).map(tuple),
    ),
    st.builds(Spoil, call=CALLS, status=STATUSES, headers=RATE_HEADERS),
)


class Proxy:
    """Forwards every call to the fake platform; spoils one answer per example."""

    def __init__(self, session: aiohttp.ClientSession, upstream: str) -> None:
        self.session = session
        self.upstream = upstream.rstrip("/")
        self.spoil: Spoil | None = None
        self.calls = 0

    def begin(self, spoil: Spoil | None) -> None:
        self.spoil, self.calls = spoil, 0

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in NOT_COPIED}
        async with self.session.request(
            request.method,
            self.upstream + request.path_qs,
            data=await request.read() or None,
            headers=headers,
            allow_redirects=False,
        ) as answer:
            status, body = answer.status, await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in NOT_COPIED}
        if self.spoil is not None and self.spoil.call == self.calls:
            status, body = self.spoil.apply(status, body)
            kept.update(self.spoil.headers)
        return web.Response(status=status, body=body, headers=kept)


@dataclass
class Fake:
    """A fake platform with a few messages waiting, and what its channel needs."""

    state: Any
    app: web.Application
    account_id: str
    credentials: dict[str, str]


def fake_platform(platform: str, clock: ManualClock) -> Fake:
    earlier = clock() - timedelta(minutes=5)
    if platform == "x":
        x = XState(clock=clock)
        x.add_user("janedoe", "Jane Doe")
        x.add_mention("janedoe", "@AcmeSupport my order never came", earlier)
        x.add_dm("bob", "hello, my card was charged twice", earlier)
        return Fake(x, create_x(x), x.user_id, {"bearer_token": x.bearer_token})
    if platform == "mastodon":
        masto = MastodonState(clock=clock)
        masto.add_mention("jane@piaille.fr", status_html("@acme ma box est en panne"), earlier)
        masto.add_mention("bob@m.example", status_html("@acme a DM"), earlier, visibility="direct")
        token = next(iter(masto.tokens))
        return Fake(masto, create_mastodon(masto), masto.brand_id, {"access_token": token})
    if platform == "bluesky":
        sky = BlueskyState(clock=clock)
        sky.add_mention("did:plc:jane000000000000000000000", "jane.bsky.social", "help", earlier)
        sky.add_dm("did:plc:bob0000000000000000000000", "bob.bsky.social", "my parcel?", earlier)
        login = {"identifier": sky.handle, "password": sky.password}
        return Fake(sky, create_bluesky(sky), sky.did, login)
    if platform == "threads":
        threads = ThreadsState(clock=clock)
        recent = clock() + timedelta(days=1)  # a minute before the first poll: within its lookback
        post = threads.post("Strike on Monday", at=recent - timedelta(minutes=5))
        threads.reply("lea_m", "is my train running?", post, at=recent)
        threads.mention("sam", "my refund?", at=recent)
        token = {"access_token": threads.access_token}
        return Fake(threads, create_threads(threads), threads.user_id, token)
    if platform == "youtube":
        tube = YouTubeState(clock=clock)
        top = tube.customer_comments("lea", "my box blinks red", earlier)
        tube.customer_replies(top, "sam", "mine too", earlier + timedelta(minutes=1))
        token = {"access_token": next(iter(tube.tokens))}
        return Fake(tube, create_youtube(tube), tube.brand_channel_id, token)
    meta = MetaState(clock=clock)
    token = {"page_access_token": meta.page_access_token}
    return Fake(meta, create_meta(meta), meta.page_id, token)


class Stage(ConnectorWorld):
    """One platform behind the proxy: its channel, the messages it gave, a reply to send."""

    def __init__(self, platform: str, fake: Fake, proxy: Proxy, **world: Any) -> None:
        super().__init__(credentials={"creds": fake.credentials}, **world)
        self.platform = platform
        self.fake = fake
        self.proxy = proxy
        self.cursor: dict[str, str] = {}
        self.sends = 0
        self.registry = CollectorRegistry()
        self.metrics = InboxMetrics.create(self.registry)

    async def poll_step(self, spoil: Spoil | None, cursor: dict[str, str]) -> str:
        """The poller's step with the one channel due; returns the outcome it counted."""
        forget_sessions()  # a session is made again: its answers can be spoiled too
        self.clock.advance(86_400 + 60)  # every rate window and daily quota starts afresh
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE inbox.channels SET next_poll_at = :now, lease_until = NULL, "
                    "cursor = CAST(:cursor AS jsonb)"
                ),
                {"now": self.clock(), "cursor": json.dumps(cursor)},
            )
        before = self.polls()
        self.proxy.begin(spoil)
        poller = self.poller()
        poller.metrics = self.metrics
        assert await poller.poll_due() == 1
        (outcome,) = [k for k, v in self.polls().items() if v > before.get(k, 0)]
        return outcome

    def polls(self) -> dict[str, float]:
        return {
            s.labels["outcome"]: s.value
            for family in self.metrics.polls.collect()
            for s in family.samples
            if s.name.endswith("_total")
        }

    async def send_step(self, spoil: Spoil | None, was: str) -> Any:
        """The delivery loop's step with the one reply due (queued, or interrupted while
        sending); returns the delivery row after it."""
        forget_sessions()
        self.clock.advance(3_600)
        self.sends += 1
        if self.platform == "messenger":
            self.fake.state.open_window(PSID)
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE inbox.deliveries SET state = :was, attempts = 1, "
                    "next_attempt_at = :due, text = :text, failure_reason = NULL"
                ),
                {
                    "was": was,
                    "due": self.clock() - timedelta(hours=1),
                    "text": f"On it ({self.sends})",
                },
            )
        self.proxy.begin(spoil)
        assert await self.deliverer().deliver_due() == 1
        async with self.engine.connect() as conn:
            return (await conn.execute(text("SELECT * FROM inbox.deliveries"))).one()


async def store_by_webhook(stage: Stage, aiohttp_client: Any) -> None:
    """Meta pushes: the customer's comment or DM reaches the inbox as a signed webhook."""
    meta: MetaState = stage.fake.state
    settings = inbox_settings(
        stage.database_url,
        run_workers=False,
        meta_app_secret=meta.app_secret,
        meta_verify_token=meta.verify_token,
    )
    inbox = await aiohttp_client(create_inbox(settings))
    event = (
        meta.messenger_message(PSID, "my parcel is lost")
        if stage.platform == "messenger"
        else meta.feed_comment(CUSTOMER, "Where is my order?")
    )
    url = str(inbox.make_url("/webhooks/meta"))
    assert await deliver_webhook(stage.session, url, meta.app_secret, event.payload) == 200


@pytest.fixture
async def stage(
    request: pytest.FixtureRequest, aiohttp_server: Any, aiohttp_client: Any, database_url: str
) -> AsyncIterator[Stage]:
    """``request.param``: (platform, kind of the message the reply answers)."""
    platform, kind = request.param
    clock = ManualClock.from_now()
    fake = fake_platform(platform, clock)
    upstream = await aiohttp_server(fake.app)
    engine = create_engine(database_url, 4)
    async with aiohttp.ClientSession() as session:
        proxy = Proxy(session, str(upstream.make_url("/")))
        front = web.Application()
        front.router.add_route("*", "/{tail:.*}", proxy.handle)
        server = await aiohttp_server(front)
        workspace = await make_workspace(database_url)
        async with engine.begin() as conn:
            await channels.configure(
                conn,
                workspace.id,
                platform,
                "support",
                {
                    "account_id": fake.account_id,
                    "base_url": str(server.make_url("/")),
                    "credentials_ref": "creds",
                    "polling": platform in ("x", "mastodon", "bluesky", "threads", "youtube"),
                    "poll_seconds": 60,
                },
            )
        world = {"database_url": database_url, "clock": clock, "workspace": workspace}
        staged = Stage(platform, fake, proxy, engine=engine, session=session, **world)
        if platform in ("facebook", "messenger"):
            await store_by_webhook(staged, aiohttp_client)
        else:
            assert await staged.poll_step(None, {}) == "ok"
            staged.cursor = (await staged.channel()).cursor
        (answered,) = await staged.rows(
            "SELECT external_id FROM inbox.messages WHERE direction = 'in' AND kind = :kind "
            "ORDER BY id LIMIT 1",
            kind=kind,
        )
        await staged.request_reply(answered.external_id, "On it")
        yield staged
    await engine.dispose()


POLLED = [
    ("x", "mention"),
    ("mastodon", "mention"),
    ("bluesky", "mention"),
    ("threads", "reply"),
    ("youtube", "comment"),
]
SENT = [
    ("x", "mention"),
    ("x", "dm"),
    ("mastodon", "mention"),
    ("bluesky", "mention"),
    ("bluesky", "dm"),
    ("facebook", "comment"),
    ("messenger", "dm"),
    ("threads", "reply"),
    ("youtube", "comment"),
]


@pytest.mark.parametrize("stage", POLLED, indirect=True, ids=lambda p: p[0])
@bounded(50)
@given(spoil=SPOILS, first_poll=st.booleans())
@example(spoil=Spoil(call=1, body=b'{"data": []}'), first_poll=True)  # measured on Mastodon
@example(spoil=Spoil(call=1, body=HTML.encode(), status=200), first_poll=False)
async def test_a_poll_ends_as_an_outcome_whatever_the_platform_answers(
    stage: Stage, spoil: Spoil, first_poll: bool
) -> None:
    outcome = await stage.poll_step(spoil, {} if first_poll else stage.cursor)
    channel = await stage.channel()
    assert outcome in POLL_OUTCOMES
    assert channel.health in HEALTH
    assert CANARY not in channel.health_detail
    assert channel.lease_until is None and channel.next_poll_at > stage.clock()


@pytest.mark.parametrize("stage", SENT, indirect=True, ids=lambda p: "-".join(p))
@bounded(25)
@given(spoil=SPOILS, interrupted=st.booleans())
@example(spoil=Spoil(call=1, body=b'{"data": []}'), interrupted=False)
async def test_a_send_ends_as_a_delivery_state_whatever_the_platform_answers(
    stage: Stage, spoil: Spoil, interrupted: bool
) -> None:
    delivery = await stage.send_step(spoil, "sending" if interrupted else "queued")
    assert delivery.state in DELIVERY_STATES
    reason = delivery.failure_reason
    assert reason is None or BOUNDED_REASON.fullmatch(reason), reason


@pytest.mark.parametrize("stage", [("mastodon", "mention")], indirect=True, ids=["mastodon"])
async def test_a_reply_accepted_but_answered_in_an_unreadable_shape_is_posted_once(
    stage: Stage,
) -> None:
    """Mastodon posts the reply and answers ``{}`` (no id): the attempt stays uncertain
    (``sending``, reason ``malformed_answer``) and the next one resends with the same
    Idempotency-Key, which Mastodon answers with the status it already made."""
    mastodon: MastodonState = stage.fake.state
    deliverer = stage.deliverer()
    deliverer.metrics = stage.metrics

    async def attempt(spoil: Spoil | None) -> Any:
        async with stage.engine.begin() as conn:
            await conn.execute(
                text("UPDATE inbox.deliveries SET next_attempt_at = :due"),
                {"due": stage.clock() - timedelta(seconds=1)},
            )
        stage.proxy.begin(spoil)
        assert await deliverer.deliver_due() == 1
        return (await stage.rows("SELECT * FROM inbox.deliveries"))[0]

    first = await attempt(Spoil(call=1, body=b"{}"))
    assert (first.state, first.failure_reason) == ("sending", "malformed_answer")
    counted = {"platform": "mastodon", "reason": "malformed_answer"}
    assert stage.registry.get_sample_value("ecoute_reply_delivery_failures_total", counted) == 1
    second = await attempt(None)
    assert second.state == "delivered"
    assert len(mastodon.created_statuses) == 1


@pytest.mark.parametrize("stage", [("mastodon", "mention")], indirect=True, ids=["mastodon"])
@pytest.mark.parametrize(
    ("answer", "status"), [(HTML.encode(), 502), (b'{"data": []}', 200), (b"", 200)]
)
async def test_mastodon_answering_no_list_is_unavailable(
    stage: Stage, answer: bytes, status: int
) -> None:
    """A proxy's HTML 502 page is a 502 (it raised a JSON error before the status was read),
    and ``{"data": []}`` (measured: a TypeError out of the poller) is no answer: both are
    ``unavailable``, which turns the channel ``failing`` only when it lasts."""
    outcome = await stage.poll_step(Spoil(call=1, body=answer, status=status), stage.cursor)
    channel = await stage.channel()
    assert (outcome, channel.health) == ("unavailable", "ok")
    assert channel.health_detail == "unavailable (Unavailable), 1 in a row"
