"""Inbox settings: environment variables prefixed ``INBOX_`` (and ``DATABASE_URL``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.inbox.domain.endpoints import PlatformHosts, host_list
from services.infra.settings import ServiceSettings


class InboxSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INBOX_", extra="ignore", frozen=True)

    port: int = Field(default=8080, ge=0, le=65535)
    gauges_refresh_seconds: float = Field(
        default=15.0, gt=0, description="How often gauges read from the database refresh."
    )
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="Largest ingest body accepted (413 above)."
    )
    max_batch_messages: int = Field(default=1000, ge=1, le=10_000)
    run_workers: bool = Field(
        default=True, description="Also poll channels and deliver replies in this process."
    )
    channel_credentials: SecretStr = Field(
        default=SecretStr(""),
        description="JSON object: workspace id -> {credentials reference -> credentials}.",
    )
    x_consumer_secret: SecretStr = Field(
        default=SecretStr(""), description="X app consumer secret: CRC answers, webhook signatures."
    )
    meta_app_secret: SecretStr = Field(
        default=SecretStr(""), description="Meta app secret: X-Hub-Signature-256 checks."
    )
    meta_verify_token: SecretStr = Field(
        default=SecretStr(""), description="Meta webhook subscription verify token."
    )
    whatsapp_app_secret: SecretStr = Field(
        default=SecretStr(""),
        description="App secret of the Meta app that receives WhatsApp webhooks: "
        "X-Hub-Signature-256 checks of /webhooks/whatsapp.",
    )
    whatsapp_verify_token: SecretStr = Field(
        default=SecretStr(""), description="WhatsApp webhook subscription verify token."
    )
    threads_app_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Threads app secret (the Threads use case's own, not the Meta app's): "
        "X-Hub-Signature-256 checks of /webhooks/threads.",
    )
    threads_verify_token: SecretStr = Field(
        default=SecretStr(""), description="Threads webhook subscription verify token."
    )
    channel_credentials_dir: str = Field(
        default="",
        description="Directory of <workspace id>.<credentials_ref>.json files (a mounted Secret).",
    )
    mastodon_hosts: str = Field(
        default="",
        description="Comma-separated Mastodon instances channels may use (*.example.org: any "
        "host under it); none by default.",
    )
    bluesky_hosts: str = Field(
        default="",
        description="Comma-separated self-hosted Bluesky servers, besides Bluesky's own hosts.",
    )
    allow_local_platforms: bool = Field(
        default=False,
        description="Development only: channels may point at http://127.0.0.1, localhost or "
        "[::1] (the fake platforms of make run and the tests).",
    )

    profile_refresh_hours: int = Field(
        default=168,
        ge=0,
        description="Messenger and Instagram names are asked of Meta once per person and asked "
        "again after this many hours; 0 never asks (customers show without a name).",
    )

    def platform_hosts(self) -> PlatformHosts:
        """Where channels may send their credentials (domain/endpoints.py)."""
        extra = {
            "mastodon": host_list(self.mastodon_hosts),
            "bluesky": host_list(self.bluesky_hosts),
        }
        return PlatformHosts(extra, allow_local=self.allow_local_platforms)
