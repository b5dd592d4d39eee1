"""The connection pool: a connection the server dropped while it sat idle is replaced
before a request uses it, so the request never sees the dead connection."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from services.infra import db
from services.infra.db import create_engine


async def _backend_pid(engine: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_an_idle_connection_killed_by_the_server_is_replaced_before_use(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "IDLE_BEFORE_PING", 0.0)  # every pooled connection counts as idle
    engine, killer = create_engine(database_url, 1), create_engine(database_url, 1)
    try:
        dead = await _backend_pid(engine)
        async with killer.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dead})
        assert await _backend_pid(engine) != dead
    finally:
        await engine.dispose()
        await killer.dispose()


async def test_a_connection_in_steady_use_is_not_pinged(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The saving: no ping round trips while a connection is reused within the idle limit."""
    monkeypatch.setattr(db, "IDLE_BEFORE_PING", 3600.0)
    engine = create_engine(database_url, 1)
    pings: list[str] = []
    try:
        await _backend_pid(engine)
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            driver.add_query_logger(
                lambda record: pings.append(record.query) if record.query == ";" else None
            )
        for _ in range(5):
            await _backend_pid(engine)
        assert pings == []
        monkeypatch.setattr(db, "IDLE_BEFORE_PING", 0.0)
        await _backend_pid(engine)
        assert pings == [";"]
    finally:
        await engine.dispose()
