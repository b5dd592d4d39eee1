"""The ``cleanup_ctx`` generators every service app shares: its engine, its background jobs.

Both live and die with the app; the jobs stop before the engine is disposed (contexts close
in reverse order).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from services.infra.db import create_engine
from services.infra.http import ENGINE_KEY
from services.infra.settings import ServiceSettings

CleanupContext = Callable[[web.Application], AsyncIterator[None]]
S = TypeVar("S", bound=ServiceSettings)
Jobs = Callable[
    [web.Application, S, aiohttp.ClientSession, asyncio.Event], list[Coroutine[Any, Any, None]]
]


def database_context(settings: ServiceSettings) -> CleanupContext:
    """The process's one engine (``ENGINE_KEY``), disposed at shutdown."""

    async def database(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database_url.get_secret_value(),
            settings.db_pool_size,
            pgbouncer=settings.database_pgbouncer,
        )
        app[ENGINE_KEY] = engine
        yield
        await engine.dispose()

    return database


def workers_context(jobs: Jobs[S], settings: S, stop_seconds: float = 10) -> CleanupContext:
    """Run ``jobs(app, settings, session, stop)`` as tasks until shutdown sets ``stop``;
    each then has ``stop_seconds`` to finish, and the shared HTTP session closes last."""

    async def workers(app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        session = aiohttp.ClientSession()
        tasks = [asyncio.create_task(job) for job in jobs(app, settings, session, stop)]
        yield
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=stop_seconds)
        await session.close()

    return workers
