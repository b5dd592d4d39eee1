"""Wrong bearer tokens from one address: counted, and the address told to wait (429).

Tokens carry 256 bits, so guessing one is hopeless; the limit keeps a scanner from using the
API as an oracle at full speed and makes the attempt visible. It is per process and per peer
address (``request.remote``: a forwarded-for header is the client's to forge): with N
replicas an address gets N times the budget. A valid token never waits on this: the check is
one dictionary probe, and only an address that is already refused is refused.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from aiohttp import web

from services.infra.http import ProblemError

DEFAULT_MAX_FAILURES = 30
DEFAULT_WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 10_000


@dataclass
class AuthFailures:
    """Failures per address in a sliding window; ``now`` is any monotonic clock's reading."""

    max_failures: int = DEFAULT_MAX_FAILURES
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    _seen: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)

    def __len__(self) -> int:
        """How many addresses are remembered (bounded by MAX_ADDRESSES)."""
        return len(self._seen)

    def retry_after(self, address: str, now: float) -> float | None:
        """Seconds this address must wait, or None if it may try."""
        failures = self._seen.get(address)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window_seconds:
            failures.popleft()
        if not failures:
            del self._seen[address]
            return None
        if len(failures) < self.max_failures:
            return None
        return failures[-self.max_failures] + self.window_seconds - now

    def fail(self, address: str, now: float) -> None:
        failures = self._seen.setdefault(address, deque(maxlen=self.max_failures))
        self._seen.move_to_end(address)
        failures.append(now)
        while len(self._seen) > MAX_ADDRESSES:
            self._seen.popitem(last=False)


AUTH_FAILURES_KEY = web.AppKey("auth_failures", AuthFailures)


def refuse_if_limited(request: web.Request, now: float) -> None:
    """429 with Retry-After when the caller's address has sent too many wrong tokens."""
    wait = request.app[AUTH_FAILURES_KEY].retry_after(request.remote or "unknown", now)
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        raise ProblemError(
            429,
            "Too Many Requests",
            f"Too many wrong tokens from this address; retry in {seconds} s.",
            retry_after=seconds,
        )


def count_failure(request: web.Request, now: float) -> None:
    request.app[AUTH_FAILURES_KEY].fail(request.remote or "unknown", now)
