"""Fixtures the integration tests share: the two services on the test's own database."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.world import Workspace, make_workspace, start_services


@pytest.fixture
async def services(aiohttp_client: Any, database_url: str) -> tuple[Any, Any]:
    """The inbox and triage (test clients), their background loops running."""
    return await start_services(aiohttp_client, database_url)


@pytest.fixture
async def desk(aiohttp_client: Any, database_url: str) -> tuple[Any, Any, Workspace]:
    """The inbox (no channel to poll: its loops stay off) and triage, and a workspace."""
    inbox, triage = await start_services(aiohttp_client, database_url, workers=False)
    return inbox, triage, await make_workspace(database_url)
