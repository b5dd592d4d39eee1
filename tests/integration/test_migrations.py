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


SNAPSHOT = (
    "SELECT 'column', table_schema || '.' || table_name || '.' || column_name, "
    "concat_ws(' ', ordinal_position, data_type, is_nullable, column_default) "
    "FROM information_schema.columns WHERE table_schema IN ('events', 'inbox', 'triage') "
    "UNION ALL SELECT 'index', schemaname || '.' || indexname, indexdef FROM pg_indexes "
    "WHERE schemaname IN ('events', 'inbox', 'triage') "
    "UNION ALL SELECT 'constraint', conrelid::regclass::text || '.' || conname, "
    "pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE connamespace::regnamespace::text IN ('events', 'inbox', 'triage') "
    "UNION ALL SELECT 'schema', nspname, '' FROM pg_namespace "
    "WHERE nspname IN ('events', 'inbox', 'triage') ORDER BY 1, 2, 3"
)
# The order the branches can be applied in, one revision at a time (both depend on events).
BRANCHES = ("events", "inbox", "triage")


async def test_each_downgrade_gives_back_the_schema_its_upgrade_found(pg_server: str) -> None:
    """Downgrades are derived from the upgrades' changes: walking up one revision at a time
    and back down, the schema (and the event subscriptions) at each step are the same."""
    import asyncio

    import asyncpg
    from alembic import command
    from alembic.script import ScriptDirectory

    from services.infra.migrate import alembic_config

    name = f"m_{uuid.uuid4().hex[:12]}"
    url = await ensure_database(pg_server, name)
    config = alembic_config(url)
    revisions = ScriptDirectory.from_config(config).walk_revisions()
    labels = [label for r in revisions for label in r.branch_labels]
    walk = [branch for branch in BRANCHES for _ in range(labels.count(branch))]

    async def snapshot() -> list[tuple[str, ...]]:
        conn = await asyncpg.connect(url)
        try:
            rows = [tuple(r) for r in await conn.fetch(SNAPSHOT)]
            if await conn.fetchval("SELECT to_regclass('events.subscription')"):
                rows += [
                    tuple(r)
                    for r in await conn.fetch("SELECT * FROM events.subscription ORDER BY 1, 2")
                ]
            return rows
        finally:
            await conn.close()

    try:
        seen = [await snapshot()]
        for branch in walk:
            await asyncio.to_thread(command.upgrade, config, f"{branch}@+1")
            seen.append(await snapshot())
        for step, branch in reversed(list(enumerate(walk))):
            await asyncio.to_thread(command.downgrade, config, f"{branch}@-1")
            assert await snapshot() == seen[step], f"{branch} revision {step}"
    finally:
        conn = await asyncpg.connect(with_database(pg_server, "postgres"))
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await conn.close()
