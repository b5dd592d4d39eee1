"""Guessing bearer tokens or passwords slows the guesser (429 with Retry-After), never the
valid agents and producers who share its address or its proxy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from services.inbox.app import create_app as create_inbox
from services.infra.auth_failures import DEFAULT_MAX_FAILURES, AuthFailures
from services.infra.db import create_engine
from services.triage.access.limits import ADDRESS_FREE_FAILURES
from services.triage.app import create_app as create_triage
from tests.support.clock import HandClock, inbox_by, triage_by
from tests.support.world import (
    Workspace,
    bearer,
    inbox_settings,
    make_user,
    make_workspace,
    message,
    triage_settings,
)


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


PASSWORD = "correct horse battery"
ABUSER, AGENT, PRODUCER = "203.0.113.66", "198.51.100.7", "198.51.100.8"


def via(client: str, **headers: str) -> dict[str, str]:
    """Headers of a request the ingress forwards from ``client``."""
    return {"X-Forwarded-For": client, **headers}


@dataclass
class Ingress:
    """Both services as the ingress controller reaches them (every request from 127.0.0.1,
    which TRUSTED_PROXIES may or may not list), a workspace and its agent Ana (a password
    and an API token), and the hand-moved clock the limits read."""

    triage: Any
    inbox: Any
    clock: HandClock
    workspace: Workspace
    agent_token: str


async def behind_the_ingress(aiohttp_client: Any, database_url: str, proxies: str) -> Ingress:
    clock = HandClock()
    triage = await triage_by(clock, aiohttp_client, database_url, trusted_proxies=proxies)
    inbox = await inbox_by(clock, aiohttp_client, database_url, trusted_proxies=proxies)
    ws = await make_workspace(database_url)
    agent = await make_user(database_url, ws.id, "agent", email="ana@acme.test", password=PASSWORD)
    return Ingress(triage, inbox, clock, ws, agent)


async def sign_in(triage: Any, email: str, password: str, client: str) -> Any:
    answer = await triage.post(
        "/v1/auth/login", json={"email": email, "password": password}, headers=via(client)
    )
    await answer.read()
    triage.session.cookie_jar.clear()
    return answer


async def test_an_abuser_at_a_thousand_tries_a_minute_slows_only_itself(
    aiohttp_client: Any, database_url: str
) -> None:
    ingress = await behind_the_ingress(aiohttp_client, database_url, "127.0.0.1")
    triage, inbox, clock, ws = ingress.triage, ingress.inbox, ingress.clock, ingress.workspace
    guesses: list[tuple[int, str | None]] = []
    tokens: list[tuple[int, str | None]] = []
    for n in range(1000):  # a thousand wrong tries in one minute of the clock
        clock.advance(0.06)
        if n % 2 == 0:  # the agent's password, guessed
            answer = await sign_in(triage, "ana@acme.test", f"guess-{n}", ABUSER)
            guesses.append((answer.status, answer.headers.get("Retry-After")))
        else:  # ingest tokens, guessed
            answer = await inbox.post(
                "/v1/ingest",
                headers=via(ABUSER, **bearer(f"eci_guess{n}")),
                json={"messages": [message(f"guess-{n}")]},
            )
            tokens.append((answer.status, answer.headers.get("Retry-After")))
        if n % 50 == 49:  # meanwhile, through the same ingress, everyone else works
            assert (await sign_in(triage, "ana@acme.test", PASSWORD, AGENT)).status == 200
            ingested = await inbox.post(
                "/v1/ingest",
                headers=via(PRODUCER, **bearer(ws.ingest_token)),
                json={"messages": [message(f"real-{n}")]},
            )
            assert ingested.status == 200
            # A valid token is not refused even from the abuser's own address (a NAT).
            queue = await triage.get(
                "/v1/queue", headers=via(ABUSER, **bearer(ingress.agent_token))
            )
            assert queue.status == 200

    # The abuser: five free guesses, then 429 with Retry-After; its password guesses were
    # checked only when its delay had run out (1, 2, 4… s).
    assert [s for s, _ in guesses[:5]] == [401] * 5
    assert {s for s, _ in guesses[5:]} == {429}
    assert all(1 <= int(wait or 0) <= 900 for _, wait in guesses[5:])
    checked = await failures(database_url, "email:ana@acme.test|ip:" + ABUSER)
    assert checked <= 12, checked
    assert [s for s, _ in tokens[:DEFAULT_MAX_FAILURES]] == [401] * DEFAULT_MAX_FAILURES
    assert {s for s, _ in tokens[DEFAULT_MAX_FAILURES:]} == {429}
    assert all(1 <= int(wait or 0) <= 60 for _, wait in tokens[DEFAULT_MAX_FAILURES:])
    # The agent's own address never failed: nothing counts against it.
    assert await failures(database_url, "email:ana@acme.test|ip:" + AGENT) == 0


async def test_without_trusted_proxies_a_forged_address_gains_nothing(
    aiohttp_client: Any, database_url: str
) -> None:
    triage = (await behind_the_ingress(aiohttp_client, database_url, "")).triage
    statuses = [
        (await sign_in(triage, "ana@acme.test", "guess", f"203.0.113.{n}")).status for n in range(8)
    ]
    assert statuses == [401] * 5 + [429] * 3  # one pair: (ana, 127.0.0.1)
    assert await failures(database_url, "email:ana@acme.test|ip:127.0.0.1") == 5


async def test_spraying_many_accounts_from_one_address_never_refuses_a_right_password(
    aiohttp_client: Any, database_url: str
) -> None:
    """Everyone behind one address (an office; an ingress not listed as a proxy): a guesser
    trying one password on many e-mails gets 429 past the address's budget, and the agent
    beside it still signs in."""
    ingress = await behind_the_ingress(aiohttp_client, database_url, "")
    triage = ingress.triage
    statuses = []
    for n in range(ADDRESS_FREE_FAILURES + 3):
        ingress.clock.advance(0.5)
        statuses.append((await sign_in(triage, f"user{n}@acme.test", "Summer2026!", "")).status)
    assert statuses == [401] * ADDRESS_FREE_FAILURES + [429] * 3
    assert (await sign_in(triage, "ana@acme.test", PASSWORD, "")).status == 200


async def failures(database_url: str, key: str) -> int:
    """Failed attempts recorded (that is, checked) for one rate-limit key."""
    engine = create_engine(database_url, 1)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(
                text("SELECT count(*) FROM triage.login_attempts WHERE key = :key"), {"key": key}
            )
            return int(found.scalar_one())
    finally:
        await engine.dispose()
