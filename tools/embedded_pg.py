"""A Postgres for development and tests: ``DATABASE_URL`` if set, else an embedded one.

The embedded server is the ``pgserver`` package (Postgres binaries from PyPI); its data stays
in a git-ignored folder of the project, so the demo's data survives a restart.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent


def start_embedded(folder: Path, *, fast: bool = False) -> Any:
    """Start (or join) the embedded server whose data lives in ``folder``.

    ``fast`` turns off durability (fsync) for throw-away test data.
    """
    import warnings

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    server = pgserver.get_server(folder, cleanup_mode=None)
    if fast:
        server.psql(
            "ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off;"
            " ALTER SYSTEM SET full_page_writes = off; SELECT pg_reload_conf();"
        )
    return server


def stop_embedded(server: Any) -> None:
    """Stop the embedded server cleanly (data kept).

    pgserver stops a server only when no other process it once served is listed, and a killed
    process stays listed; so stop it ourselves with its own ``pg_ctl``.
    """
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


def with_database(url: str, database: str) -> str:
    """The same server URL naming another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def server_url(
    folder: Path, env_var: str = "DATABASE_URL", fast: bool = False
) -> tuple[str, Any | None]:
    """The URL of a Postgres server to use, and the embedded server if one was started."""
    url = os.environ.get(env_var)
    if url:
        return url, None
    server = start_embedded(folder, fast=fast)
    return server.get_uri(), server


async def ensure_database(
    url: str, database: str, template: str | None = None, recreate: bool = False
) -> str:
    """Create ``database`` on the server of ``url`` if missing; return its URL."""
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if exists and recreate:
            await conn.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
            exists = False
        if not exists:
            suffix = f' TEMPLATE "{template}"' if template else ""
            await conn.execute(f'CREATE DATABASE "{database}"{suffix}')
    finally:
        await conn.close()
    return with_database(url, database)


def ensure_database_sync(url: str, database: str, **kwargs: Any) -> str:
    return asyncio.run(ensure_database(url, database, **kwargs))
