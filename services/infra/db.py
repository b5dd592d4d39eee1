"""The database engine, and telling "the database is unreachable" apart from real bugs."""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def sqlalchemy_url(url: str) -> str:
    """``postgresql://…`` as SQLAlchemy's asyncpg dialect wants it."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must start with postgresql://")


def asyncpg_dsn(url: str) -> str:
    """The same URL as plain asyncpg (LISTEN connections, COPY) wants it."""
    return "postgresql://" + sqlalchemy_url(url)[len("postgresql+asyncpg://") :]


# A pooled connection idle longer than this is pinged before use. SQLAlchemy's own
# ``pool_pre_ping`` pings on every checkout: three round trips (BEGIN, ";", ROLLBACK), which
# cost a busy desk read ~1.5 ms of its ~8 (measured). A connection in steady use needs no
# ping: if the server went away meanwhile, its error marks the whole pool stale.
IDLE_BEFORE_PING = 1.0


def create_engine(url: str, pool_size: int) -> AsyncEngine:
    """One pool per process, sized to the concurrency it serves (see CONVENTIONS)."""
    engine = create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=0,
        hide_parameters=True,  # parameters are message text and secrets: never in logs
        pool_timeout=10,
        pool_recycle=1800,
        connect_args={
            "timeout": 5,
            "command_timeout": 30,
            "server_settings": {"application_name": "ecoute"},
        },
    )
    event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle)
    event.listen(engine.sync_engine.pool, "checkin", _note_checkin)
    return engine


def _note_checkin(dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A connection unused for a while proves it is alive; a dead one is replaced (the pool
    retries the checkout on ``DisconnectionError``)."""
    since = record.info.get("checked_in_at")
    if since is not None and time.monotonic() - since < IDLE_BEFORE_PING:
        return
    try:
        dbapi_connection.ping()
    except Exception as error:
        raise sa_exc.DisconnectionError("stale pooled connection") from error


def database_name(url: str) -> str:
    """The database a URL names (for messages and scratch databases)."""
    return urlsplit(asyncpg_dsn(url)).path.lstrip("/") or "postgres"


def socket_dir(url: str) -> str | None:
    """The Unix-socket directory of a ``?host=/dir`` URL, if any."""
    hosts = parse_qs(urlsplit(url).query).get("host", [])
    return hosts[0] if hosts and hosts[0].startswith("/") else None


_UNREACHABLE = (
    ConnectionError,
    OSError,
    TimeoutError,
    socket.gaierror,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
)


def is_unavailable(exc: BaseException) -> bool:
    """True when the error means the database cannot be reached now (answer 503, retry)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa_exc.TimeoutError):  # pool exhausted or connect timeout
            return True
        if isinstance(current, _UNREACHABLE):
            return True
        current = current.__cause__ or current.__context__
    return False


def describe_error(exc: BaseException) -> dict[str, str]:
    """What a log line may say of a database error: its SQLSTATE and the server's message
    (never the statement's parameters), found anywhere in the cause chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str):
            message = str(current.args[0]) if current.args else type(current).__name__
            return {"sqlstate": sqlstate, "db_message": message[:300]}
        current = current.__cause__ or current.__context__
    return {}
