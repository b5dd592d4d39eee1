"""The clock every fake platform reads: the real time for the demo, a manual one for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def wall_clock() -> datetime:
    """The real time, for the demo; tests pass a :class:`ManualClock` instead."""
    return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told, so expiry, rate-limit resets and retention need
    no sleeping. One instance can drive every fake."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2024, 5, 13, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now
