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

    @classmethod
    def from_now(cls) -> ManualClock:
        """Starting at the real now (whole seconds), for tests where the services' own clocks
        read real time too (tokens, leases, deadlines)."""
        return cls(datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now
