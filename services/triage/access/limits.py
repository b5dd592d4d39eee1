"""Failed attempts at proving who one is (a password, a two-factor code): a delay per
(account, client address) that doubles with each failure, and a budget per client address.

A right credential is refused only while its own (account, address) pair waits, and then
it is not even checked. Someone guessing an agent's password from their own address delays
that pair alone: the agent, from theirs, still signs in, and a success clears the pair.
Across accounts an address has a larger budget; past it, its wrong answers are 429 too, but
a right one still passes (an office, a NAT, an ingress controller not listed in
``TRUSTED_PROXIES`` share one address: none of them pays for another's failures). Failures
are kept in the database, so every replica sees the same counts.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.infra.client_address import address_key
from services.triage.access import store

FREE_FAILURES = 5  # per (account, address): then 1 s, 2 s, 4 s… up to MAX_DELAY
ADDRESS_FREE_FAILURES = 50  # per address, across accounts
FIRST_DELAY = timedelta(seconds=1)
MAX_DELAY = timedelta(minutes=15)
MEMORY = timedelta(hours=1)  # failures older than this no longer count
T = TypeVar("T")


def delay(failures: int, free: int) -> timedelta:
    """How long after its last failure a key that failed ``failures`` times must wait."""
    if failures < free:
        return timedelta(0)
    doublings: int = min(failures - free, 20)
    return min(FIRST_DELAY * (1 << doublings), MAX_DELAY)


def wait(failures: int, last: datetime, free: int, now: datetime) -> timedelta | None:
    """What is left of the delay at ``now``; None if the key may try (a key within its free
    failures always may, even if a concurrent attempt recorded one after ``now``)."""
    if failures < free:
        return None
    left = last + delay(failures, free) - now
    return left if left > timedelta(0) else None


class TooManyFailures(Exception):
    """The attempt's (account, address) pair must wait, or its address has failed too
    often; ``retry_after`` in whole seconds."""

    def __init__(self, left: timedelta) -> None:
        super().__init__(left)
        self.retry_after = max(1, math.ceil(left.total_seconds()))


@dataclass(frozen=True, slots=True)
class Keys:
    """What an attempt's failures count against: ``account`` (an e-mail, a user's code or
    password; None when the attempt names none) from ``address`` (a rate-limit key)."""

    account: str | None
    address: str

    @property
    def pair(self) -> str | None:
        return None if self.account is None else f"{self.account}|{self.address}"

    def budgets(self) -> dict[str, int]:
        """Each key counted, with its free failures."""
        pair = {} if self.pair is None else {self.pair: FREE_FAILURES}
        return {**pair, self.address: ADDRESS_FREE_FAILURES}


def keys(account: str | None, address: str | None) -> Keys:
    return Keys(account, address_key(address))


def longest_wait(
    recent: dict[str, tuple[int, datetime]],
    budgets: dict[str, int],
    now: datetime,
    after_failure: bool = False,
) -> timedelta | None:
    """The longest wait among the keys' ``recent`` (failures, last one's instant): before
    an attempt, of any key whose delay runs; after a failure, of the keys whose free
    failures it exceeded (the failure that uses up the last free one is a plain one)."""
    waits = [
        wait(n, last, budgets[key], now)
        for key, (n, last) in recent.items()
        if not after_failure or n > budgets[key]
    ]
    return max((w for w in waits if w is not None), default=None)


async def _recent(
    conn: AsyncConnection, budgets: dict[str, int], now: datetime
) -> dict[str, tuple[int, datetime]]:
    cap = max(budgets.values()) + 32  # enough to reach MAX_DELAY
    return await store.recent_failures(conn, list(budgets), now - MEMORY, cap)


async def counted_attempt(
    engine: AsyncEngine,
    keys: Keys,
    now: datetime,
    attempt: Callable[[AsyncConnection], Awaitable[T | None]],
) -> T | None:
    """Run ``attempt`` in a transaction, unless its pair must wait (``TooManyFailures``).

    A result clears the pair's failures. None is a failure, recorded against the pair and
    the address in a transaction of its own, after the attempt's, so that it stays although
    the request fails; past the free failures of either, ``TooManyFailures`` says how long
    to wait."""
    pair = keys.pair
    async with engine.begin() as conn:
        if pair is not None:
            budget = {pair: FREE_FAILURES}
            left = longest_wait(await _recent(conn, budget, now), budget, now)
            if left is not None:
                raise TooManyFailures(left)
        done = await attempt(conn)
        if done is not None and pair is not None:
            await store.forget_failures(conn, [pair])
    if done is not None:
        return done
    budgets = keys.budgets()
    async with engine.begin() as conn:
        await store.add_failures(conn, list(budgets), now, forget_before=now - MEMORY)
        left = longest_wait(await _recent(conn, budgets, now), budgets, now, after_failure=True)
    if left is not None:
        raise TooManyFailures(left)
    return None
