"""Running an aiohttp app as a service process, with a clean stop on SIGTERM or Ctrl-C.

aiohttp bounds idle kept-alive connections but not a request that arrives slowly: a client
sending half a request line, or half a body, held its connection (and a handler) forever.
Connections here are ``_TimedRequestHandler``s, which add those two deadlines.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.streams import StreamReader

from services.infra.http import ProblemError
from services.infra.settings import ServiceSettings

log = logging.getLogger("ecoute.serve")


def tune_garbage_collector() -> None:
    """Fewer, cheaper collections: the objects made at start-up (modules, settings, routes)
    are frozen out of every later sweep, and the young generation is collected less often.
    Request-time allocations are short-lived; full sweeps of long-lived objects were the
    largest source of tail latency in the queue benchmark."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


async def _freeze_after_start(app: web.Application) -> None:
    """Freeze again once the start-up hooks have run: what they made (the engine, the
    triage model a worker loads) lives as long as the process and need not be swept."""
    gc.collect()
    gc.freeze()


class _TimedRequestHandler(web.RequestHandler):
    """aiohttp's connection with read deadlines: a request's head must arrive within
    ``header_timeout_seconds`` of the connection opening (of its first byte on a kept-alive
    connection), else the connection closes; its body within ``body_timeout_seconds`` of the
    head, else the handler's read raises a 408 problem and the connection closes after it.

    Three aiohttp internals are used, all pinned by tests/security/test_slow_clients.py:
    ``_waiter`` (pending while the connection waits for a complete head: aiohttp's own
    keep-alive check), ``_request_factory`` (called with each complete head) and
    ``_request_in_progress`` (the handler has not answered yet)."""

    def __init__(self, manager: web.Server, settings: ServiceSettings, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_seconds = settings.header_timeout_seconds
        self._body_seconds = settings.body_timeout_seconds
        self._head_deadline: float | None = None  # loop time; None once the head is in
        self._head_timer: asyncio.TimerHandle | None = None
        make_request = manager.request_factory

        def request_with_deadline(
            message: Any,
            payload: StreamReader,
            protocol: web.RequestHandler,
            writer: AbstractStreamWriter,
            task: asyncio.Task[None],
        ) -> web.BaseRequest:
            self._head_deadline = None
            self._expect_body(payload)
            return make_request(message, payload, protocol, writer, task)

        self._request_factory = request_with_deadline

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._expect_head()

    def data_received(self, data: bytes) -> None:
        if self._head_deadline is None and self._awaiting_head():
            self._expect_head()  # the first byte of the next request on this connection
        super().data_received(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _awaiting_head(self) -> bool:
        return self._waiter is not None and not self._waiter.done()

    def _expect_head(self) -> None:
        """Set the deadline; one timer per connection follows it (a timer per request cost
        more than a trivial request's handling), as aiohttp's keep-alive timer does."""
        loop = asyncio.get_running_loop()
        self._head_deadline = loop.time() + self._header_seconds
        if self._head_timer is None:
            self._head_timer = loop.call_at(self._head_deadline, self._head_overdue)

    def _head_overdue(self) -> None:
        self._head_timer = None
        deadline = self._head_deadline
        if deadline is None:
            return  # the head came in time
        loop = asyncio.get_running_loop()
        if loop.time() < deadline:  # a later request's head
            self._head_timer = loop.call_at(deadline, self._head_overdue)
        elif self._awaiting_head():
            self.force_close()
        else:
            self._head_deadline = None  # the head is in, queued behind a running request

    def _expect_body(self, payload: StreamReader) -> None:
        if payload.is_eof():
            return
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self._body_seconds, self._body_overdue, payload)
        payload.on_eof(timer.cancel)

    def _body_overdue(self, payload: StreamReader) -> None:
        if payload.is_eof() or not self._request_in_progress:
            return  # answered already: aiohttp's lingering read (10 s) bounds the rest
        self.close()  # no further request on this connection: the rest is never read
        payload.set_exception(
            ProblemError(
                408, "Request Timeout", f"The body did not arrive within {self._body_seconds} s."
            )
        )
        payload.feed_eof()  # nothing left to drain after the answer


class _TimedSite(web.BaseSite):
    """A TCP site whose connections are ``_TimedRequestHandler``s."""

    def __init__(self, runner: web.AppRunner, settings: ServiceSettings) -> None:
        super().__init__(runner)
        self._settings = settings

    @property
    def name(self) -> str:
        return f"http://{self._settings.host}:{self._settings.port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        settings = self._settings
        loop = asyncio.get_running_loop()

        def connection() -> _TimedRequestHandler:
            return _TimedRequestHandler(
                server,
                settings,
                loop=loop,
                keepalive_timeout=settings.keepalive_timeout_seconds,
                access_log=None,  # query strings carry handshake tokens (hub.verify_token)
            )

        self._server = await loop.create_server(
            connection, settings.host, settings.port, backlog=self._backlog
        )


@asynccontextmanager
async def serving(
    app: web.Application, settings: ServiceSettings, grace_seconds: float = 10.0
) -> AsyncIterator[web.AppRunner]:
    """``app`` served on ``settings.host``/``port`` (0: any free port, see
    ``runner.addresses``) for the block; then stop accepting, finish requests, close
    resources."""
    runner = web.AppRunner(app, shutdown_timeout=grace_seconds)
    await runner.setup()
    try:
        await _TimedSite(runner, settings).start()
        yield runner
    finally:
        await runner.cleanup()


async def _serve_until_stopped(
    app: web.Application, settings: ServiceSettings, grace_seconds: float
) -> None:
    async with serving(app, settings, grace_seconds):
        log.info("listening", extra={"host": settings.host, "port": settings.port})
        await run_until_stopped(asyncio.Event())


def run(app: web.Application, settings: ServiceSettings, grace_seconds: float = 10.0) -> None:
    """Serve until SIGINT/SIGTERM; then stop accepting, finish requests and close resources."""
    tune_garbage_collector()
    app.on_startup.append(_freeze_after_start)  # after the app's own hooks
    asyncio.run(_serve_until_stopped(app, settings, grace_seconds))


def add_service_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    serve: str,
    worker: str,
    migrate: str,
) -> None:
    """The commands every service has (``serve``, ``worker``, ``migrate [--check]``), with
    the service's own help; ``serve_or_work`` and ``migrate_command`` run them."""
    commands.add_parser("serve", help=serve)
    commands.add_parser("worker", help=worker)
    migration = commands.add_parser("migrate", help=migrate)
    migration.add_argument(
        "--check",
        action="store_true",
        help="apply nothing; exit 0 if up to date, 3 if migrations are pending",
    )


def serve_or_work(
    command: str,
    settings: ServiceSettings,
    create_app: Callable[..., web.Application],
    workers_setting: str,
) -> int:
    """Start a service's process: ``worker`` runs its background loops (``workers_setting``
    switched on) and no API; anything else serves the API. The same in every service."""
    worker = command == "worker"
    if worker:
        settings = settings.model_copy(update={workers_setting: True})
    run(create_app(settings, api=not worker), settings)
    return 0


async def run_until_stopped(stop: asyncio.Event) -> None:
    """Wait for SIGINT/SIGTERM (for worker-only processes)."""
    import signal

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
