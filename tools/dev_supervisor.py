"""``make run``'s children: started together, each restarted alone when it dies, stopped in order.

A child that exits while the stack runs is started again after a back-off (1 s, doubling up
to 30 s; back to 1 s once it has run for a minute), with one line saying what stopped, why
(its exit, its last log line) and when it comes back; Postgres and the other children keep
running. Stopping is in groups (the demo platforms, then the services): SIGTERM, a grace
period, SIGKILL for what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from services.infra.worker import sleep_or_stop
from tools.dev_console import Console, last_words
from tools.service_process import ServiceProcess

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
STEADY_SECONDS = 60.0  # a child up this long starts its back-off afresh when it next dies
READY_SECONDS = 90.0
STOP_GRACE_SECONDS = 15.0

T = TypeVar("T")


class StartFailed(Exception):
    """A child could not start: its name and why, for the one error line."""


class Stopped(Exception):
    """A stop was asked for while waiting."""


async def unless_stopped(stop: asyncio.Event, work: Awaitable[T]) -> T:
    """``work``'s result, or ``Stopped`` (``work`` cancelled) if a stop is asked for first."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise Stopped


def how_it_ended(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit {code}"


@dataclass
class Child:
    """One supervised process and its restart history."""

    name: str
    process: ServiceProcess
    restarts: int = 0
    backoff: float = FIRST_BACKOFF
    since: float = 0.0  # loop time of its last start

    def why(self) -> str:
        code = self.process.process.returncode if self.process.process else None
        words = last_words(self.process.log) if self.process.log else None
        return how_it_ended(code) + (f": {words}" if words and code and code > 0 else "")


class Supervisor:
    """Starts the children, keeps them running until ``stop``, then stops them in order."""

    def __init__(self, console: Console, stop: asyncio.Event, groups: Sequence[Sequence[Child]]):
        self.console = console
        self.stop = stop
        self.groups = [list(group) for group in groups]

    @property
    def children(self) -> list[Child]:
        return [child for group in self.groups for child in group]

    async def start(self) -> None:
        """Start every child (in group order) and wait until all are ready, or say which
        did not start and why (``StartFailed``)."""
        loop = asyncio.get_running_loop()
        for child in self.children:
            await child.process.start(ready=False)
            child.since = loop.time()

        async def ready(child: Child) -> None:
            try:
                await child.process.wait_ready(READY_SECONDS)
            except (RuntimeError, TimeoutError) as exc:
                words = child.why() if not child.process.running else str(exc)
                raise StartFailed(f"{child.name} did not start ({words})") from None

        await asyncio.gather(*(ready(child) for child in self.children))

    async def keep_running(self) -> None:
        """Restart whichever child dies, alone, until ``stop``."""
        await asyncio.gather(*(self._keep(child) for child in self.children))

    async def _keep(self, child: Child) -> None:
        loop = asyncio.get_running_loop()
        while not self.stop.is_set():
            process = child.process.process
            assert process is not None
            with contextlib.suppress(Stopped):
                await unless_stopped(self.stop, process.wait())
            if self.stop.is_set():
                return
            if loop.time() - child.since >= STEADY_SECONDS:
                child.backoff = FIRST_BACKOFF
            child.restarts += 1
            self.console.say(
                f"↻ {child.name} stopped ({child.why()}); restart {child.restarts} in "
                f"{child.backoff:g} s, the rest keeps running"
            )
            await sleep_or_stop(self.stop, child.backoff)
            if self.stop.is_set():
                return
            child.backoff = min(child.backoff * 2, MAX_BACKOFF)
            child.since = loop.time()
            await child.process.start(ready=False)
            with contextlib.suppress(Stopped, RuntimeError, TimeoutError):
                await unless_stopped(self.stop, child.process.wait_ready(READY_SECONDS))
                self.console.say(
                    f"✓ {child.name} is back (restart {child.restarts}, ready in "
                    f"{loop.time() - child.since:.1f} s)"
                )

    async def stop_all(self) -> None:
        """Each group in turn: SIGTERM, the grace period, SIGKILL for what is left."""

        async def stop(child: Child) -> None:
            with contextlib.suppress(TimeoutError, ProcessLookupError):
                await child.process.stop(STOP_GRACE_SECONDS)

        for group in self.groups:
            await asyncio.gather(*(stop(child) for child in group))
