"""Triage settings: environment variables prefixed ``TRIAGE_`` (and ``DATABASE_URL``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.infra.secretbox import SecretBox, parse_key, parse_keys
from services.infra.settings import ServiceSettings

OLD_KEYS_SETTING = "TRIAGE_TWO_FACTOR_OLD_KEYS"


class TriageSettings(ServiceSettings):
    # A malformed key must not be echoed back in the error (it goes to logs and terminals).
    model_config = SettingsConfigDict(
        env_prefix="TRIAGE_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    port: int = Field(default=8081, ge=0, le=65535)
    gauges_refresh_seconds: float = Field(
        default=15.0, gt=0, description="How often gauges read from the database refresh."
    )
    metrics_brands: int = Field(
        default=10,
        ge=0,
        le=100,
        description="Workspaces (the oldest first) whose name, as a slug, is the SLA metrics'"
        ' brand label; the others count under "other". Bounds the series: each brand adds'
        " 264 per process.",
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
    two_factor_key: SecretStr | None = Field(
        default=None,
        description=(
            "Base64 of 32 random bytes: the AES-256-GCM key that seals TOTP secrets at rest. "
            "Without it two-factor enrolment answers 503."
        ),
    )
    two_factor_old_keys: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "Comma-separated base64 keys that sealed TOTP secrets before the current key: "
            "still accepted for opening, never for sealing (key rotation)."
        ),
    )
    session_idle_minutes: int = Field(
        default=120,
        ge=5,
        le=7 * 24 * 60,
        description="A session unused this long is signed out (an open desk keeps it alive).",
    )
    session_max_hours: int = Field(
        default=12,
        ge=1,
        le=30 * 24,
        description="A session ends this long after sign-in, in use or not.",
    )

    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="The desk's address as people open it (https://care.example.com): the "
        "base of invitation and password links. Unset: the address the admin's request came "
        "to (the command line: http://127.0.0.1:<port>).",
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server that mails invitations and password links."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls (required, usually port 587), tls (implicit TLS, usually 465), "
        "or none (a relay on the same host only).",
    )
    smtp_user: str | None = Field(default=None, description="SMTP login, if the server wants one.")
    smtp_password: SecretStr | None = Field(default=None)
    smtp_from: str | None = Field(
        default=None, description="The From address of the mails (needed to send any)."
    )
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("two_factor_key")
    @classmethod
    def _key_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                parse_key(value.get_secret_value())
            except ValueError as exc:
                raise ValueError(f"TRIAGE_TWO_FACTOR_KEY: {exc}") from None
        return value

    @field_validator("two_factor_old_keys")
    @classmethod
    def _old_keys_are_32_bytes(cls, value: SecretStr) -> SecretStr:
        parse_keys(value.get_secret_value(), OLD_KEYS_SETTING)
        return value

    @model_validator(mode="after")
    def _old_keys_need_a_current_key(self) -> Self:
        if self.two_factor_key is None and parse_keys(
            self.two_factor_old_keys.get_secret_value(), OLD_KEYS_SETTING
        ):
            raise ValueError(
                f"{OLD_KEYS_SETTING} needs TRIAGE_TWO_FACTOR_KEY, the key that seals new secrets"
            )
        return self

    def two_factor_box(self) -> SecretBox | None:
        """The box that seals TOTP secrets with the current key and opens them with it or an
        old one; None without a key (two-factor unavailable)."""
        if self.two_factor_key is None:
            return None
        return SecretBox(
            parse_key(self.two_factor_key.get_secret_value()),
            parse_keys(self.two_factor_old_keys.get_secret_value(), OLD_KEYS_SETTING),
        )

    incident_tick_seconds: float = Field(
        default=5.0, gt=0, description="How often the incident detector looks at each workspace."
    )
    incident_window_seconds: float = Field(
        default=900.0, gt=0, description="Sliding window in which similar messages make a burst."
    )
    incident_baseline_seconds: float = Field(
        default=86400.0, gt=0, description="Period whose similar messages are the usual rate."
    )
    incident_quiet_seconds: float = Field(
        default=1800.0, gt=0, description="An incident with no new message this long closes."
    )
    incident_min_voices: int = Field(
        default=5, ge=2, description="Independent authors needed before a burst is an incident."
    )
    incident_clock_origin: datetime | None = Field(
        default=None,
        description="Replays and benches only: the detector's clock reads this instant...",
    )
    incident_clock_at: datetime | None = Field(
        default=None, description="...at this real instant (default: when the process starts)..."
    )
    incident_clock_speed: float = Field(
        default=1.0, gt=0, description="...and runs this many times faster than real time."
    )

    presence_idle_minutes: int = Field(
        default=15,
        ge=1,
        le=24 * 60,
        description="A user whose desk made no request (and who set no presence) this long "
        "reads as offline: automatic assignment skips them.",
    )
    routing_max_open_claims: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Open conversations an agent holds at most before automatic assignment "
        "skips them, unless the workspace or the agent has their own maximum.",
    )
    routing_interval_seconds: float = Field(
        default=2.0, gt=0, description="How often the routing worker looks for waiting work."
    )
    routing_batch_size: int = Field(default=100, ge=1, le=1000)
