"""``DATABASE_URL`` read as libpq reads it, and the settings around PgBouncer."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from services.infra.db import asyncpg_dsn, create_engine
from services.infra.settings import ServiceSettings


@pytest.mark.parametrize(
    ("url", "dsn"),
    [
        ("postgresql://u:p@db.example.com/ecoute", "postgresql://u:p@db.example.com/ecoute"),
        ("postgres://u@h/ecoute", "postgresql://u@h/ecoute"),
        ("postgresql+asyncpg://u@h/ecoute", "postgresql://u@h/ecoute"),
        (
            "postgresql://u@h/db?sslmode=verify-full&sslrootcert=/etc/ca.pem",
            "postgresql://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        ),
        (
            "postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write",
            "postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write",
        ),
        ("postgresql://u@/db?host=/run/pg", "postgresql://u@/db?host=%2Frun%2Fpg"),
        # connect_timeout is the connection's own business (asyncpg's ``timeout``)
        (
            "postgresql://u@h/db?connect_timeout=10&sslmode=require",
            "postgresql://u@h/db?sslmode=require",
        ),
    ],
)
def test_libpq_urls_reach_asyncpg_as_libpq_would_read_them(url: str, dsn: str) -> None:
    assert asyncpg_dsn(url) == dsn


@pytest.mark.parametrize(
    "parameter", ["ssl=require", "prepared_statement_cache_size=0", "sslmod=require"]
)
def test_a_parameter_libpq_does_not_know_stops_the_service_at_start_up(parameter: str) -> None:
    """Not a keyword the driver chokes on at the first query, nor a server setting."""
    url = f"postgresql://agent:s3cret-pw@db.example.com/ecoute?{parameter}"
    with pytest.raises(ValueError, match="unsupported parameter") as raised:
        create_engine(url, 1)
    assert parameter.split("=")[0] in str(raised.value)
    assert "s3cret-pw" not in str(raised.value)


def test_a_password_cut_at_an_unescaped_question_mark_is_not_repeated() -> None:
    with pytest.raises(ValueError, match=r"\(malformed\)") as raised:
        asyncpg_dsn("postgresql://agent:pa?ss-Word@db.example.com/ecoute")
    assert "ss-Word" not in str(raised.value)


def test_only_postgresql_urls() -> None:
    with pytest.raises(ValueError, match="postgresql://"):
        asyncpg_dsn("mysql://u@h/db")


def test_a_connect_timeout_that_is_not_a_number_is_refused() -> None:
    from services.infra.db import _connect_timeout

    assert _connect_timeout([("connect_timeout", "12")]) == 12.0
    assert _connect_timeout([("connect_timeout", "0")]) is None  # libpq: wait indefinitely
    with pytest.raises(ValueError, match="connect_timeout"):
        _connect_timeout([("connect_timeout", "soon")])


def test_the_direct_url_defaults_to_the_database_url() -> None:
    settings = ServiceSettings(database_url=SecretStr("postgresql://u@pool/db"))
    assert settings.direct_url() == "postgresql://u@pool/db"
    behind = ServiceSettings(
        database_url=SecretStr("postgresql://u@pgbouncer:6432/db"),
        database_direct_url=SecretStr("postgresql://u@primary:5432/db"),
        database_pgbouncer=True,
    )
    assert behind.direct_url() == "postgresql://u@primary:5432/db"


def test_pgbouncer_without_a_direct_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """LISTEN through a transaction pooler would silently hear nothing."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@pgbouncer:6432/db")
    monkeypatch.setenv("DATABASE_PGBOUNCER", "true")
    with pytest.raises(ValidationError, match="DATABASE_DIRECT_URL"):
        ServiceSettings()
    monkeypatch.setenv("DATABASE_DIRECT_URL", "postgresql://u:pw@primary:5432/db")
    assert ServiceSettings().database_pgbouncer
