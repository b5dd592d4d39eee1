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


async def test_migrate_check_tells_whether_migrations_are_pending(pg_server: str) -> None:
    import asyncio
    import os
    import sys

    import asyncpg

    from tools.embedded_pg import ROOT

    name = f"m_{uuid.uuid4().hex[:12]}"
    url = await ensure_database(pg_server, name)
    env = {**os.environ, "DATABASE_URL": url}

    async def check(service: str) -> int:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", f"services.{service}", "migrate", "--check", env=env, cwd=ROOT
        )
        return await process.wait()

    try:
        assert await check("triage") == 3
        await asyncio.to_thread(upgrade, url, "triage@head")
        assert await check("triage") == 0
        assert await check("inbox") == 3
    finally:
        conn = await asyncpg.connect(with_database(pg_server, "postgres"))
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await conn.close()
