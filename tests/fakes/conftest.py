"""The fake platforms' shared fixtures: a hand-moved clock and the server of the module's
``state``."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from fakes.clock import ManualClock
from tests.fakes import T0, serve


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def client(aiohttp_client: Any, state: Any) -> TestClient[Any, Any]:
    return await serve(aiohttp_client, state)
