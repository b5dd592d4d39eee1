"""Guessing bearer tokens or passwords slows the guesser (429 with Retry-After), never the
valid agents and producers who share its address or its proxy."""

from __future__ import annotations

from typing import Any

import pytest

from services.inbox.app import create_app as create_inbox
from services.infra.auth_failures import DEFAULT_MAX_FAILURES, AuthFailures
from services.triage.app import create_app as create_triage
from tests.support.world import bearer, inbox_settings, make_workspace, message, triage_settings


@pytest.mark.parametrize("service", ["triage", "inbox"])
async def test_wrong_tokens_from_one_address_are_rate_limited(
    aiohttp_client: Any, database_url: str, service: str
) -> None:
    ws = await make_workspace(database_url)
    if service == "triage":
        client = await aiohttp_client(create_triage(triage_settings(database_url)))
        valid, path, kwargs = ws.agent_token, "/v1/queue", {}
        send = client.get
    else:
        client = await aiohttp_client(create_inbox(inbox_settings(database_url)))
        valid, path = ws.ingest_token, "/v1/ingest"
        kwargs = {"json": {"messages": [message("bf-1")]}}
        send = client.post

    statuses = []
    for attempt in range(DEFAULT_MAX_FAILURES - 1):
        statuses.append((await send(path, headers=bearer(f"eca_guess{attempt}"), **kwargs)).status)
    # Valid calls in between are neither slowed nor counted.
    for _ in range(5):
        assert (await send(path, headers=bearer(valid), **kwargs)).status == 200
    statuses.append((await send(path, headers=bearer("eca_guess-last"), **kwargs)).status)
    assert statuses == [401] * DEFAULT_MAX_FAILURES

    limited = await send(path, headers=bearer("eca_one-more"), **kwargs)
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) in range(1, 61)
    problem = await limited.json()
    assert problem["status"] == 429 and "retry" in problem["detail"]
    # A valid token from the same address is looked up and passes, never counted.
    other = await make_workspace(database_url, "Other care")
    fresh = other.agent_token if service == "triage" else other.ingest_token
    assert (await send(path, headers=bearer(fresh), **kwargs)).status == 200
    assert (await send(path, headers=bearer("eca_and-more"), **kwargs)).status == 429


def test_the_window_slides_and_forgets() -> None:
    limiter = AuthFailures(max_failures=3, window_seconds=60)
    for t in (0.0, 10.0, 20.0):
        assert limiter.retry_after("10.0.0.1", t) is None
        limiter.fail("10.0.0.1", t)
    assert limiter.retry_after("10.0.0.1", 30.0) == pytest.approx(30.0)
    assert limiter.retry_after("10.0.0.2", 30.0) is None, "other addresses are not affected"
    assert limiter.retry_after("10.0.0.1", 60.5) is None, "the oldest failure has expired"
    limiter.fail("10.0.0.1", 61.0)
    assert limiter.retry_after("10.0.0.1", 61.0) == pytest.approx(9.0)
    assert limiter.retry_after("10.0.0.1", 200.0) is None


def test_one_wrong_token_is_counted_whatever_address_sends_it() -> None:
    clock = [0.0]
    limiter = AuthFailures(max_failures=3, window_seconds=60, clock=lambda: clock[0])
    waits = [limiter.count([f"ip:10.0.0.{n}", "token:revoked"]) for n in range(4)]
    assert waits[:3] == [None] * 3 and waits[3] == pytest.approx(60.0)
    assert limiter.count(["ip:10.0.0.9", "token:another"]) is None, "a fresh address and token"
    clock[0] = 30.0
    assert limiter.count(["ip:10.0.0.9", "token:revoked"]) == pytest.approx(30.0)


def test_memory_stays_bounded_under_many_addresses() -> None:
    limiter = AuthFailures(max_failures=2, window_seconds=60)
    for n in range(20_000):
        limiter.fail(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}", 1.0)
    assert len(limiter) <= 10_000
