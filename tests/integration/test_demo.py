"""The `make run` demo corpus goes through the real ingest API, once."""

from __future__ import annotations

from typing import Any

from demo.feed import feed, load_corpus
from services.inbox.app import create_app
from tests.support.world import inbox_settings, make_workspace


async def test_the_demo_corpus_is_stored_once_and_a_second_run_adds_nothing(
    aiohttp_client: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    inbox = await aiohttp_client(create_app(inbox_settings(database_url)))
    url = str(inbox.make_url("/v1/ingest"))
    corpus = load_corpus()
    assert await feed(url, ws.ingest_token, interval=0) == (len(corpus), 0)
    assert await feed(url, ws.ingest_token, interval=0) == (0, 60)
