"""Posts the demo corpus through the ingest API, spaced out, as a live brand inbox would see it.

The corpus has two kinds of messages. Most are history, back-dated by their ``minutes_ago``
from the start of the first run: the first ``backlog`` of them arrive at once, the others one
every ``interval`` seconds. A few are *live*: written ``live_seconds`` after the start and
dated when written, so what they show happens in front of you (the Lyon fibre outage becoming
an incident, a P1 clock going at risk then breached, a pile-on). ``timeline`` is that schedule,
for this feeder and for ``demo.platforms`` alike.

The external ids are the corpus's own, so, as with a real platform, a message sent again is a
duplicate: the first ``make run`` fills the queue, later ones find it stored and say so.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

CORPUS = Path(__file__).with_name("messages.json")
BACKLOG = 60
INTERVAL = 1.5
LIVE = "live_seconds"


def load_corpus() -> list[dict[str, Any]]:
    return list(json.loads(CORPUS.read_text(encoding="utf-8"))["messages"])


def timeline(
    corpus: Sequence[dict[str, Any]], backlog: int = BACKLOG, interval: float = INTERVAL
) -> list[tuple[float, dict[str, Any]]]:
    """(seconds after the start, item) in arrival order.

    History: the first ``backlog`` items at 0, the others one every ``interval``. Live items
    at their ``live_seconds``, scaled like the history (``interval / INTERVAL``), so a faster
    replay (a test's ``interval=0``) keeps them in their place. Ties keep the corpus's order.
    """
    scale = interval / INTERVAL
    arrivals: list[tuple[float, dict[str, Any]]] = []
    history = 0
    for item in corpus:
        if LIVE in item:
            arrivals.append((float(item[LIVE]) * scale, item))
        else:
            arrivals.append((max(0, history - backlog + 1) * interval, item))
            history += 1
    return sorted(arrivals, key=lambda arrival: arrival[0])


def written_at(item: dict[str, Any], started: datetime, now: datetime) -> datetime:
    """When a corpus item was written: back-dated from the start, or now for a live one."""
    if LIVE in item:
        return now
    return started - timedelta(minutes=item["minutes_ago"])


def to_ingest(item: dict[str, Any], at: datetime) -> dict[str, Any]:
    """One corpus item as an ingest-API message written at ``at`` (the labels stay behind)."""
    message: dict[str, Any] = {
        "platform": item["platform"],
        "channel": item["channel"],
        "external_id": item["external_id"],
        "kind": item["kind"],
        "direction": item.get("direction") or "in",
        "author": item["author"],
        "text": item["text"],
        "created_at": at.isoformat(),
    }
    if item.get("in_reply_to"):
        message["in_reply_to"] = item["in_reply_to"]
    if item.get("thread_id"):
        message["thread_id"] = item["thread_id"]
    return message


async def feed(
    ingest_url: str,
    token: str,
    *,
    backlog: int = BACKLOG,
    interval: float = INTERVAL,
    stop: asyncio.Event | None = None,
) -> tuple[int, int]:
    """Send the corpus on its ``timeline``: the first ``backlog`` at once, the rest when due.

    Returns (stored, duplicates). When the first batch is all duplicates the corpus is
    already loaded, and the rest is not replayed.
    """
    loop = asyncio.get_running_loop()
    origin, started = loop.time(), datetime.now(UTC)
    arrivals = timeline(load_corpus(), backlog, interval)
    first = [item for _, item in arrivals[:backlog]]
    headers = {"Authorization": f"Bearer {token}"}
    stored = duplicates = 0
    async with aiohttp.ClientSession(headers=headers) as session:

        async def post(items: list[dict[str, Any]]) -> None:
            nonlocal stored, duplicates
            now = datetime.now(UTC)
            messages = [to_ingest(item, written_at(item, started, now)) for item in items]
            async with session.post(ingest_url, json={"messages": messages}) as response:
                if response.status != 200:
                    raise RuntimeError(
                        f"ingest answered {response.status}: {await response.text()}"
                    )
                answer = await response.json()
            stored += answer["stored"]
            duplicates += answer["duplicates"]

        await post(first)
        if stored == 0:
            return stored, duplicates
        for due, item in arrivals[len(first) :]:
            if stop is not None and stop.is_set():
                break
            await asyncio.sleep(max(0.0, origin + due - loop.time()))
            await post([item])
    return stored, duplicates
