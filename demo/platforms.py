"""``python -m demo.platforms``: the demo corpus through local fake platforms and the real inbox.

One process serves a fake X, Mastodon, Bluesky, Meta (Graph API), WhatsApp (Cloud API) and Threads
for each demo brand (Voltéo, Skylark Air) on 127.0.0.1, on consecutive ports from 8090 (X, then
Mastodon, Bluesky, Meta, WhatsApp, Threads; Voltéo before Skylark), all on the real clock. It
connects the demo workspace's channels to them (``PUT /v1/channels/{platform}/{key}`` with its
channels token), then writes the corpus (``demo/messages.json``) into the fake worlds on its
timeline (``demo.feed.timeline``): the first 60 at once, back-dated by their ``minutes_ago``, the
rest of the day's history one every 1.5 seconds, and the live messages (the Lyon outage, a P1 safety
report, a pile-on) when they happen, a few minutes in. With the triage API's URL and the demo
lead's token it also plays the desk's side (``demo.scenes``: the demo SLA policy, two answers). The
inbox finds the messages as it would find them on the platforms:

- X, Mastodon and Bluesky mentions, replies and DMs: its pollers (every 5 seconds here);
- Facebook comments, Messenger and Instagram messages: Meta pushes them, so they are signed
  webhooks (``X-Hub-Signature-256``) posted to ``/webhooks/meta``;
- WhatsApp messages (the customers who wrote to a brand on WhatsApp): signed Cloud API webhooks
  posted to ``/webhooks/whatsapp``, and the statuses of the replies sent to them;
- Threads replies to the brand's post (one per brand, written before the first reply) and the
  brand's answers there: signed webhooks posted to ``/webhooks/threads``; the Threads channels
  are polled too (the catch-up meets the same posts);
- the brands' own answers in the corpus (``direction: "out"``) go through the fakes too: the
  brand's X DMs are read back by the DM poll, its public X replies arrive as Account Activity
  webhooks (``/webhooks/x``), and the Page's Facebook replies as feed webhooks. The ingest API
  is not used. A public X reply is pushed only once the post it answers is stored (the X
  channel's cursor has passed it): Account Activity payloads carry no conversation id, and the
  queue must see the brand's answer after the question, not before.

Agents' replies, delivered by the inbox's delivery loop, land on these fakes.

Ids are the fakes' own (X snowflakes, Mastodon status ids, AT-URIs, Graph ids and PSIDs); a map
from each corpus id to its platform id keeps the corpus's threads: X ``in_reply_to`` (and so
``conversation_id``) and DM conversations, Mastodon ``in_reply_to_id``, Bluesky reply refs and
chat convos, Facebook comment parents, Messenger and Instagram senders. People get stable ids
derived from their corpus ids.

A second run finds the demo channels already connected: it points them at this run's fakes and
injects nothing, so the queue stays the one left (the fake worlds start empty each run and X ids
follow the clock, so injecting again would store everything twice). Those fresh worlds do not
know the earlier run's messages, so a reply to them is refused by the Mastodon and Meta fakes
and by Bluesky chat (X and Bluesky posts accept it); delete ``.pgdata/`` to start afresh.

What the demo adjusts so the fakes serve a live demo (the fakes themselves are unchanged):

- The fake X derives a post's id from its ``created_at``: a back-dated post would get an id
  below those already served, and ``since_id`` (or the DM cursor) would skip it. Posts and DMs
  are created now, so ids follow arrival as on X, then back-dated.
- The fake X allows 900 mention and DM lookups per 15 minutes (X: 300 and 15), so a 5-second
  poll stays within its limits.
- A Bluesky post reaches the brand's notifications only if it mentions the brand: a post that
  does not already name the brand's handle gets ``@handle`` in front, as people write to be
  seen. Posts are indexed at their back-dated time (they were written then), or the connector
  would date them at their indexing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import signal
import sys
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from demo import scenes
from demo.feed import BACKLOG, INTERVAL, LIVE, load_corpus, timeline, written_at
from fakes import bluesky as fake_bluesky
from fakes import mastodon as fake_mastodon
from fakes import meta as fake_meta
from fakes import threads as fake_threads
from fakes import whatsapp as fake_whatsapp
from fakes import x as fake_x
from fakes import youtube as fake_youtube
from fakes.clock import wall_clock

DEFAULT_INBOX = "http://127.0.0.1:8080"
DEFAULT_PORT = 8090
POLL_SECONDS = 5
CURSOR_WAIT_SECONDS = 60.0
FAKES = ("x", "mastodon", "bluesky", "meta", "whatsapp", "threads", "youtube")

DEMO_WORKSPACE = uuid.UUID("0e5c07e0-0000-4000-8000-00000000de70")
"""The workspace ``make run`` creates: the demo's credentials are in its namespace."""

# Demo values, not secrets: the inbox must be started with the same ones (tools/dev.py does).
X_CONSUMER_SECRET = "demo-x-consumer-secret"
META_APP_SECRET = "demo-meta-app-secret"
META_VERIFY_TOKEN = "demo-meta-verify-token"
WHATSAPP_APP_SECRET = "demo-whatsapp-app-secret"
WHATSAPP_VERIFY_TOKEN = "demo-whatsapp-verify-token"
THREADS_APP_SECRET = "demo-threads-app-secret"
THREADS_VERIFY_TOKEN = "demo-threads-verify-token"
THREADS_POSTS = {  # the brand post the demo's Threads replies answer
    "fr": "Nouveautés de la rentrée : vos questions sur vos forfaits et factures, c'est ici 👇",
    "en": "Our winter timetable is live ✈️ Questions about your trips? Ask us here 👇",
}
DEMO_YOUTUBE_QUOTA = 1_000_000


@dataclass(frozen=True)
class Brand:
    """A demo brand and its accounts on every fake platform."""

    key: str  # the corpus's channel prefix: "volteo" in "volteo-x"
    name: str
    handle: str  # on X and Mastodon
    lang: str
    x_user_id: str
    mastodon_id: str
    bluesky_did: str
    bluesky_handle: str
    page_id: str
    ig_account_id: str
    ig_username: str
    phone_number_id: str  # the business's WhatsApp number, by id
    business_account_id: str  # its WhatsApp Business Account (templates)
    threads_user_id: str
    threads_username: str
    youtube_channel_id: str  # its YouTube channel, where customers comment its videos

    def ref(self, fake: str) -> str:
        """The credentials reference of this brand's channels on ``fake``."""
        return f"demo-{self.key}-{fake}"


BRANDS = (
    Brand(
        key="volteo",
        name="Voltéo",
        handle="Volteo_FR",
        lang="fr",
        x_user_id="1458000000000000900",
        mastodon_id="109000000000900",
        bluesky_did="did:plc:volteodemo7fr2bzq3xkq4ay",
        bluesky_handle="volteo.bsky.social",
        page_id="104000000000900",
        ig_account_id="17841400000000900",
        ig_username="volteo_fr",
        phone_number_id="106540000000900",
        business_account_id="102290000000900",
        threads_user_id="25025320000000900",
        threads_username="volteo_fr",
        youtube_channel_id="UCvolteoDemo00000000fr0",
    ),
    Brand(
        key="skylark",
        name="Skylark Air",
        handle="SkylarkAir",
        lang="en",
        x_user_id="1458000000000000901",
        mastodon_id="109000000000901",
        bluesky_did="did:plc:skylarkdemo5en2bzq3xkq4a",
        bluesky_handle="skylarkair.bsky.social",
        page_id="104000000000901",
        ig_account_id="17841400000000901",
        ig_username="skylarkair",
        phone_number_id="106540000000901",
        business_account_id="102290000000901",
        threads_user_id="25025320000000901",
        threads_username="skylarkair",
        youtube_channel_id="UCskylarkDemo0000000en1",
    ),
)


def _credentials(brand: Brand) -> dict[str, dict[str, str]]:
    return {
        brand.ref("x"): {"bearer_token": f"demo-x-{brand.key}-token"},
        brand.ref("mastodon"): {"access_token": f"demo-mastodon-{brand.key}-token"},
        brand.ref("bluesky"): {
            "identifier": brand.bluesky_handle,
            "password": f"demo-{brand.key}-app-password",
        },
        brand.ref("meta"): {"page_access_token": f"demo-meta-{brand.key}-page-token"},
        brand.ref("whatsapp"): {
            "access_token": f"demo-whatsapp-{brand.key}-token",
            "business_account_id": brand.business_account_id,
        },
        brand.ref("threads"): {"access_token": f"demo-threads-{brand.key}-token"},
        # A 5-second poll lists 3 statuses: about 52,000 units a day, so the demo's quota
        # is larger than YouTube's default (the fake's too).
        brand.ref("youtube"): {
            "access_token": f"demo-youtube-{brand.key}-token",
            "daily_quota": str(DEMO_YOUTUBE_QUOTA),
        },
    }


def channel_credentials(
    workspace: uuid.UUID = DEMO_WORKSPACE,
) -> dict[str, dict[str, dict[str, str]]]:
    """``INBOX_CHANNEL_CREDENTIALS`` for the demo: what each fake accepts, by reference, in
    the demo workspace's namespace (a channel may name only its own workspace's)."""
    found: dict[str, dict[str, str]] = {}
    for brand in BRANDS:
        found |= _credentials(brand)
    return {str(workspace): found}


def inbox_environment(env: Mapping[str, str]) -> dict[str, str]:
    """What the inbox's environment needs for the demo's fakes: their credentials added to any
    ``INBOX_CHANNEL_CREDENTIALS`` already set, the demo's app secrets unless set, and leave to
    point channels at 127.0.0.1 (``INBOX_ALLOW_LOCAL_PLATFORMS``: development only)."""
    raw = env.get("INBOX_CHANNEL_CREDENTIALS", "").strip()
    try:
        existing = json.loads(raw) if raw else {}
    except ValueError:
        existing = None
    if not isinstance(existing, dict):
        raise ValueError("INBOX_CHANNEL_CREDENTIALS must be a JSON object")
    merged = dict(existing)
    for workspace, refs in channel_credentials().items():
        merged[workspace] = {**(existing.get(workspace) or {}), **refs}
    return {
        "INBOX_CHANNEL_CREDENTIALS": json.dumps(merged),
        "INBOX_ALLOW_LOCAL_PLATFORMS": "true",
        "INBOX_X_CONSUMER_SECRET": env.get("INBOX_X_CONSUMER_SECRET") or X_CONSUMER_SECRET,
        "INBOX_META_APP_SECRET": env.get("INBOX_META_APP_SECRET") or META_APP_SECRET,
        "INBOX_META_VERIFY_TOKEN": env.get("INBOX_META_VERIFY_TOKEN") or META_VERIFY_TOKEN,
        "INBOX_WHATSAPP_APP_SECRET": env.get("INBOX_WHATSAPP_APP_SECRET") or WHATSAPP_APP_SECRET,
        "INBOX_WHATSAPP_VERIFY_TOKEN": env.get("INBOX_WHATSAPP_VERIFY_TOKEN")
        or WHATSAPP_VERIFY_TOKEN,
        "INBOX_THREADS_APP_SECRET": env.get("INBOX_THREADS_APP_SECRET") or THREADS_APP_SECRET,
        "INBOX_THREADS_VERIFY_TOKEN": env.get("INBOX_THREADS_VERIFY_TOKEN") or THREADS_VERIFY_TOKEN,
    }


# --------------------------------------------------------------------------------------------
# The fake worlds


@dataclass
class World:
    """One brand's fake platforms (their states: the servers serve these)."""

    brand: Brand
    x: fake_x.XState
    mastodon: fake_mastodon.MastodonState
    bluesky: fake_bluesky.BlueskyState
    meta: fake_meta.MetaState
    whatsapp: fake_whatsapp.WhatsAppState
    threads: fake_threads.ThreadsState
    youtube: fake_youtube.YouTubeState

    def apps(self) -> dict[str, web.Application]:
        return {
            "x": fake_x.create_app(self.x),
            "mastodon": fake_mastodon.create_app(self.mastodon),
            "bluesky": fake_bluesky.create_app(self.bluesky),
            "meta": fake_meta.create_app(self.meta),
            "whatsapp": fake_whatsapp.create_app(self.whatsapp),
            "threads": fake_threads.create_app(self.threads),
            "youtube": fake_youtube.create_app(self.youtube),
        }


def build_worlds(
    *,
    x_consumer_secret: str = X_CONSUMER_SECRET,
    meta_app_secret: str = META_APP_SECRET,
    meta_verify_token: str = META_VERIFY_TOKEN,
    whatsapp_app_secret: str = WHATSAPP_APP_SECRET,
    whatsapp_verify_token: str = WHATSAPP_VERIFY_TOKEN,
    threads_app_secret: str = THREADS_APP_SECRET,
) -> list[World]:
    """Empty worlds with the brands' accounts, on the real clock."""
    worlds = []
    for brand in BRANDS:
        creds = _credentials(brand)
        x = fake_x.XState(
            user_id=brand.x_user_id,
            username=brand.handle,
            bearer_token=creds[brand.ref("x")]["bearer_token"],
            consumer_secret=x_consumer_secret,
            clock=wall_clock,
            rate_limits={
                "mentions": (900, 900),
                "mentions_app": (900, 900),
                "dm_events": (900, 900),
                "tweets_create": (100, 900),
                "dm_create": (100, 900),
                "other": (900, 900),
            },
        )
        x.users[brand.x_user_id].name = brand.name
        mastodon = fake_mastodon.MastodonState(
            clock=wall_clock,
            brand_username=brand.handle,
            brand_id=brand.mastodon_id,
            tokens={creds[brand.ref("mastodon")]["access_token"]},
        )
        mastodon.brand.display_name = brand.name
        bluesky = fake_bluesky.BlueskyState(
            clock=wall_clock,
            did=brand.bluesky_did,
            handle=brand.bluesky_handle,
            email=f"care@{brand.key}.example",
            password=creds[brand.ref("bluesky")]["password"],
        )
        bluesky.profile(brand.bluesky_did, brand.bluesky_handle, brand.name)
        meta = fake_meta.MetaState(
            app_secret=meta_app_secret,
            verify_token=meta_verify_token,
            page_id=brand.page_id,
            page_name=brand.name,
            ig_account_id=brand.ig_account_id,
            ig_username=brand.ig_username,
            page_access_token=creds[brand.ref("meta")]["page_access_token"],
            clock=wall_clock,
        )
        whatsapp = fake_whatsapp.WhatsAppState(
            app_secret=whatsapp_app_secret,
            verify_token=whatsapp_verify_token,
            access_token=creds[brand.ref("whatsapp")]["access_token"],
            phone_number_id=brand.phone_number_id,
            business_account_id=brand.business_account_id,
            clock=wall_clock,
        )
        threads = fake_threads.ThreadsState(
            app_secret=threads_app_secret,
            access_token=creds[brand.ref("threads")]["access_token"],
            user_id=brand.threads_user_id,
            username=brand.threads_username,
            clock=wall_clock,
        )
        youtube = fake_youtube.YouTubeState(
            clock=wall_clock,
            brand_channel_id=brand.youtube_channel_id,
            brand_name=brand.name,
            tokens={creds[brand.ref("youtube")]["access_token"]},
            daily_quota=DEMO_YOUTUBE_QUOTA,
        )
        worlds.append(World(brand, x, mastodon, bluesky, meta, whatsapp, threads, youtube))
    return worlds


async def serve(
    worlds: Sequence[World], host: str, first_port: int
) -> tuple[list[web.AppRunner], dict[tuple[str, str], str]]:
    """Start one server per (fake, brand) on consecutive ports; returns the runners and the
    base URL of each (brand key, fake)."""
    runners: list[web.AppRunner] = []
    urls: dict[tuple[str, str], str] = {}
    port = first_port
    try:
        for fake in FAKES:
            for world in worlds:
                runner = web.AppRunner(world.apps()[fake], access_log=None)
                await runner.setup()
                runners.append(runner)
                await web.TCPSite(runner, host, port).start()
                urls[(world.brand.key, fake)] = f"http://{host}:{port}"
                port += 1
    except BaseException:
        for runner in runners:
            await runner.cleanup()
        raise
    return runners, urls


def channel_specs(
    worlds: Sequence[World], urls: Mapping[tuple[str, str], str]
) -> list[tuple[str, str, dict[str, Any]]]:
    """(platform, key, body of ``PUT /v1/channels/{platform}/{key}``) for every demo channel."""
    specs: list[tuple[str, str, dict[str, Any]]] = []
    for world in worlds:
        brand = world.brand
        polled = (("x", brand.x_user_id), ("mastodon", brand.mastodon_id))
        also_pushed = ("threads", brand.threads_user_id)  # webhooks, and a polled catch-up
        youtube = ("youtube", brand.youtube_channel_id)
        for platform, account in (*polled, ("bluesky", brand.bluesky_did), also_pushed, youtube):
            body = {
                "account_id": account,
                "base_url": urls[(brand.key, platform)],
                "credentials_ref": brand.ref(platform),
                "polling": True,
                "poll_seconds": POLL_SECONDS,
            }
            specs.append((platform, f"{brand.key}-{platform}", body))
        pushed = (
            ("facebook", brand.page_id),
            ("messenger", brand.page_id),
            ("instagram", brand.ig_account_id),
        )
        for platform, account in pushed:
            body = {
                "account_id": account,
                "base_url": urls[(brand.key, "meta")],
                "credentials_ref": brand.ref("meta"),
                "polling": False,  # Meta only pushes: webhooks feed these channels
                "poll_seconds": 60,
            }
            specs.append((platform, f"{brand.key}-{platform}", body))
        body = {
            "account_id": brand.phone_number_id,
            "base_url": urls[(brand.key, "whatsapp")],
            "credentials_ref": brand.ref("whatsapp"),
            "polling": False,  # WhatsApp only pushes too
            "poll_seconds": 60,
        }
        specs.append(("whatsapp", f"{brand.key}-whatsapp", body))
    return specs


# --------------------------------------------------------------------------------------------
# The inbox


class Inbox:
    """The inbox's channel API and webhook URLs, with the workspace's channels token."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}

    def url(self, path: str) -> str:
        return self.base_url + path

    async def wait_ready(self, seconds: float = 60.0) -> None:
        await scenes.wait_ready(self.session, self.base_url, "the inbox", seconds)

    async def channels(self) -> list[dict[str, Any]]:
        async with self.session.get(self.url("/v1/channels"), headers=self.headers) as response:
            if response.status != 200:
                raise RuntimeError(f"GET /v1/channels answered {response.status}")
            items: list[dict[str, Any]] = (await response.json())["items"]
        return items

    async def connect(self, platform: str, key: str, body: Mapping[str, Any]) -> None:
        async with self.session.put(
            self.url(f"/v1/channels/{platform}/{key}"), json=dict(body), headers=self.headers
        ) as response:
            if response.status != 200:
                raise RuntimeError(
                    f"PUT /v1/channels/{platform}/{key} answered {response.status}: "
                    f"{await response.text()}"
                )


def _cursor(channel: Mapping[str, Any]) -> dict[str, Any]:
    cursor = channel.get("cursor") or {}
    if isinstance(cursor, str):
        cursor = json.loads(cursor or "{}")
    return cursor if isinstance(cursor, dict) else {}


class CursorWait:
    """Waits until a polled channel's cursor has reached a platform id, i.e. the poller has
    stored that message (a page's cursor is saved in the transaction that stores the page).

    ``between`` runs between two looks (default: half a second's sleep; a test drives the
    poller there). Gives up after ``seconds`` and says so (False).
    """

    def __init__(
        self,
        inbox: Inbox,
        *,
        between: Callable[[], Awaitable[None]] | None = None,
        seconds: float = CURSOR_WAIT_SECONDS,
    ) -> None:
        self.inbox = inbox
        self.between = between
        self.seconds = seconds

    async def __call__(self, platform: str, key: str, stream: str, platform_id: str) -> bool:
        deadline = asyncio.get_running_loop().time() + self.seconds
        while True:
            for channel in await self.inbox.channels():
                if (channel["platform"], channel["key"]) != (platform, key):
                    continue
                reached = str(_cursor(channel).get(stream) or "")
                if reached.isdigit() and platform_id.isdigit() and int(reached) >= int(platform_id):
                    return True
            if asyncio.get_running_loop().time() > deadline:
                return False
            if self.between is not None:
                await self.between()
            else:
                await asyncio.sleep(0.5)


async def check_webhooks(
    session: aiohttp.ClientSession,
    inbox_url: str,
    world: World,
    verify_token: str,
    whatsapp_verify_token: str = WHATSAPP_VERIFY_TOKEN,
    threads_verify_token: str = THREADS_VERIFY_TOKEN,
) -> list[str]:
    """The handshakes X, Meta, WhatsApp and Threads do when a webhook is registered; what
    failed."""
    base = inbox_url.rstrip("/")
    problems = []
    try:
        if not await fake_x.check_crc(session, base + "/webhooks/x", world.x):
            problems.append("the X CRC check failed (INBOX_X_CONSUMER_SECRET differs?)")
        if not await fake_meta.verify_subscription(session, base + "/webhooks/meta", verify_token):
            problems.append("the Meta handshake failed (INBOX_META_VERIFY_TOKEN differs?)")
        whatsapp_url = base + "/webhooks/whatsapp"
        if not await fake_whatsapp.verify_subscription(
            session, whatsapp_url, whatsapp_verify_token
        ):
            problems.append("the WhatsApp handshake failed (INBOX_WHATSAPP_VERIFY_TOKEN differs?)")
        threads_url = base + "/webhooks/threads"
        if not await fake_threads.verify_subscription(session, threads_url, threads_verify_token):
            problems.append("the Threads handshake failed (INBOX_THREADS_VERIFY_TOKEN differs?)")
    except aiohttp.ClientError as exc:
        problems.append(f"the webhooks did not answer ({type(exc).__name__})")
    return problems


# --------------------------------------------------------------------------------------------
# Writing the corpus into the worlds

Delivery = Callable[[], Awaitable[None]]


class Unsupported(ValueError):
    """A corpus item the demo cannot express on its platform."""


@dataclass
class Outcome:
    already_loaded: bool
    injected: Counter[str] = field(default_factory=Counter)
    late: list[str] = field(default_factory=list)  # X answers pushed before their question


_AUTHOR_NUMBER = re.compile(r"^u-(\d{1,9})$")


def _number(author_id: str) -> int:
    """A stable number for a corpus person (``u-101`` → 101)."""
    found = _AUTHOR_NUMBER.fullmatch(author_id)
    if found:
        return int(found.group(1))
    return 1_000_000 + int.from_bytes(hashlib.sha256(author_id.encode()).digest()[:3], "big")


def person_id(platform: str, author_id: str) -> str:
    """A corpus person's stable id on a platform (numeric ids; a ``did:plc`` on Bluesky)."""
    if platform in ("bluesky", "youtube"):
        digest = base64.b32encode(hashlib.sha256(f"demo:{author_id}".encode()).digest())
        if platform == "youtube":  # a channel id: UC and 22 characters
            return "UC" + digest.decode()[:22]
        return "did:plc:" + digest.decode().lower()[:24]
    base = {
        "x": 3_200_000_000,
        "facebook": 10_150_000_000_000,
        "messenger": 24_700_000_000_000_000,
        "instagram": 17_840_000_000_000_000,
        "whatsapp": 33_600_000_000,  # a French mobile number: 336 and eight digits
    }[platform]
    return str(base + _number(author_id))


class Demo:
    """Writes corpus items into the fake worlds and pushes what Meta and X would push."""

    def __init__(
        self,
        worlds: Sequence[World],
        inbox: Inbox,
        *,
        meta_app_secret: str = META_APP_SECRET,
        whatsapp_app_secret: str = WHATSAPP_APP_SECRET,
        threads_app_secret: str = THREADS_APP_SECRET,
        wait: Callable[[str, str, str, str], Awaitable[bool]] | None = None,
    ) -> None:
        self.worlds = {world.brand.key: world for world in worlds}
        self.inbox = inbox
        self.meta_app_secret = meta_app_secret
        self.whatsapp_app_secret = whatsapp_app_secret
        self.threads_app_secret = threads_app_secret
        self.threads_posts: dict[str, str] = {}  # brand key -> the post Threads replies answer
        self.wait = wait or CursorWait(inbox)
        self.ids: dict[str, str] = {}  # corpus external id -> the platform's id
        self.items: dict[str, dict[str, Any]] = {}
        self.outcome = Outcome(already_loaded=False)

    async def reconnect(self, urls: Mapping[tuple[str, str], str]) -> bool:
        """When every demo channel is already connected (an earlier run loaded the corpus),
        point them at these fakes and say so (True); otherwise change nothing (False)."""
        specs = channel_specs(list(self.worlds.values()), urls)
        existing = {(c["platform"], c["key"]) for c in await self.inbox.channels()}
        if not all((platform, key) in existing for platform, key, _ in specs):
            return False
        for platform, key, body in specs:
            await self.inbox.connect(platform, key, body)
        return True

    async def load(
        self,
        corpus: Sequence[dict[str, Any]],
        urls: Mapping[tuple[str, str], str],
        *,
        backlog: int = BACKLOG,
        interval: float = INTERVAL,
    ) -> Outcome:
        """Connect the channels and write the corpus on its ``timeline``: the first
        ``backlog`` items at once (before the channels are connected: they were there
        already), then each when due, live ones dated when written.

        When every demo channel is already connected (an earlier run), they are pointed at
        these fakes and nothing is written.
        """
        if await self.reconnect(urls):
            return Outcome(already_loaded=True)
        loop = asyncio.get_running_loop()
        origin, started = loop.time(), datetime.now(UTC)
        arrivals = timeline(corpus, backlog, interval)
        first = [item for _, item in arrivals[:backlog]]
        pending = [d for item in first if (d := self.add(item, started)) is not None]
        for platform, key, body in channel_specs(list(self.worlds.values()), urls):
            await self.inbox.connect(platform, key, body)
        for deliver in pending:
            await deliver()
        for due, item in arrivals[len(first) :]:
            await asyncio.sleep(max(0.0, origin + due - loop.time()))
            deliver_now = self.add(item, started)
            if deliver_now is not None:
                await deliver_now()
        return self.outcome

    def add(self, item: dict[str, Any], started: datetime) -> Delivery | None:
        """Write one corpus item into its world; returns the push still to make, if any."""
        platform = item["platform"]
        world = self.worlds[item["channel"].split("-", 1)[0]]
        at = written_at(item, started, datetime.now(UTC))
        writer = {
            "x": self._x,
            "mastodon": self._mastodon,
            "bluesky": self._bluesky,
            "facebook": self._facebook,
            "messenger": self._messenger,
            "instagram": self._instagram,
            "whatsapp": self._whatsapp,
            "threads": self._threads,
            "youtube": self._youtube,
        }.get(platform)
        if writer is None:
            raise Unsupported(f"{item['external_id']}: no fake for {platform}")
        platform_id, delivery = writer(world, item, at)
        self.ids[item["external_id"]] = platform_id
        self.items[item["external_id"]] = item
        self.outcome.injected[platform] += 1
        return delivery

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _out(item: Mapping[str, Any]) -> bool:
        return (item.get("direction") or "in") == "out"

    def _parent(self, item: Mapping[str, Any]) -> str | None:
        parent = item.get("in_reply_to")
        if not parent:
            return None
        if parent not in self.ids:
            raise Unsupported(f"{item['external_id']} answers {parent}, not written before it")
        return self.ids[parent]

    def _customer(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The person a brand's DM is written to: the author of what it answers, or of the
        DM thread (``dm-<author id>``)."""
        parent = self.items.get(item.get("in_reply_to") or "")
        if parent is not None and not self._out(parent):
            return dict(parent["author"])
        thread = str(item.get("thread_id") or "")
        for earlier in self.items.values():
            if not self._out(earlier) and f"dm-{earlier['author']['external_id']}" == thread:
                return dict(earlier["author"])
        raise Unsupported(f"{item['external_id']}: a brand DM to no one known")

    def _meta_push(self, payload: Mapping[str, Any], receiver: str = "meta") -> Delivery:
        secret = {"whatsapp": self.whatsapp_app_secret, "threads": self.threads_app_secret}.get(
            receiver, self.meta_app_secret
        )

        async def deliver() -> None:
            status = await fake_meta.deliver_webhook(
                self.inbox.session,
                self.inbox.url(f"/webhooks/{receiver}"),
                secret,
                payload,
                retries=2,
            )
            if status != 200:
                raise RuntimeError(f"/webhooks/{receiver} answered {status}")

        return deliver

    # -- X ---------------------------------------------------------------------------------

    def _x_user(self, state: fake_x.XState, author: Mapping[str, Any]) -> fake_x.XUser:
        return state.add_user(
            author["handle"],
            author.get("display_name") or author["handle"],
            user_id=person_id("x", author["external_id"]),
        )

    def _x(self, world: World, item: dict[str, Any], at: datetime) -> tuple[str, Delivery | None]:
        state, text = world.x, item["text"]
        if item["kind"] == "dm":
            if self._out(item):
                customer = self._x_user(state, self._customer(item))
                event_id = state.add_dm(state.username, text, recipient=customer.username)
            else:
                event_id = state.add_dm(self._x_user(state, item["author"]).username, text)
            state.dm_events[event_id].created_at = at  # the id follows arrival; the time is old
            return event_id, None
        parent = self._parent(item)
        if not self._out(item):
            author = self._x_user(state, item["author"]).username
            post_id = state.add_mention(author, text, in_reply_to=parent, lang=world.brand.lang)
            state.posts[post_id].created_at = at
            return post_id, None
        post_id = state.add_post(state.username, text, in_reply_to=parent, lang=world.brand.lang)
        state.posts[post_id].created_at = at

        async def push() -> None:
            # Account Activity tells the app about the brand's own post; wait until the post
            # it answers is stored, so the answer joins its thread after the question.
            if parent is not None and not await self.wait("x", item["channel"], "mentions", parent):
                self.outcome.late.append(item["external_id"])
            for payload in fake_x.aaa_tweet_create_payloads(state, post_id):
                status = await fake_x.deliver_webhook(
                    self.inbox.session, self.inbox.url("/webhooks/x"), state, payload
                )
                if status != 200:
                    raise RuntimeError(f"/webhooks/x answered {status}")

        return post_id, push

    # -- Mastodon --------------------------------------------------------------------------

    def _mastodon(
        self, world: World, item: dict[str, Any], at: datetime
    ) -> tuple[str, Delivery | None]:
        state = world.mastodon
        if self._out(item):
            raise Unsupported(f"{item['external_id']}: the brand's own Mastodon posts")
        author = item["author"]
        account = state.account(author["handle"], author.get("display_name") or "")
        found = state.add_mention(
            account,
            fake_mastodon.status_html(item["text"], state.domain),
            at,
            visibility="direct" if item["kind"] == "dm" else "public",
            in_reply_to_id=self._parent(item),
            language=world.brand.lang,
        )
        return found.status_id, None

    # -- Bluesky ---------------------------------------------------------------------------

    def _bluesky(
        self, world: World, item: dict[str, Any], at: datetime
    ) -> tuple[str, Delivery | None]:
        state = world.bluesky
        if self._out(item):
            raise Unsupported(f"{item['external_id']}: the brand's own Bluesky posts")
        author = item["author"]
        did = person_id("bluesky", author["external_id"])
        state.profile(did, author["handle"], author.get("display_name") or "")
        if item["kind"] == "dm":
            return state.add_dm(did, author["handle"], item["text"], sent_at=at), None
        ref = state.add_mention(
            did,
            author["handle"],
            item["text"],
            at,
            reply_to=self._parent(item),
            langs=[world.brand.lang],
            indexed_at=at,
        )
        return ref.uri, None

    # -- Meta ------------------------------------------------------------------------------

    def _top_comment(self, state: fake_meta.MetaState, comment_id: str | None) -> str | None:
        """Facebook threads two levels deep: an answer to a reply goes under its top comment."""
        if comment_id is None:
            return None
        comment = state.comments[comment_id]
        if comment.parent_id in (None, comment.object_id):
            return comment_id
        return comment.parent_id

    def _facebook(
        self, world: World, item: dict[str, Any], at: datetime
    ) -> tuple[str, Delivery | None]:
        state, author = world.meta, item["author"]
        out = self._out(item)
        event = state.feed_comment(
            state.page_id if out else person_id("facebook", author["external_id"]),
            item["text"],
            from_name=None if out else author.get("display_name") or author["handle"],
            parent_id=self._top_comment(state, self._parent(item)),
            at=at,
        )
        return event.id, self._meta_push(event.payload)

    def _messenger(
        self, world: World, item: dict[str, Any], at: datetime
    ) -> tuple[str, Delivery | None]:
        state = world.meta
        if self._out(item):
            psid = person_id("messenger", self._customer(item)["external_id"])
            event = state.messenger_echo(psid, item["text"], at=at)
        else:
            author = item["author"]
            psid = person_id("messenger", author["external_id"])
            state.add_person(psid, author.get("display_name") or author["handle"])  # its name
            event = state.messenger_message(psid, item["text"], at=at)
        return event.id, self._meta_push(event.payload)

    def _instagram(
        self, world: World, item: dict[str, Any], at: datetime
    ) -> tuple[str, Delivery | None]:
        state, author = world.meta, item["author"]
        if item["kind"] == "dm":
            if self._out(item):
                igsid = person_id("instagram", self._customer(item)["external_id"])
                event = state.ig_message(igsid, item["text"], is_echo=True, at=at)
            else:
                igsid = person_id("instagram", author["external_id"])
                name = author.get("display_name") or ""
                state.add_person(igsid, name, platform="instagram", username=author["handle"])
                event = state.ig_message(igsid, item["text"], at=at)
            return event.id, self._meta_push(event.payload)
        if self._out(item):
            raise Unsupported(f"{item['external_id']}: the brand's own Instagram comments")
        event = state.ig_comment(
            person_id("instagram", author["external_id"]),
            item["text"],
            username=author["handle"],
            parent_id=self._top_comment(state, self._parent(item)),
            at=at,
        )
        return event.id, self._meta_push(event.payload)

    # -- WhatsApp --------------------------------------------------------------------------

    def _whatsapp(
        self, world: World, item: dict[str, Any], at: datetime
    ) -> tuple[str, Delivery | None]:
        if self._out(item):
            raise Unsupported(f"{item['external_id']}: the brand's own WhatsApp messages")
        author = item["author"]
        wa_id = person_id("whatsapp", author["external_id"])
        name = author.get("display_name") or author["handle"]
        wamid, payload = world.whatsapp.customer_message(wa_id, item["text"], name=name, at=at)
        return wamid, self._meta_push(payload, "whatsapp")

    # -- Threads ---------------------------------------------------------------------------

    def _threads(
        self, world: World, item: dict[str, Any], at: datetime
    ) -> tuple[str, Delivery | None]:
        """A reply in the brand post's conversation (the brand's own answers too): pushed
        as Meta's ``replies`` webhook."""
        state, brand = world.threads, world.brand
        if brand.key not in self.threads_posts:
            text = THREADS_POSTS[brand.lang]
            self.threads_posts[brand.key] = state.post(text, at=at - timedelta(minutes=30))
        author = state.username if self._out(item) else item["author"]["handle"]
        parent = self._parent(item) or self.threads_posts[brand.key]
        reply = state.reply(author, item["text"], parent, at=at)
        state.outbound_webhooks.clear()  # pushed here, once
        return str(reply["id"]), self._meta_push(state.notification("replies", reply), "threads")

    # -- YouTube ---------------------------------------------------------------------------

    def _youtube(
        self, world: World, item: dict[str, Any], at: datetime
    ) -> tuple[str, Delivery | None]:
        """A comment (or a reply in its thread) under one of the brand's videos: the inbox's
        poller finds it; the brand's own replies are read back as outbound."""
        state, author = world.youtube, item["author"]
        out = self._out(item)
        comment = state.write(
            state.brand_channel_id if out else person_id("youtube", author["external_id"]),
            state.brand_name if out else f"@{author['handle']}",
            item["text"],
            at,
            parent_id=self._parent(item) or "",
        )
        return comment.id, None


# --------------------------------------------------------------------------------------------
# The process


def _ports(first_port: int) -> str:
    names = {
        "x": "X",
        "mastodon": "Mastodon",
        "bluesky": "Bluesky",
        "meta": "Meta",
        "whatsapp": "WhatsApp",
        "threads": "Threads",
        "youtube": "YouTube",
    }
    spans = []
    for index, fake in enumerate(FAKES):
        start = first_port + index * len(BRANDS)
        spans.append(f"{names[fake]} {start}-{start + len(BRANDS) - 1}")
    return ", ".join(spans)


def _summary(injected: Counter[str]) -> str:
    return ", ".join(f"{platform} {count}" for platform, count in sorted(injected.items()))


@dataclass(frozen=True)
class Lead:
    """The triage API and the demo lead's token: what the desk's side of the demo needs."""

    triage_url: str
    token: str


async def run(
    inbox_url: str,
    token: str,
    *,
    host: str,
    first_port: int,
    backlog: int,
    interval: float,
    stop: asyncio.Event,
    env: Mapping[str, str],
    lead: Lead | None = None,
) -> None:
    """Serve the fakes and load the corpus until ``stop`` is set."""
    secrets = inbox_environment(env)
    worlds = build_worlds(
        x_consumer_secret=secrets["INBOX_X_CONSUMER_SECRET"],
        meta_app_secret=secrets["INBOX_META_APP_SECRET"],
        meta_verify_token=secrets["INBOX_META_VERIFY_TOKEN"],
        whatsapp_app_secret=secrets["INBOX_WHATSAPP_APP_SECRET"],
        whatsapp_verify_token=secrets["INBOX_WHATSAPP_VERIFY_TOKEN"],
        threads_app_secret=secrets["INBOX_THREADS_APP_SECRET"],
    )
    runners, urls = await serve(worlds, host, first_port)
    try:
        async with aiohttp.ClientSession() as session:
            inbox = Inbox(session, inbox_url, token)
            await inbox.wait_ready()
            print(f"• fake platforms on {host}: {_ports(first_port)}", flush=True)
            problems = await check_webhooks(
                session,
                inbox_url,
                worlds[0],
                secrets["INBOX_META_VERIFY_TOKEN"],
                secrets["INBOX_WHATSAPP_VERIFY_TOKEN"],
                secrets["INBOX_THREADS_VERIFY_TOKEN"],
            )
            for problem in problems:
                print(f"• warning: {problem}", file=sys.stderr, flush=True)
            demo = Demo(
                worlds,
                inbox,
                meta_app_secret=secrets["INBOX_META_APP_SECRET"],
                whatsapp_app_secret=secrets["INBOX_WHATSAPP_APP_SECRET"],
                threads_app_secret=secrets["INBOX_THREADS_APP_SECRET"],
            )
            desk = scenes.Desk(session, lead.triage_url, lead.token) if lead else None
            playing = asyncio.create_task(
                _play(demo, desk, urls, backlog=backlog, interval=interval)
            )
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({playing, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if playing.done():
                playing.result()  # an error stops the process
                await stopping
            else:
                playing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await playing
    finally:
        for runner in runners:
            await runner.cleanup()


async def _play(
    demo: Demo,
    desk: scenes.Desk | None,
    urls: Mapping[tuple[str, str], str],
    *,
    backlog: int,
    interval: float,
) -> None:
    """Say once what happens, then play the corpus (and, on a fresh demo, the lead's part)."""
    if await demo.reconnect(urls):
        print(
            "• demo: the corpus was loaded by an earlier run, so the queue is the one you left "
            "and nothing new arrives (the demo channels now read these fakes). Delete .pgdata/ "
            "to replay it, live scenes included.",
            flush=True,
        )
        return
    corpus = load_corpus()
    live = sum(1 for item in corpus if LIVE in item)
    print(
        f"• demo traffic: {min(backlog, len(corpus))} messages now, {len(corpus) - backlog - live}"
        f" more of the day's history one every {interval:g} s, and {live} live, through the "
        "fakes to the inbox's pollers and webhooks",
        flush=True,
    )
    for line in scenes.plan(with_lead=desk is not None):
        print(f"• {line}", flush=True)
    loading = demo.load(corpus, urls, backlog=backlog, interval=interval)
    if desk is None:
        outcome = await loading
    else:
        outcome, missed = await asyncio.gather(
            loading, scenes.play(desk, corpus, interval=interval)
        )
        for problem in missed:
            print(f"• warning: the demo lead's part: {problem}", flush=True)
    if outcome.late:
        print(
            f"• warning: brand replies pushed before their question was polled: {outcome.late}",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"• demo corpus written to the fakes ({sum(outcome.injected.values())} messages: "
        f"{_summary(outcome.injected)}); running until Ctrl-C",
        flush=True,
    )


def _arguments(argv: Sequence[str] | None, env: Mapping[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m demo.platforms",
        description="Serve fake X, Mastodon, Bluesky, Meta, WhatsApp and Threads for the demo "
        "brands, "
        "connect the demo workspace's channels to them and play the demo corpus through them.",
    )
    parser.add_argument(
        "--inbox",
        default=env.get("DEMO_INBOX_URL", DEFAULT_INBOX),
        help="the inbox's base URL (env DEMO_INBOX_URL; default %(default)s)",
    )
    parser.add_argument(
        "--token",
        default=env.get("DEMO_CHANNELS_TOKEN"),
        help="the workspace's channels token, which connects its channels (better: env "
        "DEMO_CHANNELS_TOKEN)",
    )
    parser.add_argument(
        "--triage",
        default=env.get("DEMO_TRIAGE_URL"),
        help="the triage API's base URL, for the demo lead's part (env DEMO_TRIAGE_URL; its "
        "token in env DEMO_LEAD_TOKEN); without it the customers arrive and nobody answers",
    )
    parser.add_argument("--host", default="127.0.0.1", help="where the fakes listen")
    parser.add_argument(
        "--port",
        type=int,
        default=int(env.get("DEMO_PLATFORMS_PORT", DEFAULT_PORT)),
        help="first of ten consecutive ports (env DEMO_PLATFORMS_PORT; default %(default)s)",
    )
    parser.add_argument("--backlog", type=int, default=BACKLOG, help="messages sent at once")
    parser.add_argument("--interval", type=float, default=INTERVAL, help="seconds between others")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("a channels token is needed: --token or DEMO_CHANNELS_TOKEN")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    env = dict(os.environ)
    args = _arguments(argv, env)
    lead = None
    if args.triage and env.get("DEMO_LEAD_TOKEN"):
        lead = Lead(args.triage, env["DEMO_LEAD_TOKEN"])

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run(
            args.inbox,
            args.token,
            host=args.host,
            first_port=args.port,
            backlog=args.backlog,
            interval=args.interval,
            stop=stop,
            env=env,
            lead=lead,
        )

    try:
        asyncio.run(_main())
    except (aiohttp.ClientError, OSError, RuntimeError, ValueError) as exc:
        print(f"• demo platforms stopped: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
