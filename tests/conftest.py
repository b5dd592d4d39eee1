"""Test harness: one real Postgres per run, a migrated template, a fresh database per test.

``TEST_DATABASE_URL`` points at a server to use; otherwise an embedded one (pgserver) starts
with its data in ``.pgdata-test/``. Each test that asks for ``database_url`` gets its own
database cloned from the template (about 40 ms), so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.embedded_pg import ROOT, ensure_database, ensure_database_sync, server_url, with_database

# One template per test run, so two runs on the same server never drop each other's.
TEMPLATE = f"ecoute_test_template_{os.getpid()}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    url, _server = server_url(ROOT / ".pgdata-test", env_var="TEST_DATABASE_URL", fast=True)
    yield url


@pytest.fixture(scope="session")
def template_url(pg_server: str) -> Iterator[str]:
    from services.infra.migrate import upgrade

    url = ensure_database_sync(pg_server, TEMPLATE, recreate=True)
    upgrade(url, "heads")
    yield url
    _drop_sync(pg_server, TEMPLATE)


def _drop_sync(server_url: str, name: str) -> None:
    import asyncio

    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(with_database(server_url, "postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.fixture
async def database_url(pg_server: str, template_url: str) -> AsyncIterator[str]:
    import asyncpg

    name = f"t_{uuid.uuid4().hex[:16]}"
    url = await ensure_database(pg_server, name, template=TEMPLATE)
    yield url
    conn = await asyncpg.connect(with_database(pg_server, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's database (a few connections), disposed after the test."""
    from services.infra.db import create_engine

    made = create_engine(database_url, 5)
    yield made
    await made.dispose()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: a missing tool must not pass silently."""
    if not os.environ.get("CI"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        reporter.write_line(f"CI: {skipped} test(s) skipped; skips are failures in CI", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
