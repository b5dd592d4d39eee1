"""Each service migrates its own branch on an empty database, and again is a no-op."""

from __future__ import annotations

import uuid

import pytest

from services.infra.migrate import upgrade
from tools.embedded_pg import ensure_database, with_database


@pytest.mark.parametrize("branch", ["inbox@head", "triage@head"])
async def test_a_service_migrates_an_empty_database_alone(pg_server: str, branch: str) -> None:
    import asyncio

    import asyncpg

    name = f"m_{uuid.uuid4().hex[:12]}"
    url = await ensure_database(pg_server, name)
    try:
        await asyncio.to_thread(upgrade, url, branch)
        await asyncio.to_thread(upgrade, url, branch)  # idempotent
        conn = await asyncpg.connect(url)
        schemas = {r[0] for r in await conn.fetch("SELECT nspname FROM pg_namespace")}
        await conn.close()
        assert {"events", branch.split("@")[0]} <= schemas
    finally:
        conn = await asyncpg.connect(with_database(pg_server, "postgres"))
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await conn.close()
