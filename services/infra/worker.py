"""The one loop every background worker runs: a step, a rest, and back-off when it fails.

A worker (poller, delivery, consumer, scheduler, retention, incident detector, gauges) is a
``step`` that does one round of work and says how long to rest before the next one (0: go
on at once, there is more). A failing step never ends the worker: it is logged (unless the
database is briefly unreachable, which the probes already report) and retried after a
back-off that doubles up to a bound. With a ``Wakeup``, a NOTIFY cuts the rest short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.db import connect, describe_error, is_unavailable

log = logging.getLogger("ecoute.worker")

Step = Callable[[], Awaitable[float]]
R = TypeVar("R")
NO_WORKSPACE = uuid.UUID(int=0)
"""Below every workspace id: where a round of a ``Rotation`` starts."""


@dataclass(eq=False)
class Rotation:
    """Round-robin over the workspaces that have work, one workspace per claim.

    A claim that names one workspace is, on Citus, a query routed to one shard (where
    ``FOR UPDATE SKIP LOCKED`` works); serving the workspace after the last one served keeps
    a busy workspace from starving a quiet one, and a single busy workspace is served at every
    turn. ``next_after(w)`` says the first workspace above ``w`` with work (None: none);
    ``claim(w)`` does that workspace's work and returns what it did (falsy: nothing, e.g.
    another worker holds its rows), in which case the turn moves on to the next workspace.
    """

    last: uuid.UUID = NO_WORKSPACE

    async def turn(
        self,
        next_after: Callable[[uuid.UUID], Awaitable[uuid.UUID | None]],
        claim: Callable[[uuid.UUID], Awaitable[R]],
    ) -> R | None:
        """One claim in the next workspace with work; None when no workspace had any."""
        tried: set[uuid.UUID] = set()
        while True:
            workspace = await next_after(self.last)
            if workspace is None and self.last != NO_WORKSPACE:
                workspace = await next_after(NO_WORKSPACE)  # wrap around
            if workspace is None or workspace in tried:
                return None
            tried.add(workspace)
            self.last = workspace
            done = await claim(workspace)
            if done:
                return done


async def workspace_after(
    conn: AsyncConnection, statement: Executable, params: Mapping[str, Any]
) -> uuid.UUID | None:
    """What a ``Rotation``'s "first workspace above :after with work" statement finds (None:
    no workspace has any)."""
    found = await conn.scalar(statement, params)
    return None if found is None else uuid.UUID(str(found))


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


class Wakeup:
    """A LISTEN on one channel that wakes a sleeper early; the sleep bound is the fallback.

    The listening connection is a direct asyncpg one (LISTEN does not survive a transaction
    pooler: behind PgBouncer, ``database_url`` is the direct URL) and reconnects by itself;
    after each (re)connection it wakes the sleeper once, in case a NOTIFY was missed while it
    was away. A failure other than an unreachable database (a refused certificate, a wrong
    password) is logged once per run of failures.
    """

    def __init__(self, database_url: str, channel: str) -> None:
        self.database_url = database_url
        self.channel = channel
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, stop: asyncio.Event, seconds: float) -> bool:
        """Sleep up to ``seconds``, less if notified or stopped; then re-arm.

        True when woken (by a NOTIFY, or a new connection), not by the bound or ``stop``.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, seconds)):
                waiter = asyncio.create_task(self._event.wait())
                stopper = asyncio.create_task(stop.wait())
                try:
                    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                    stopper.cancel()
        woken = self._event.is_set()
        self._event.clear()
        return woken

    async def listen(self, stop: asyncio.Event) -> None:
        failing = False
        while not stop.is_set():
            conn: asyncpg.Connection | None = None
            try:
                conn = await connect(self.database_url)
                await conn.add_listener(self.channel, lambda *_: self._event.set())
                failing = False
                self._event.set()
                while not stop.is_set() and not conn.is_closed():
                    await sleep_or_stop(stop, 5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing and not is_unavailable(exc):
                    log.error(
                        "LISTEN %s failed; retrying every 2 s",
                        self.channel,
                        exc_info=exc,
                        extra={"component": "wakeup", **describe_error(exc)},
                    )
                failing = True
                await sleep_or_stop(stop, 2.0)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)


async def run_worker(
    name: str,
    step: Step,
    stop: asyncio.Event,
    *,
    wakeup: Wakeup | None = None,
    first_backoff: float = 0.5,
    max_backoff: float = 10.0,
) -> None:
    """Run ``step`` until ``stop`` is set; ``name`` names the worker in logs."""
    listener = asyncio.create_task(wakeup.listen(stop)) if wakeup is not None else None
    backoff = first_backoff
    try:
        while not stop.is_set():
            try:
                rest = await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_unavailable(exc):
                    log.error(
                        "%s failed; retrying in %.1f s",
                        name,
                        backoff,
                        exc_info=exc,
                        extra={"component": name, **describe_error(exc)},
                    )
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, max_backoff)
                continue
            backoff = first_backoff
            if rest <= 0:
                continue
            if wakeup is not None:
                await wakeup.wait(stop, rest)
            else:
                await sleep_or_stop(stop, rest)
    finally:
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
