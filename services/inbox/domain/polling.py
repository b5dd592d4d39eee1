"""When to poll a channel again after each kind of outcome (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta

REAUTH_RECHECK = timedelta(minutes=10)
MAX_BACKOFF = timedelta(minutes=15)
FAILING_AFTER = 3
HEALTH = ("ok", "rate_limited", "needs_reauth", "failing")  # a channel's health, as stored


def after_success(now: datetime, poll_seconds: int) -> datetime:
    return now + timedelta(seconds=poll_seconds)


def after_rate_limit(
    now: datetime, retry_at: datetime | None, poll_seconds: int, jitter: float
) -> datetime:
    """Honour the platform's reset time; spread the retries of many channels a little."""
    base = (
        retry_at
        if retry_at is not None and retry_at > now
        else now + timedelta(seconds=poll_seconds)
    )
    return base + timedelta(seconds=1 + 5 * jitter)


def after_failure(now: datetime, failures: int, jitter: float) -> datetime:
    """Exponential back-off with jitter: 5 s, 10 s, 20 s … up to 15 min."""
    delay = min(MAX_BACKOFF.total_seconds(), 5 * 2 ** max(0, failures - 1))
    return now + timedelta(seconds=delay * (0.75 + 0.5 * jitter))


def health_after_failure(failures: int) -> str:
    return "failing" if failures >= FAILING_AFTER else "ok"


def next_attempt(now: datetime, attempts: int, reset: datetime | None, jitter: float) -> datetime:
    """When a reply delivery or a moderation is tried again: at the platform's rate-limit
    reset when it named one still ahead, else after 5 s · 2^attempts (at most 10 min),
    spread by ``jitter`` in [0, 1)."""
    if reset is not None and reset > now:
        return reset
    return now + timedelta(seconds=min(600.0, 5 * 2**attempts) * (0.5 + jitter))
