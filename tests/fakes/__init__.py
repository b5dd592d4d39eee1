"""Tests of the fake platforms: each test module gives its fake's ``state``; the clock at
``T0`` and the server over that state come from ``conftest.py``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from fakes import bluesky, mastodon, meta, threads, x

T0 = datetime(2024, 5, 13, 10, 0, tzinfo=UTC)

APPS: dict[type, Callable[[Any], web.Application]] = {
    bluesky.BlueskyState: bluesky.create_app,
    mastodon.MastodonState: mastodon.create_app,
    meta.MetaState: meta.create_app,
    threads.ThreadsState: threads.create_app,
    x.XState: x.create_app,
}


async def serve(aiohttp_client: Any, state: Any) -> TestClient[Any, Any]:
    """The fake platform that ``state`` belongs to, served over it."""
    client: TestClient[Any, Any] = await aiohttp_client(APPS[type(state)](state))
    return client
