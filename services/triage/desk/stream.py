"""``GET /v1/stream``: live desk updates as Server-Sent Events, resumable with Last-Event-ID.

Each event is one row of the change log (``id:`` is its id), so a browser that reconnects
(EventSource does by itself, sending ``Last-Event-ID``) gets every change it missed. One
LISTEN per process wakes every open stream; a keep-alive comment every 15 s lets proxies and
clients see the connection is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from services.infra.http import ENGINE_KEY, ProblemError
from services.infra.worker import Wakeup
from services.triage.access.auth import authenticate, still_authorised
from services.triage.news import store as changes

KEEPALIVE_SECONDS = 15.0
# An open stream re-checks its credentials this often: a revoked session stops receiving.
RECHECK_SECONDS = 5.0


class DeskNews:
    """Fans one LISTEN out to every open stream of this process."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.stop = asyncio.Event()
        self._streams: set[asyncio.Event] = set()

    def subscribe(self) -> asyncio.Event:
        event = asyncio.Event()
        self._streams.add(event)
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        self._streams.discard(event)

    async def run(self) -> None:
        wakeup = Wakeup(self.database_url, changes.WAKE_DESK)
        listener = asyncio.create_task(wakeup.listen(self.stop))
        try:
            while not self.stop.is_set():
                await wakeup.wait(self.stop, KEEPALIVE_SECONDS)
                for event in list(self._streams):
                    event.set()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            for event in list(self._streams):
                event.set()


NEWS_KEY = web.AppKey("desk_news", DeskNews)


def _resume_from(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.query.get("last_id")
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ProblemError(
            422,
            "Invalid Last-Event-ID",
            "Expected the id of an event.",
            errors=[{"pointer": "/headers/Last-Event-ID", "detail": "not an id"}],
        )
    return int(raw)


async def stream(request: web.Request) -> web.StreamResponse:
    caller = await authenticate(request)
    news = request.app[NEWS_KEY]
    engine = request.app[ENGINE_KEY]
    last = _resume_from(request)
    if last is None:  # a new client wants what happens from now on
        async with engine.connect() as conn:
            last = await changes.latest_id(conn, caller.workspace_id)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    await response.write(b"retry: 2000\n\n")
    wake = news.subscribe()
    seen: dict[int, datetime] = {}
    checked = datetime.now(UTC)
    try:
        while not news.stop.is_set():
            now = datetime.now(UTC)
            if (now - checked).total_seconds() >= RECHECK_SECONDS:
                if not await still_authorised(request, caller):
                    break  # the client reconnects, is refused (401) and signs out
                checked = now
            async with engine.connect() as conn:
                found = await changes.since(conn, caller.workspace_id, last, now)
            fresh = [c for c in found if c["id"] not in seen]
            for change in fresh:
                seen[change["id"]] = change["at"]
                last = max(last, change["id"])
                await response.write(_event(change))
            horizon = now - 2 * changes.LATE_COMMIT_MARGIN
            seen = {i: at for i, at in seen.items() if at > horizon}
            if not fresh:
                await response.write(b": keep-alive\n\n")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=RECHECK_SECONDS)
            wake.clear()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        news.unsubscribe(wake)
    return response


def _event(change: dict[str, Any]) -> bytes:
    data = orjson.dumps({"conversation_id": change["conversation_id"], "change": change["change"]})
    return b"id: %d\nevent: change\ndata: %s\n\n" % (change["id"], data)
