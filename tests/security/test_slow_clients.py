"""Slow clients cannot hold connections: a half-sent head or body is cut after its deadline
while other requests are answered (services/infra/serve.py, on a real socket).

Every wait here is on a condition (an answer, the connection's end) with a deadline; the
deadlines are generous so a loaded machine passes, and each cut is shown to come no sooner
than its timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress

import aiohttp
import orjson
import pytest
from aiohttp import web

from services.infra.http import errors_middleware, json_response, livez, read_body
from services.infra.serve import serving
from services.infra.settings import ServiceSettings

SETTINGS = ServiceSettings(
    host="127.0.0.1",
    port=0,
    header_timeout_seconds=1.0,
    body_timeout_seconds=1.5,
    keepalive_timeout_seconds=60.0,
)
DEADLINE = 30.0
"""How long a test waits for what must happen, whatever the machine's load."""
HALF_REQUESTS = 200


async def echo(request: web.Request) -> web.Response:
    return json_response({"bytes": len(await read_body(request, 10_000))})


def make_app() -> web.Application:
    app = web.Application(middlewares=[errors_middleware])
    app.router.add_get("/livez", livez)
    app.router.add_post("/echo", echo)
    return app


@pytest.fixture
async def port() -> AsyncIterator[int]:
    async with serving(make_app(), SETTINGS) as runner:
        yield runner.addresses[0][1]


@asynccontextmanager
async def connection(port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with suppress(ConnectionError):
            await writer.wait_closed()


async def ended(reader: asyncio.StreamReader) -> bytes:
    """Everything the server still sends, once it has closed the connection."""
    async with asyncio.timeout(DEADLINE):
        try:
            return await reader.read()
        except ConnectionResetError:
            return b""


async def answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One response's status and body (Content-Length framed, as aiohttp answers here)."""
    async with asyncio.timeout(DEADLINE):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:] if line)
        body = await reader.readexactly(int(headers.get("Content-Length", "0")))
    return int(lines[0].split()[1]), body


async def test_half_sent_heads_are_closed_while_others_are_answered(port: int) -> None:
    async with AsyncExitStack() as stack:
        opened = time.monotonic()
        half = [await stack.enter_async_context(connection(port)) for _ in range(HALF_REQUESTS)]
        for _, writer in half:
            writer.write(b"GET /livez HT")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/livez") as response,
        ):
            assert response.status == 200
        assert await asyncio.gather(*(ended(r) for r, _ in half)) == [b""] * HALF_REQUESTS
        assert time.monotonic() - opened >= SETTINGS.header_timeout_seconds


async def test_a_connection_that_sends_nothing_is_closed(port: int) -> None:
    opened = time.monotonic()
    async with connection(port) as (reader, _):
        assert await ended(reader) == b""
    assert time.monotonic() - opened >= SETTINGS.header_timeout_seconds


async def test_a_kept_alive_connection_gets_the_same_deadline_for_its_next_head(
    port: int,
) -> None:
    async with connection(port) as (reader, writer):
        for _ in range(3):
            writer.write(b"GET /livez HTTP/1.1\r\nHost: t\r\n\r\n")
            assert (await answer(reader))[0] == 200
        started = time.monotonic()
        writer.write(b"GET /livez HTTP/1.1\r\nHo")
        assert await ended(reader) == b""
    waited = time.monotonic() - started
    assert SETTINGS.header_timeout_seconds <= waited < SETTINGS.keepalive_timeout_seconds


async def test_an_idle_kept_alive_connection_is_closed() -> None:
    settings = SETTINGS.model_copy(
        update={"header_timeout_seconds": 60.0, "keepalive_timeout_seconds": 1.0}
    )
    async with serving(make_app(), settings) as runner:
        async with connection(runner.addresses[0][1]) as (reader, writer):
            writer.write(b"GET /livez HTTP/1.1\r\nHost: t\r\n\r\n")
            assert (await answer(reader))[0] == 200
            answered = time.monotonic()
            assert await ended(reader) == b""
        idle = time.monotonic() - answered
    assert settings.keepalive_timeout_seconds <= idle < settings.header_timeout_seconds


async def test_a_slow_body_is_answered_408_and_the_connection_closed(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    async with connection(port) as (reader, writer):
        # A body that arrives in pieces, but in time, is read whole.
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n\r\n{")
        await writer.drain()
        writer.write(b'"a":1}')
        assert await answer(reader) == (200, b'{"bytes":7}')

        started = time.monotonic()
        writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{")
        status, body = await answer(reader)
        assert status == 408 and orjson.loads(body)["title"] == "Request Timeout"
        assert time.monotonic() - started >= SETTINGS.body_timeout_seconds
        assert await ended(reader) == b""
    # The same after "100 Continue", which aiohttp sends before the handler reads.
    async with connection(port) as (reader, writer):
        writer.write(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n"
        )
        assert await answer(reader) == (100, b"")
        writer.write(b"{")
        assert (await answer(reader))[0] == 408
        assert await ended(reader) == b""
    assert [r.getMessage() for r in caplog.records] == []  # a slow client is not an error


async def test_a_body_left_unread_by_an_answer_is_not_an_error(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    """An answer given before the body is read (here 405) leaves the rest to aiohttp's
    lingering read; the body deadline passing meanwhile changes nothing."""
    caplog.set_level(logging.ERROR)
    async with connection(port) as (reader, writer):
        started = time.monotonic()
        writer.write(b"POST /livez HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{")
        assert (await answer(reader))[0] == 405
        assert await ended(reader) == b""
    assert time.monotonic() - started >= SETTINGS.body_timeout_seconds
    assert [r.getMessage() for r in caplog.records] == []


async def test_the_services_serve_without_an_access_log(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Query strings carry handshake tokens (Meta's hub.verify_token): no access log."""
    caplog.set_level(logging.DEBUG, logger="aiohttp.access")
    url = f"http://127.0.0.1:{port}/livez?hub.verify_token=handshake-secret"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
    assert [r for r in caplog.records if r.name.startswith("aiohttp.access")] == []
