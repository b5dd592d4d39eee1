"""A clock that tests move by hand, for the limits on failed attempts: a minute of guessing
passes in the time the requests take, with no sleep."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from services.inbox.app import create_app as create_inbox
from services.infra.auth_failures import AUTH_FAILURES_KEY
from services.triage.access.auth import AUTH_CONFIG_KEY
from services.triage.app import create_app as create_triage
from tests.support.world import inbox_settings, triage_settings


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


async def triage_by(
    clock: HandClock, aiohttp_client: Any, database_url: str, **settings: Any
) -> Any:
    """A client of triage (no consumer) counting failed attempts by ``clock``."""
    app = create_triage(triage_settings(database_url, run_consumer=False, **settings))
    return await aiohttp_client(with_clock(app, clock))


async def inbox_by(
    clock: HandClock, aiohttp_client: Any, database_url: str, **settings: Any
) -> Any:
    """A client of the inbox (no workers) counting failed attempts by ``clock``."""
    app = create_inbox(inbox_settings(database_url, run_workers=False, **settings))
    return await aiohttp_client(with_clock(app, clock))
