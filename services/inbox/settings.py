"""Inbox settings: environment variables prefixed ``INBOX_`` (and ``DATABASE_URL``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.infra.settings import ServiceSettings


class InboxSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INBOX_", extra="ignore", frozen=True)

    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="Largest ingest body accepted (413 above)."
    )
    max_batch_messages: int = Field(default=1000, ge=1, le=10_000)
