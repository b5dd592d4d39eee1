"""The database engine, and telling "the database is unreachable" apart from real bugs.

``DATABASE_URL`` follows libpq's conventions (``sslmode``, ``sslrootcert``, several
``host:port`` pairs with ``target_session_attrs``…): one function, ``connect``, turns it into
an asyncpg connection for both the pooled engine and the LISTEN connections.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import asyncpg
from sqlalchemy import Row, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

_SCHEMES = ("postgresql+asyncpg://", "postgresql://", "postgres://")

# libpq parameters that asyncpg's own DSN parser honours as libpq does, and those it passes
# to the server at start-up as libpq does (application_name, options).
_LIBPQ_PARAMETERS = frozenset(
    {
        "host",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "service",
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslpassword",
        "sslcrl",
        "sslnegotiation",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "target_session_attrs",
        "krbsrvname",
        "gsslib",
        "application_name",
        "options",
        "connect_timeout",  # translated: asyncpg's ``timeout``
    }
)

# Seconds to open a connection (TCP, TLS, authentication), unless the URL's
# ``connect_timeout`` says otherwise.
CONNECT_TIMEOUT = 5.0


class DatabaseTLSError(Exception):
    """The database server's TLS certificate failed verification.

    A configuration error (or an impostor), never a passing outage: it is logged and shown,
    not retried quietly like an unreachable database.
    """


def asyncpg_dsn(url: str) -> str:
    """``url`` as ``asyncpg.connect`` takes it: a ``postgresql://`` URL with only the libpq
    parameters asyncpg honours (``connect_timeout`` is ``connect``'s business).

    Raises ``ValueError`` naming a parameter libpq would not accept, so a mistyped or
    driver-specific one (``ssl=``, ``prepared_statement_cache_size=``) stops the service at
    start-up instead of reaching the server as a setting or the driver as a keyword.
    """
    base, params = _split(url)
    kept = [(key, value) for key, value in params if key != "connect_timeout"]
    return "postgresql://" + base + ("?" + urlencode(kept) if kept else "")


def _split(url: str) -> tuple[str, list[tuple[str, str]]]:
    """The part of ``url`` after the scheme and before ``?``, and its query parameters."""
    for scheme in _SCHEMES:
        if url.startswith(scheme):
            base, _, query = url[len(scheme) :].partition("?")
            break
    else:
        raise ValueError("DATABASE_URL must start with postgresql:// (or postgres://)")
    params = parse_qsl(query.partition("#")[0], keep_blank_values=True)
    unknown = sorted({key for key, _ in params} - _LIBPQ_PARAMETERS)
    if unknown:
        # Only a name is repeated: an odd key may be a password cut at an unescaped "?".
        named = [key if re.fullmatch(r"[a-z_]{1,40}", key) else "(malformed)" for key in unknown]
        raise ValueError(
            f"DATABASE_URL: unsupported parameter(s) {', '.join(named)}; libpq's are"
            f" supported: {', '.join(sorted(_LIBPQ_PARAMETERS))}"
        )
    return base.partition("#")[0], params


def _connect_timeout(params: list[tuple[str, str]]) -> float | None:
    """libpq's ``connect_timeout`` (seconds; zero or less: no limit), else the default."""
    values = [value for key, value in params if key == "connect_timeout"]
    if not values:
        return CONNECT_TIMEOUT
    try:
        seconds = float(values[-1])
    except ValueError:
        raise ValueError("DATABASE_URL: connect_timeout must be a number of seconds") from None
    return seconds if seconds > 0 else None


async def connect(url: str, *, pgbouncer: bool = False, **options: Any) -> asyncpg.Connection:
    """A direct asyncpg connection to the database of ``url`` (libpq conventions).

    ``pgbouncer``: the URL goes through PgBouncer in transaction mode, so asyncpg keeps no
    statement cache (a named statement lives on one server connection, and the next
    transaction may get another). ``options`` are asyncpg's (``command_timeout``…).
    """
    _, params = _split(url)
    has_name = any(key == "application_name" for key, _ in params)
    settings = {} if has_name else {"application_name": "ecoute"}
    if pgbouncer:
        options["statement_cache_size"] = 0
    try:
        return await asyncpg.connect(
            asyncpg_dsn(url),
            timeout=_connect_timeout(params),
            server_settings=settings,
            **options,
        )
    except ssl.SSLCertVerificationError as error:
        raise DatabaseTLSError(_tls_failure(params, error)) from error


def _tls_failure(params: list[tuple[str, str]], error: ssl.SSLCertVerificationError) -> str:
    """What an operator needs to fix a certificate the client refused."""
    given = dict(params)
    mode = given.get("sslmode", "prefer")
    root = given.get("sslrootcert", "~/.postgresql/root.crt")
    why = (error.verify_message or str(error.reason)).rstrip(".")
    return (
        f"TLS certificate verification of the database server failed (sslmode={mode},"
        f" sslrootcert={root}): {why}. Check that sslrootcert"
        " is the CA that signed the server's certificate and, for verify-full, that the host"
        " name in DATABASE_URL is one the certificate names."
    )


# A pooled connection idle longer than this is pinged before use. SQLAlchemy's own
# ``pool_pre_ping`` pings on every checkout: three round trips (BEGIN, ";", ROLLBACK), which
# cost a busy desk read ~1.5 ms of its ~8 (measured). A connection in steady use needs no
# ping: if the server went away meanwhile, its error marks the whole pool stale.
IDLE_BEFORE_PING = 1.0

# Behind PgBouncer in transaction mode: no prepared-statement cache, and every statement the
# protocol's unnamed one, which the next statement replaces within the same transaction. So
# no name clashes with another client's on a shared server connection, and none stays
# behind. (SQLAlchemy's docs suggest unique names instead; measured here, those pile up on
# the server connections: asyncpg closes them later, in a transaction that may run on
# another one.)
BEHIND_PGBOUNCER = "ecoute_behind_pgbouncer"  # an engine's execution option
_PGBOUNCER_STATEMENTS: dict[str, Any] = {
    "prepared_statement_cache_size": 0,
    "prepared_statement_name_func": lambda: "",
}


def create_engine(
    url: str, pool_size: int, *, pgbouncer: bool = False, command_timeout: float | None = 30
) -> AsyncEngine:
    """One pool per process, sized to the concurrency it serves (see CONVENTIONS).

    Connections come from ``connect`` (the URL is checked here, at start-up); ``pgbouncer``
    when ``url`` goes through PgBouncer in transaction mode.
    """
    asyncpg_dsn(url)
    statements = _PGBOUNCER_STATEMENTS if pgbouncer else {}

    def creator() -> Any:
        # What create_async_engine(async_creator=…) does, plus the dialect's statement
        # arguments, which async_creator cannot pass (SQLAlchemy's own advice in its source).
        return engine.sync_engine.dialect.loaded_dbapi.connect(
            async_creator_fn=lambda: connect(
                url, pgbouncer=pgbouncer, command_timeout=command_timeout
            ),
            **statements,
        )

    engine = create_async_engine(
        "postgresql+asyncpg://",
        creator=creator,
        pool_size=pool_size,
        max_overflow=0,
        hide_parameters=True,  # parameters are message text and secrets: never in logs
        pool_timeout=10,
        pool_recycle=1800,
    )
    if pgbouncer:
        engine.sync_engine.update_execution_options(**{BEHIND_PGBOUNCER: True})
    event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle)
    event.listen(engine.sync_engine.pool, "checkin", _note_checkin)
    return engine


@contextlib.asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection on which each statement commits on its own: no BEGIN before the
    first and no ROLLBACK when it goes back to the pool. For a request that reads with one
    statement (or needs no common snapshot): a queue read took three round trips, now one.
    Behind PgBouncer (``create_engine(pgbouncer=True)``) it stays a transaction.
    """
    async with engine.connect() as conn:
        # Behind PgBouncer in transaction mode a statement is prepared and run unnamed, which
        # holds only inside a transaction (the server connection may change between them).
        if not engine.sync_engine.get_execution_options().get(BEHIND_PGBOUNCER):
            await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


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


# The stores' written-out statements, run the one way: SQL text and its named parameters in,
# rows out. The statements stay in each area's store.py; only the ceremony lives here.


async def first_row(conn: AsyncConnection, sql: str, params: Mapping[str, Any]) -> Row[Any] | None:
    """The first row ``sql`` returns (a lookup, an ``INSERT … RETURNING``), or None."""
    return (await conn.execute(text(sql), params)).first()


async def returns_row(conn: AsyncConnection, sql: str, params: Mapping[str, Any]) -> bool:
    """Whether ``sql`` returned a row: "was there such a thing?" for an existence check or
    an ``UPDATE … RETURNING`` that matched."""
    return await first_row(conn, sql, params) is not None


async def all_rows(
    conn: AsyncConnection, sql: str, params: Mapping[str, Any]
) -> Sequence[Row[Any]]:
    """Every row ``sql`` returns."""
    return (await conn.execute(text(sql), params)).all()


async def scalar_one(conn: AsyncConnection, sql: str, params: Mapping[str, Any]) -> Any:
    """The single value of the single row ``sql`` returns (an error if there is none)."""
    return (await conn.execute(text(sql), params)).scalar_one()


async def row_count(conn: AsyncConnection, sql: str, params: Mapping[str, Any]) -> int:
    """How many rows ``sql`` (an ``UPDATE`` or ``DELETE``) touched."""
    return int((await conn.execute(text(sql), params)).rowcount)


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
        if isinstance(current, DatabaseTLSError):  # its cause is an OSError, but no outage
            return False
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
