"""Wrong bearer tokens: counted per client address and per token, and answered 429 once
either sent too many; a valid token is never refused.

Tokens carry 256 bits, so guessing one is hopeless; the limit tells a scanner (or a producer
stuck on a revoked token) to wait, and makes the attempt visible. It is read only after the
token was looked up and found wrong, so a producer or agent that shares an address with a
scanner (an office, a NAT, an ingress controller nobody listed in ``TRUSTED_PROXIES``) never
waits. The client address is ``client_address``'s: behind trusted proxies, the one they
forwarded. The counts are per process: with N replicas an address gets N times the budget.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from services.infra.auth import token_digest
from services.infra.client_address import (
    TRUSTED_PROXIES_KEY,
    TrustedProxies,
    address_key,
    client_address,
)
from services.infra.http import ProblemError

DEFAULT_MAX_FAILURES = 30
DEFAULT_WINDOW_SECONDS = 60.0
MAX_KEYS = 10_000


@dataclass
class AuthFailures:
    """Failures per key (an address, a token) in a sliding window; ``clock`` is any
    monotonic clock (tests pass their own)."""

    max_failures: int = DEFAULT_MAX_FAILURES
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    clock: Callable[[], float] = time.monotonic
    _seen: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)

    def __len__(self) -> int:
        """How many keys are remembered (bounded by MAX_KEYS)."""
        return len(self._seen)

    def retry_after(self, key: str, now: float) -> float | None:
        """Seconds this key must wait, or None if it may try."""
        failures = self._seen.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window_seconds:
            failures.popleft()
        if not failures:
            del self._seen[key]
            return None
        if len(failures) < self.max_failures:
            return None
        return failures[-self.max_failures] + self.window_seconds - now

    def fail(self, key: str, now: float) -> None:
        failures = self._seen.setdefault(key, deque(maxlen=self.max_failures))
        self._seen.move_to_end(key)
        failures.append(now)
        while len(self._seen) > MAX_KEYS:
            self._seen.popitem(last=False)

    def count(self, keys: list[str]) -> float | None:
        """Count one failure against each key: the longest wait any of them had before it
        (None: all were within budget). A failure sent while waiting counts too, so a
        scanner that ignores Retry-After keeps waiting."""
        now = self.clock()
        waits = [w for w in (self.retry_after(key, now) for key in keys) if w is not None]
        for key in keys:
            self.fail(key, now)
        return max(waits, default=None)


AUTH_FAILURES_KEY = web.AppKey("auth_failures", AuthFailures)


def add_failure_limits(app: web.Application, max_failures: int, proxies: TrustedProxies) -> None:
    """The wrong-token limiter, and the proxies that say who the client is."""
    app[AUTH_FAILURES_KEY] = AuthFailures(max_failures)
    app[TRUSTED_PROXIES_KEY] = proxies


def wrong_token(request: web.Request, token: str, detail: str) -> ProblemError:
    """The answer to a token found wrong: 401 saying ``detail``, or 429 with Retry-After
    once its client address or the token itself has sent too many."""
    keys = [address_key(client_address(request)), f"token:{token_digest(token).hex()}"]
    return counted_refusal(request, keys, ProblemError(401, "Unauthorized", detail), "wrong tokens")


def counted_refusal(
    request: web.Request, keys: list[str], refusal: ProblemError, what: str
) -> ProblemError:
    """``refusal``, counted as a failure against each of ``keys``; 429 with Retry-After
    instead once any of them has sent too many ``what`` ("wrong tokens")."""
    wait = request.app[AUTH_FAILURES_KEY].count(keys)
    if wait is None:
        return refusal
    seconds = max(1, math.ceil(wait))
    return ProblemError(
        429,
        "Too Many Requests",
        f"Too many {what} from this address; retry in {seconds} s.",
        retry_after=seconds,
    )
