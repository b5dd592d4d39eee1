"""Triage settings: environment variables prefixed ``TRIAGE_`` (and ``DATABASE_URL``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.infra.settings import ServiceSettings


class TriageSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_", extra="ignore", frozen=True)

    port: int = Field(default=8081, ge=0, le=65535)
    gauges_refresh_seconds: float = Field(
        default=15.0, gt=0, description="How often gauges read from the database refresh."
    )
    run_consumer: bool = Field(
        default=True,
        description="Also run the event consumer and SLA scheduler in the API process.",
    )
    consumer_batch_size: int = Field(default=200, ge=1, le=5000)
    consumer_poll_seconds: float = Field(default=2.0, gt=0)
    retention_days: int = Field(
        default=0,
        ge=0,
        le=36500,
        description="Default days of inactivity after which a conversation is purged, for "
        "workspaces without their own setting; 0 keeps conversations forever.",
    )
    retention_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often the retention job looks for work."
    )
    retention_batch_size: int = Field(default=500, ge=1, le=10_000)
