"""Settings common to both services, read from the environment once, in ``__main__``."""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.infra.client_address import Networks, TrustedProxies, parse_networks


class ServiceSettings(BaseSettings):
    """Base of each service's settings; subclasses set ``env_prefix`` and their own defaults.

    ``DATABASE_URL`` (unprefixed) serves both services: they share one database, each with
    its own schema. Behind PgBouncer in transaction mode, ``DATABASE_PGBOUNCER`` adapts the
    pool to it and ``DATABASE_DIRECT_URL`` reaches Postgres directly for what a transaction
    pooler cannot carry: LISTEN, migrations and the one-shot commands.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: SecretStr = Field(
        default=SecretStr("postgresql://postgres@localhost/ecoute"),
        validation_alias=AliasChoices("database_url", "DATABASE_URL"),
        description=(
            "Postgres URL, libpq conventions: postgresql://user:pass@host:port/db, several"
            " host:port pairs, ?host=/dir for a Unix socket, ?sslmode=…&sslrootcert=…"
            "&target_session_attrs=…"
        ),
    )
    database_direct_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("database_direct_url", "DATABASE_DIRECT_URL"),
        description="A URL that reaches Postgres directly, not through a transaction pooler"
        " (LISTEN, migrations, one-shot commands); default DATABASE_URL.",
    )
    database_pgbouncer: bool = Field(
        default=False,
        validation_alias=AliasChoices("database_pgbouncer", "DATABASE_PGBOUNCER"),
        description="DATABASE_URL goes through PgBouncer in transaction mode: no"
        " prepared-statement cache; needs DATABASE_DIRECT_URL.",
    )
    db_pool_size: int = Field(default=20, ge=1, le=500, description="Connections per process.")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A request's line and headers must arrive within this of the connection "
        "opening (of their first byte on a kept-alive connection), else the connection closes.",
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A request's body must arrive within this of its headers, else 408 and "
        "the connection closes.",
    )
    keepalive_timeout_seconds: float = Field(
        default=75.0,
        gt=0,
        description="An idle kept-alive connection closes after this; keep it above the "
        "proxy's upstream keep-alive timeout (ingress-nginx: 60 s).",
    )
    log_level: str = "INFO"
    revision: str = Field(
        default="unknown",
        validation_alias=AliasChoices("revision", "ECOUTE_REVISION"),
        description="The source revision the image was built from (set at image build);"
        " exported as ecoute_build_info's revision label.",
    )
    readiness_cache_seconds: float = Field(default=2.0, ge=0)
    auth_max_failures: int = Field(
        default=30,
        ge=1,
        description="Wrong bearer tokens one client address (or one token) may send per"
        " minute before the wrong ones get 429.",
    )
    trusted_proxies: Annotated[Networks, NoDecode] = Field(
        default=(),
        validation_alias=AliasChoices("trusted_proxies", "TRUSTED_PROXIES"),
        description="Comma-separated networks of the reverse proxies (the Kubernetes ingress"
        " controller's pods) whose X-Forwarded-For names the client; empty: the TCP peer is"
        " the client.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        return parse_networks(value) if isinstance(value, str) else value

    def proxies(self) -> TrustedProxies:
        return TrustedProxies(self.trusted_proxies)

    @model_validator(mode="after")
    def _pgbouncer_needs_a_direct_url(self) -> Self:
        if self.database_pgbouncer and self.database_direct_url is None:
            raise ValueError(
                "DATABASE_PGBOUNCER=true needs DATABASE_DIRECT_URL: LISTEN does not work"
                " through a transaction pooler"
            )
        return self

    def direct_url(self) -> str:
        """The URL for LISTEN, migrations and one-shot commands (never through a pooler)."""
        return (self.database_direct_url or self.database_url).get_secret_value()
