"""Random and forged webhook deliveries: never a 5xx, and a forgery stores nothing.

Hypothesis draws bodies (random bytes, random JSON, a real X event) and signatures (none,
noise, the right scheme with the wrong secret, the right secret over other bytes, Meta's
legacy SHA-1 header) for X, Meta, WhatsApp and Threads, sent over HTTP to the inbox with channels
connected for the accounts the real events name. Rows in inbox.messages and the event
outbox are counted before and after; a correctly signed real event, sent last, must store.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from typing import Any

import hypothesis.strategies as st
import requests
from hypothesis import HealthCheck, given, settings
from sqlalchemy import text

from fakes.clock import ManualClock
from fakes.meta import MetaState
from fakes.threads import ThreadsState
from fakes.whatsapp import WhatsAppState
from fakes.x import XState, aaa_dm_payloads, aaa_tweet_create_payloads
from services.infra.db import create_engine
from tests.security.conftest import (
    FUZZ_SCALE,
    META_SECRET,
    META_VERIFY,
    THREADS_SECRET,
    THREADS_VERIFY,
    WHATSAPP_SECRET,
    WHATSAPP_VERIFY,
    X_SECRET,
)
from tests.support.world import (
    bearer,
    connect_channel,
    inbox_holding,
)

X_HEADER = "x-twitter-webhooks-signature"
META_HEADER = "X-Hub-Signature-256"
PLATFORMS = ["x", "meta", "whatsapp", "threads"]
SECRETS = {
    "x": X_SECRET,
    "meta": META_SECRET,
    "whatsapp": WHATSAPP_SECRET,
    "threads": THREADS_SECRET,
}
ASCII = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4)
    ),
    max_leaves=20,
)


def x_signature(secret: str, body: bytes) -> str:
    return (
        "sha256="
        + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    )


def meta_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def rows(database_url: str) -> tuple[int, int]:
    engine = create_engine(database_url, 1)
    try:
        async with engine.connect() as conn:
            messages = (
                await conn.execute(text("SELECT count(*) FROM inbox.messages"))
            ).scalar_one()
            events = (await conn.execute(text("SELECT count(*) FROM events.outbox"))).scalar_one()
    finally:
        await engine.dispose()
    return int(messages), int(events)


def signed(platform: str, body: bytes) -> dict[str, str]:
    """The signature header each platform sends, rightly computed over ``body``."""
    if platform == "x":
        return {X_HEADER: x_signature(X_SECRET, body)}
    return {META_HEADER: meta_signature(SECRETS[platform], body)}


def bounded(examples: int) -> Any:
    """Hypothesis settings for a run over HTTP: no deadline, scaled by ECOUTE_FUZZ_SCALE."""
    return settings(
        max_examples=examples * FUZZ_SCALE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position in a JSON document (containers included), as key paths."""
    found = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            found += leaf_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += leaf_paths(v, (*path, i))
    return found


def mutated(document: Any, changes: list[tuple[tuple[Any, ...], Any]]) -> Any:
    """A deep copy of ``document`` with each path set to another value."""
    copy = json.loads(json.dumps(document))
    for path, value in changes:
        if not path:
            copy = value
            continue
        parent = copy
        try:
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this position
    return copy


HOSTILE_LEAVES = (
    JSON
    | st.sampled_from(
        ["\u00b3", "\u0663", "9" * 40, "-1", "", " 12 ", "1e999", "<script>", "'; DROP TABLE x; --"]
    )
    | st.integers(min_value=-(2**70), max_value=2**70)
)


def hammer(base: str, real_event: bytes, structured: dict[str, list[Any]]) -> list[tuple[str, int]]:
    """Send the forged, the random and the handshakes; returns (kind, status) of each."""
    session = requests.Session()
    answers: list[tuple[str, int]] = []
    bodies = st.one_of(
        st.binary(max_size=2048), JSON.map(lambda v: json.dumps(v).encode()), st.just(real_event)
    )

    @bounded(150)
    @given(platform=st.sampled_from(PLATFORMS), body=bodies, forgery=st.integers(0, 4), noise=ASCII)
    def forged(platform: str, body: bytes, forgery: int, noise: str) -> None:
        sign, header = (x_signature, X_HEADER) if platform == "x" else (meta_signature, META_HEADER)
        secret = SECRETS[platform]
        headers = {"Content-Type": "application/json"}
        if forgery == 1:
            headers[header] = noise.strip()  # the client refuses surrounding whitespace
        elif forgery == 2:
            headers[header] = sign(secret + noise + "!", body)  # the wrong secret
        elif forgery == 3:
            headers[header] = sign(secret, body + b" ")  # the right secret, other bytes
        elif forgery == 4:
            legacy = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
            headers["X-Hub-Signature"] = "sha1=" + legacy  # Meta's legacy header alone
        status = session.post(
            f"{base}/webhooks/{platform}", data=body, headers=headers, timeout=30
        ).status_code
        answers.append(("forged", status))

    @bounded(60)
    @given(platform=st.sampled_from(PLATFORMS), body=bodies.filter(lambda b: b != real_event))
    def signed_junk(platform: str, body: bytes) -> None:
        status = session.post(
            f"{base}/webhooks/{platform}", data=body, headers=signed(platform, body), timeout=30
        ).status_code
        answers.append(("signed junk", status))

    @bounded(60)
    @given(
        platform=st.sampled_from(PLATFORMS),
        query=st.dictionaries(
            st.sampled_from(
                ["crc_token", "hub.mode", "hub.verify_token", "hub.challenge", "other"]
            ),
            ASCII,
            max_size=4,
        ),
    )
    def handshakes(platform: str, query: dict[str, str]) -> None:
        status = session.get(f"{base}/webhooks/{platform}", params=query, timeout=30).status_code
        answers.append((f"handshake {platform} {sorted(query)}", status))

    documents = [(p, d) for p, ds in structured.items() for d in ds]

    @bounded(120)
    @given(data=st.data())
    def signed_mutants(data: Any) -> None:
        """Real events, rightly signed, with hostile values where the parsers look."""
        platform, document = data.draw(st.sampled_from(documents))
        paths = leaf_paths(document)
        changes = data.draw(
            st.lists(st.tuples(st.sampled_from(paths), HOSTILE_LEAVES), min_size=1, max_size=4)
        )
        body = json.dumps(mutated(document, changes)).encode()
        status = session.post(
            f"{base}/webhooks/{platform}", data=body, headers=signed(platform, body), timeout=30
        ).status_code
        answers.append(("signed mutant", status))

    if structured:
        signed_mutants()
    else:
        forged()
        signed_junk()
        handshakes()
    return answers


async def test_forged_and_random_webhooks(aiohttp_client: Any, database_url: str) -> None:
    state = XState(clock=ManualClock.from_now())
    state.add_user("janedoe", "Jane Doe")
    refs = {
        "x": {"bearer_token": "user"},
        "meta": {"page_access_token": "page"},
        "whatsapp": {"access_token": "wa"},
        "threads": {"access_token": "th"},
    }
    ws, client = await inbox_holding(
        aiohttp_client,
        database_url,
        refs,
        x_consumer_secret=X_SECRET,
        meta_app_secret=META_SECRET,
        meta_verify_token=META_VERIFY,
        whatsapp_app_secret=WHATSAPP_SECRET,
        whatsapp_verify_token=WHATSAPP_VERIFY,
        threads_app_secret=THREADS_SECRET,
        threads_verify_token=THREADS_VERIFY,
    )
    await connect_channel(
        client,
        ws.channels_token,
        "x",
        "support",
        account_id=state.user_id,
        base_url="https://api.x.com",
        credentials_ref="x",
    )
    post = state.add_mention("janedoe", "@AcmeSupport my order 4411 never arrived")
    real_event = json.dumps(aaa_tweet_create_payloads(state, post)[0]).encode()

    dm = state.add_dm("janedoe", "hello, my refund?")
    meta = MetaState(clock=ManualClock.from_now())
    whatsapp = WhatsAppState(clock=ManualClock.from_now())
    threads = ThreadsState(clock=ManualClock.from_now())
    post_id = threads.post("Our timetable")
    for platform, account in (
        ("facebook", meta.page_id),
        ("messenger", meta.page_id),
        ("instagram", meta.ig_account_id),
        ("whatsapp", whatsapp.phone_number_id),
        ("threads", threads.user_id),
    ):
        linked = await client.put(
            f"/v1/channels/{platform}/acme-{platform}",
            headers=bearer(ws.channels_token),
            json={
                "account_id": account,
                "base_url": "https://graph.threads.net"
                if platform == "threads"
                else "https://graph.facebook.com",
                "credentials_ref": platform if platform in ("whatsapp", "threads") else "meta",
                "polling": False,
            },
        )
        assert linked.status == 200
    structured = {
        "x": [*aaa_tweet_create_payloads(state, post), *aaa_dm_payloads(state, dm)],
        "meta": [
            meta.feed_comment("139560936744123", "Where is my order?").payload,
            meta.messenger_message("24000000000000001", "my parcel").payload,
            meta.ig_comment("17800000000000001", "still waiting").payload,
        ],
        "whatsapp": [
            whatsapp.customer_message("33612345678", "where is my parcel?", name="Léa")[1],
            whatsapp.customer_message("33612345678", "receipt", media="image")[1],
        ],
        "threads": [
            threads.notification("replies", threads.reply("lea_m", "still late", post_id)),
            threads.notification("mentions", threads.mention("sam", "my refund?")),
        ],
    }

    before = await rows(database_url)
    base = str(client.make_url("")).rstrip("/")
    answers = await asyncio.to_thread(hammer, base, real_event, {})
    assert [a for a in answers if a[1] >= 500] == []
    forged = [status for kind, status in answers if kind == "forged"]
    assert len(forged) >= 100 and set(forged) == {401}
    assert {status for kind, status in answers if kind == "signed junk"} <= {200, 413}
    assert {status for kind, status in answers if kind.startswith("handshake")} <= {200, 400, 403}
    assert await rows(database_url) == before, "a forged or junk delivery stored something"

    # The counting can fail: the real event, rightly signed, is stored (and published).
    signed = await client.post(
        "/webhooks/x", data=real_event, headers={X_HEADER: x_signature(X_SECRET, real_event)}
    )
    assert signed.status == 200
    after = await rows(database_url)
    assert after[0] == before[0] + 1 and after[1] > before[1]

    # A real Threads reply: forged (a wrong secret, no signature) it stores nothing; rightly
    # signed it is stored.
    reply = json.dumps(structured["threads"][0]).encode()
    for header in ({META_HEADER: meta_signature("not-" + THREADS_SECRET, reply)}, {}):
        refused = await client.post("/webhooks/threads", data=reply, headers=header)
        assert refused.status == 401
    assert await rows(database_url) == after
    header = {META_HEADER: meta_signature(THREADS_SECRET, reply)}
    stored = await client.post("/webhooks/threads", data=reply, headers=header)
    assert stored.status == 200
    assert (await rows(database_url))[0] == after[0] + 1

    # Real events, rightly signed, with hostile values: acknowledged, never a 5xx.
    mutants = await asyncio.to_thread(hammer, base, real_event, structured)
    assert len(mutants) >= 100
    assert {status for _, status in mutants} == {200}
