"""A clock that tests move by hand, for the limits on failed attempts: a minute of guessing
passes in the time the requests take, with no sleep."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from aiohttp import web

from services.infra.auth_failures import AUTH_FAILURES_KEY
from services.triage.access.auth import AUTH_CONFIG_KEY


@dataclass
class HandClock:
    """Starts at the real now (sessions and two-factor codes stay valid) and moves only by
    ``advance``."""

    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    elapsed: float = 0.0

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds


def with_clock(app: web.Application, clock: HandClock) -> web.Application:
    """``app`` (either service) counting failed attempts by ``clock``."""
    app[AUTH_FAILURES_KEY].clock = clock.monotonic
    if AUTH_CONFIG_KEY in app:
        app[AUTH_CONFIG_KEY] = replace(app[AUTH_CONFIG_KEY], clock=clock.now)
    return app
