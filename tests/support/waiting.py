"""Waiting on a condition, the one way the tests do it.

The services work in the background, so a test polls for the state it expects until a
deadline. The deadline is in seconds of the clock, not a count of attempts, and generous:
on a loaded machine the state comes later, never wrongly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

PATIENCE = 30.0  # seconds a condition may take on a loaded machine
POLL = 0.05  # seconds between two looks at the condition (not a wait for the state itself)


async def wait_until(
    check: Callable[[], Awaitable[bool]],
    timeout: float = PATIENCE,
    what: str = "the condition",
    every: float = POLL,
) -> float:
    """Poll ``check`` until true; return the seconds it took (fail after ``timeout``)."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(every)
    return time.monotonic() - started


def wait_until_sync(
    check: Callable[[], bool],
    timeout: float = PATIENCE,
    what: str = "the condition",
    every: float = POLL,
) -> None:
    """``wait_until`` for code outside an event loop (a server started in a thread)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(every)
