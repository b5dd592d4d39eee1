"""``DATABASE_URL`` as a managed Postgres hands it out, against a real Postgres that speaks
only TLS (its certificate authority made by the test), and PgBouncer in transaction mode.

The pooled connections (the engine) and the LISTEN connections (``Wakeup``) are both checked:
they share one ``connect``, and each must honour ``sslmode``, ``sslrootcert``, several hosts
and ``target_session_attrs``.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.inbox.app import create_app as create_inbox
from services.infra.db import (
    DatabaseTLSError,
    autocommit,
    connect,
    create_engine,
    is_unavailable,
)
from services.infra.events import wake_channel
from services.infra.migrate import upgrade
from services.infra.worker import Wakeup
from services.triage.app import CONSUMER_NAME
from services.triage.app import create_app as create_triage
from tests.support.tls_postgres import PgBouncer, TlsPostgres, postgres_with_tls
from tests.support.waiting import wait_until
from tests.support.world import bearer, inbox_settings, make_workspace, message, triage_settings

CHANNEL = "ecoute_tls_test"
BIN = postgres_with_tls()
NO_TLS_POSTGRES = "no Postgres built with OpenSSL: apt-get install postgresql (make system-deps)"


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TlsPostgres]:
    if BIN is None:
        pytest.fail(NO_TLS_POSTGRES)  # a missing tool fails: make test installs it
    server = TlsPostgres(BIN)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def bouncer(tls_server: TlsPostgres) -> Iterator[PgBouncer]:
    """A fresh PgBouncer per test: which server connections exist is part of the test."""
    executable = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if executable is None:
        pytest.fail("no pgbouncer: apt-get install pgbouncer (make system-deps)")
    bouncer = PgBouncer(tls_server, executable)
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture
async def engines() -> AsyncIterator[list[AsyncEngine]]:
    """Engines a test makes; disposed whatever happens."""
    made: list[AsyncEngine] = []
    yield made
    for engine in made:
        await engine.dispose()


async def _tls_of_this_connection(engine: AsyncEngine) -> tuple[bool, int]:
    """(encrypted?, the server's port) as the server sees the engine's connection."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT ssl, inet_server_port() FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            )
        ).one()
    return bool(row[0]), int(row[1])


async def _listener_hears_a_notify(listen_url: str, engine: AsyncEngine) -> bool:
    """Whether a ``Wakeup`` on ``listen_url`` connects and a NOTIFY sent through ``engine``
    wakes it; returns whether the listening connection is encrypted."""
    stop = asyncio.Event()
    wakeup = Wakeup(listen_url, CHANNEL)
    listening = asyncio.create_task(wakeup.listen(stop))
    try:
        # Each (re)connection wakes the sleeper once: this is the connection.
        assert await wakeup.wait(stop, 60), "the listener never connected"
        async with engine.begin() as conn:
            encrypted = (
                await conn.execute(
                    text(
                        "SELECT bool_and(s.ssl) FROM pg_stat_activity a"
                        " JOIN pg_stat_ssl s USING (pid) WHERE a.query = :listen"
                    ),
                    {"listen": f'LISTEN "{CHANNEL}"'},
                )
            ).scalar_one()
            await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
        assert await wakeup.wait(stop, 60), "the NOTIFY did not wake the listener"
    finally:
        stop.set()
        await listening
    return bool(encrypted)


async def test_verify_full_with_the_right_ca_serves_the_pool_and_the_listener(
    tls_server: TlsPostgres, engines: list[AsyncEngine]
) -> None:
    url = tls_server.verified_url()
    engine = create_engine(url, 2)
    engines.append(engine)
    assert await _tls_of_this_connection(engine) == (True, tls_server.port)
    assert await _listener_hears_a_notify(url, engine), "the LISTEN connection is not encrypted"


async def test_a_wrong_ca_fails_with_an_error_that_names_certificate_verification(
    tls_server: TlsPostgres, engines: list[AsyncEngine], caplog: pytest.LogCaptureFixture
) -> None:
    wrong = str(tls_server.wrong_authority.path)
    url = tls_server.url(sslmode="verify-full", sslrootcert=wrong)
    engine = create_engine(url, 1)
    engines.append(engine)
    with pytest.raises(DatabaseTLSError) as raised:
        await _tls_of_this_connection(engine)
    message = str(raised.value)
    assert message.startswith("TLS certificate verification of the database server failed")
    assert f"sslrootcert={wrong}" in message
    assert "unable to get local issuer certificate" in message  # OpenSSL's reason
    assert not is_unavailable(raised.value), "a refused certificate is no passing outage"

    # The LISTEN path refuses the same way, and says so in the log (once, not every retry).
    with pytest.raises(DatabaseTLSError):
        await connect(url)
    caplog.set_level(logging.ERROR, logger="ecoute.worker")
    stop = asyncio.Event()
    listening = asyncio.create_task(Wakeup(url, CHANNEL).listen(stop))

    try:
        await wait_until(_logged_tls_failure(caplog), 60, "the listener logged the refusal", 0.05)
    finally:
        stop.set()
        await listening


def _logged_tls_failure(caplog: pytest.LogCaptureFixture) -> Any:
    async def check() -> bool:
        return any(
            record.exc_info is not None and isinstance(record.exc_info[1], DatabaseTLSError)
            for record in caplog.records
        )

    return check


async def test_verify_full_refuses_a_host_name_the_certificate_does_not_name(
    tls_server: TlsPostgres, engines: list[AsyncEngine]
) -> None:
    """The certificate names ``localhost``; 127.0.0.1 is the same server under another name,
    which verify-ca accepts and verify-full does not."""
    root = str(tls_server.authority.path)
    full = create_engine(
        tls_server.url(host="127.0.0.1", sslmode="verify-full", sslrootcert=root), 1
    )
    ca = create_engine(tls_server.url(host="127.0.0.1", sslmode="verify-ca", sslrootcert=root), 1)
    engines.extend([full, ca])
    with pytest.raises(
        DatabaseTLSError, match=r"mismatch, certificate is not valid for '127\.0\.0\.1'"
    ):
        await _tls_of_this_connection(full)
    assert await _tls_of_this_connection(ca) == (True, tls_server.port)


async def test_sslmode_disable_against_a_server_that_requires_tls_fails_clearly(
    tls_server: TlsPostgres, engines: list[AsyncEngine]
) -> None:
    plain = create_engine(tls_server.url(sslmode="disable"), 1)
    required = create_engine(tls_server.url(sslmode="require"), 1)  # encrypted, unverified
    default = create_engine(tls_server.url(), 1)  # libpq's default, prefer: TLS if offered
    engines.extend([plain, required, default])
    with pytest.raises(DBAPIError, match=r"no pg_hba\.conf entry .* no encryption"):
        await _tls_of_this_connection(plain)
    with pytest.raises(Exception, match=r"no encryption"):
        await connect(tls_server.url(sslmode="disable"))
    assert await _tls_of_this_connection(required) == (True, tls_server.port)
    assert await _tls_of_this_connection(default) == (True, tls_server.port)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port where a connection is refused at once (bound, never listening)."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield int(bound.getsockname()[1])


async def test_a_multi_host_url_passes_over_a_host_that_is_down(
    tls_server: TlsPostgres, closed_port: int, engines: list[AsyncEngine]
) -> None:
    url = (
        f"postgresql://postgres@127.0.0.1:{closed_port},localhost:{tls_server.port}/postgres"
        f"?target_session_attrs=read-write&sslmode=verify-full"
        f"&sslrootcert={tls_server.authority.path}"
    )
    engine = create_engine(url, 1)
    engines.append(engine)
    assert await _tls_of_this_connection(engine) == (True, tls_server.port)
    assert await _listener_hears_a_notify(url, engine)


@pytest.fixture(scope="module")
def read_only_server(tls_server: TlsPostgres) -> Iterator[TlsPostgres]:
    """A second server, as a standby looks to a client: it accepts no writes."""
    assert BIN is not None
    server = TlsPostgres(BIN, tls_server.authority, "default_transaction_read_only = on")
    try:
        server.start()
        yield server
    finally:
        server.stop()


async def test_target_session_attrs_read_write_passes_over_a_read_only_host(
    tls_server: TlsPostgres, read_only_server: TlsPostgres, engines: list[AsyncEngine]
) -> None:
    hosts = f"localhost:{read_only_server.port},localhost:{tls_server.port}"
    query = f"sslmode=verify-full&sslrootcert={tls_server.authority.path}"
    any_host = create_engine(f"postgresql://postgres@{hosts}/postgres?{query}", 1)
    writable = f"postgresql://postgres@{hosts}/postgres?{query}&target_session_attrs=read-write"
    engine = create_engine(writable, 1)
    engines.extend([any_host, engine])
    assert await _tls_of_this_connection(any_host) == (True, read_only_server.port)
    assert await _tls_of_this_connection(engine) == (True, tls_server.port)
    assert await _listener_hears_a_notify(writable, engine)


async def _two_transactions(bouncer: PgBouncer, *, pgbouncer: bool) -> tuple[int, int, int]:
    """The same statement in two transactions of one pooled connection, the second on
    another server connection because someone holds the first: the backend pid of each,
    and how many prepared statements the engine left on the first server connection."""
    engine = create_engine(bouncer.url(), 1, pgbouncer=pgbouncer)
    statement = text("SELECT pg_backend_pid() + CAST(:zero AS int)")
    holder = await connect(bouncer.url(), pgbouncer=True)
    try:
        async with engine.begin() as conn:
            first = (await conn.execute(statement, {"zero": 0})).scalar_one()
        async with holder.transaction():
            await holder.execute("SELECT 1")  # takes the one server connection there is
            async with engine.begin() as conn:
                second = (await conn.execute(statement, {"zero": 0})).scalar_one()
            left = await holder.fetchval("SELECT count(*) FROM pg_prepared_statements")
    finally:
        await holder.close()
        await engine.dispose()
    return int(first), int(second), int(left)


async def test_behind_pgbouncer_a_cached_statement_meets_a_server_connection_without_it(
    bouncer: PgBouncer,
) -> None:
    """Why the switch exists: without it a prepared statement is reused on a server
    connection that never saw it."""
    with pytest.raises(DBAPIError, match=r"prepared statement .* does not exist"):
        await _two_transactions(bouncer, pgbouncer=False)


async def test_behind_pgbouncer_in_transaction_mode_statements_survive_a_new_server_connection(
    bouncer: PgBouncer,
) -> None:
    """With the switch every transaction prepares its own statements, and leaves none."""
    first, second, left = await _two_transactions(bouncer, pgbouncer=True)
    assert first != second, "both transactions ran on one server connection: no proof"
    assert left == 0, "prepared statements pile up on PgBouncer's server connections"


async def test_autocommit_reads_run_alone_but_behind_pgbouncer_in_a_transaction(
    tls_server: TlsPostgres, bouncer: PgBouncer
) -> None:
    """A hot read's connection skips BEGIN and ROLLBACK (each statement its own
    transaction); behind PgBouncer in transaction mode it keeps them, because a statement
    prepared unnamed must run on the server connection that prepared it."""
    in_a_transaction = {}
    for url, pgbouncer in ((tls_server.verified_url(), False), (bouncer.url(), True)):
        engine = create_engine(url, 1, pgbouncer=pgbouncer)
        try:
            async with autocommit(engine) as conn:
                xid = text("SELECT txid_current()")  # one per transaction
                first, second = [(await conn.execute(xid)).scalar_one() for _ in range(2)]
                in_a_transaction[pgbouncer] = first == second
        finally:
            await engine.dispose()
    assert in_a_transaction == {False: False, True: True}


async def test_behind_pgbouncer_listen_uses_the_direct_url(
    tls_server: TlsPostgres, bouncer: PgBouncer, engines: list[AsyncEngine]
) -> None:
    engine = create_engine(bouncer.url(), 2, pgbouncer=True)
    engines.append(engine)
    assert await _listener_hears_a_notify(tls_server.verified_url(), engine)


async def _ready(service: Any) -> bool:
    return bool((await service.get("/readyz")).status == 200)


async def _consumer_listens_over_tls(direct_url: str) -> bool:
    """Whether triage's consumer LISTENs on a TLS connection: the direct URL, not PgBouncer
    (whose own connections to this server go through its Unix socket)."""
    conn = await connect(direct_url)
    try:
        return bool(
            await conn.fetchval(
                "SELECT coalesce(bool_or(s.ssl), false) FROM pg_stat_activity a"
                " JOIN pg_stat_ssl s USING (pid) WHERE a.query = $1",
                f'LISTEN "{wake_channel(CONSUMER_NAME)}"',
            )
        )
    finally:
        await conn.close()


async def test_both_services_run_behind_pgbouncer_with_tls_to_the_database(
    tls_server: TlsPostgres, bouncer: PgBouncer, aiohttp_client: Any
) -> None:
    """Migrations over verify-full TLS; both services' pools through PgBouncer; their
    LISTEN on the direct URL: a message ingested is triaged on the NOTIFY, long before the
    consumer's polling fallback would look."""
    admin = await connect(tls_server.verified_url())
    try:
        await admin.execute("CREATE DATABASE ecoute_behind_pgbouncer")
    finally:
        await admin.close()
    direct = tls_server.verified_url("ecoute_behind_pgbouncer")
    await asyncio.to_thread(upgrade, direct, "heads")
    ws = await make_workspace(direct)
    pooled = {
        "database_direct_url": direct,
        "database_pgbouncer": True,
    }
    inbox = await aiohttp_client(
        create_inbox(inbox_settings(bouncer.url("ecoute_behind_pgbouncer"), **pooled))
    )
    triage = await aiohttp_client(
        create_triage(
            triage_settings(
                bouncer.url("ecoute_behind_pgbouncer"), consumer_poll_seconds=600, **pooled
            )
        )
    )
    await wait_until(lambda: _ready(inbox), 60, "the inbox ready through PgBouncer")
    await wait_until(lambda: _ready(triage), 60, "triage ready through PgBouncer")
    await wait_until(lambda: _consumer_listens_over_tls(direct), 60, "the consumer listens")
    response = await inbox.post(
        "/v1/ingest", json={"messages": [message("m1")]}, headers=bearer(ws.ingest_token)
    )
    assert response.status == 200, await response.text()

    async def queued() -> bool:
        answer = await triage.get("/v1/queue", headers=bearer(ws.agent_token))
        return bool((await answer.json())["count"] == 1)

    await wait_until(queued, 120, "the message reached the queue")
