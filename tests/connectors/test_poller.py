"""The poller's rules, with a two-stream connector implementing the connector protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from services.inbox.channels import store as channels
from services.inbox.channels.credentials import CredentialStore
from services.inbox.channels.poller import Poller
from services.inbox.connectors import registry
from services.inbox.connectors.base import Channel, Page, RateLimited, Reply, Sent
from services.inbox.domain.endpoints import PlatformHosts
from services.inbox.domain.messages import Incoming
from services.infra.db import create_engine
from tests.support.world import make_workspace

NOW = datetime.now(UTC).replace(microsecond=0)
LOCAL = PlatformHosts(allow_local=True)
LIMITED: set[str] = set()


class TwoStreams:
    """Mentions and DMs; a stream named in LIMITED answers 429 until a minute from now."""

    streams: tuple[str, ...] = ("mentions", "dms")

    def __init__(
        self, channel: Channel, credentials: dict[str, Any], session: Any, clock: Any
    ) -> None:
        self.channel = channel
        self.clock = clock

    async def poll(self, stream: str, cursor: str | None) -> AsyncIterator[Page]:
        if stream in LIMITED:
            raise RateLimited(NOW + timedelta(minutes=1))
        n = int(cursor or 0) + 1
        yield Page(
            [
                Incoming(
                    platform="mastodon",
                    channel=self.channel.key,
                    external_id=f"{stream}-{n}",
                    kind="dm" if stream == "dms" else "mention",
                    direction="in",
                    author_external_id="7",
                    author_handle="a",
                    author_display_name="",
                    text="hello",
                    created_at=self.clock(),
                )
            ],
            str(n),
        )

    async def send(self, reply: Reply) -> Sent:
        raise NotImplementedError


@pytest.fixture
async def setup(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setitem(registry.CONNECTORS, "mastodon", TwoStreams)
    ws = await make_workspace(database_url)
    engine = create_engine(database_url, 3)
    async with engine.begin() as conn:
        await channels.configure(
            conn,
            ws.id,
            "mastodon",
            "two",
            {
                "account_id": "1",
                "base_url": "http://127.0.0.1:9",
                "credentials_ref": "c",
                "polling": True,
                "poll_seconds": 60,
            },
        )
    async with aiohttp.ClientSession() as session:
        yield (
            engine,
            Poller(
                engine,
                database_url,
                CredentialStore({str(ws.id): {"c": {}}}, hosts=LOCAL),
                session,
                clock=lambda: NOW,
            ),
        )
    LIMITED.clear()
    await engine.dispose()


async def poll(engine: Any, poller: Poller) -> tuple[str, Any]:
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE inbox.channels SET next_poll_at = :now, lease_until = NULL"), {"now": NOW}
        )
        (channel,) = await channels.claim_due(conn, NOW, 60, 5)
    outcome = await poller.poll_channel(channel)
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM inbox.channels"))).one()
        stored = sorted(
            r[0] for r in await conn.execute(text("SELECT external_id FROM inbox.messages"))
        )
    return outcome, (row, stored)


async def test_a_rate_limited_stream_waits_alone(setup: Any) -> None:
    engine, poller = setup
    LIMITED.add("dms")
    outcome, (row, stored) = await poll(engine, poller)
    assert outcome == "ok" and row.health == "ok"
    assert stored == ["mentions-1"]
    assert "dms" in row.health_detail
    outcome, (row, stored) = await poll(engine, poller)
    assert stored == ["mentions-1", "mentions-2"], "mentions keep flowing"
    LIMITED.clear()  # the platform would answer again, but the reset time is not reached
    outcome, (row, stored) = await poll(engine, poller)
    assert "dms-1" not in stored


async def test_every_stream_limited_is_a_rate_limited_channel(setup: Any) -> None:
    engine, poller = setup
    LIMITED.update({"dms", "mentions"})
    outcome, (row, stored) = await poll(engine, poller)
    assert (outcome, row.health, stored) == ("rate_limited", "rate_limited", [])
    assert row.next_poll_at >= NOW + timedelta(minutes=1)
