"""Posts the demo corpus through the ingest API, spaced out, as a live brand inbox would see it.

``created_at`` is set from each message's ``minutes_ago`` at the start of the first run. The
external ids are the corpus's own, so, as with a real platform, a message sent again is a
duplicate: the first ``make run`` fills the queue, later ones find it stored and say so.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

CORPUS = Path(__file__).with_name("messages.json")


def load_corpus() -> list[dict[str, Any]]:
    return list(json.loads(CORPUS.read_text(encoding="utf-8"))["messages"])


def to_ingest(item: dict[str, Any], started: datetime) -> dict[str, Any]:
    """One corpus item as an ingest-API message (the corpus's labels stay behind)."""
    message: dict[str, Any] = {
        "platform": item["platform"],
        "channel": item["channel"],
        "external_id": item["external_id"],
        "kind": item["kind"],
        "direction": item.get("direction") or "in",
        "author": item["author"],
        "text": item["text"],
        "created_at": (started - timedelta(minutes=item["minutes_ago"])).isoformat(),
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
    backlog: int = 60,
    interval: float = 1.5,
    stop: asyncio.Event | None = None,
) -> tuple[int, int]:
    """Send the first ``backlog`` messages at once, then one every ``interval`` seconds.

    Returns (stored, duplicates). When the first batch is all duplicates the corpus is
    already loaded, and the rest is not replayed.
    """
    started = datetime.now(UTC)
    corpus = [to_ingest(item, started) for item in load_corpus()]
    headers = {"Authorization": f"Bearer {token}"}
    stored = duplicates = 0
    async with aiohttp.ClientSession(headers=headers) as session:

        async def post(messages: list[dict[str, Any]]) -> None:
            nonlocal stored, duplicates
            async with session.post(ingest_url, json={"messages": messages}) as response:
                if response.status != 200:
                    raise RuntimeError(
                        f"ingest answered {response.status}: {await response.text()}"
                    )
                answer = await response.json()
            stored += answer["stored"]
            duplicates += answer["duplicates"]

        await post(corpus[:backlog])
        if stored == 0:
            return stored, duplicates
        for message in corpus[backlog:]:
            if stop is not None and stop.is_set():
                break
            await asyncio.sleep(interval)
            await post([message])
    return stored, duplicates
