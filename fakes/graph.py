"""The fault switches of the Graph API fakes (WhatsApp, Threads): a test arms them, each call
passes their checks first, and a post whose answer is to be lost is made, then cut off."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class GraphFaults:
    _throttle: int = field(default=0, kw_only=True)
    _lose_answers: int = field(default=0, kw_only=True)
    _fail: int = field(default=0, kw_only=True)
    _expired: bool = field(default=False, kw_only=True)

    def throttle_next(self, count: int = 1) -> None:
        self._throttle = count

    def lose_next_answer(self, count: int = 1) -> None:
        """The next posts are made, then the connection closes before the answer."""
        self._lose_answers = count

    def fail_next(self, count: int = 1) -> None:
        self._fail = count

    def expire_token(self) -> None:
        self._expired = True

    def refusal(
        self,
        request: web.Request,
        token: str,
        *,
        expired: web.Response,
        failed: web.Response,
        throttled: web.Response,
    ) -> web.Response | None:
        """The platform's answer when the token is wrong or expired, or a fault is armed
        (each fault serves its count, then the calls go through again); None: go on."""
        if request.headers.get("Authorization") != f"Bearer {token}" or self._expired:
            return expired
        if self._fail > 0:
            self._fail -= 1
            return failed
        if self._throttle > 0:
            self._throttle -= 1
            return throttled
        return None

    def answer_lost(self, request: web.Request) -> web.Response | None:
        """Called once the post is made: when armed, its connection closes before the answer
        (the caller returns what this returns); None: answer as usual."""
        if self._lose_answers <= 0:
            return None
        self._lose_answers -= 1
        assert request.transport is not None
        request.transport.close()
        return web.Response()
