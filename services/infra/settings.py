"""Settings common to both services, read from the environment once, in ``__main__``."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Base of each service's settings; subclasses set ``env_prefix`` and their own defaults.

    ``DATABASE_URL`` (unprefixed) serves both services: they share one database, each with
    its own schema.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: SecretStr = Field(
        default=SecretStr("postgresql://postgres@localhost/ecoute"),
        validation_alias=AliasChoices("database_url", "DATABASE_URL"),
        description="Postgres URL (postgresql://…; ?host=/dir for a Unix socket).",
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
    readiness_cache_seconds: float = Field(default=2.0, ge=0)
    auth_max_failures: int = Field(
        default=30,
        ge=1,
        description="Wrong bearer tokens one address may send per minute before 429.",
    )
