"""Mastodon: mention notifications caught up oldest-first with ``min_id``; replies as statuses.

Each page of notifications is stored with its newest id as the cursor, so a crash between
pages loses nothing and repeats nothing. Replies carry an ``Idempotency-Key`` (the reply id):
Mastodon keeps it for an hour, so a resend after a crash returns the same status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from services.inbox.connectors.base import (
    AuthExpired,
    BearerConnector,
    CursorRejected,
    Page,
    RateLimited,
    Rejected,
    Reply,
    Sent,
    Unavailable,
    answer_json,
    exchange,
    readable,
)
from services.inbox.domain.mastodon import id_key, parse_time, reset_at, status_message

PAGE = 40


class MastodonConnector(BearerConnector):
    streams: tuple[str, ...] = ("notifications",)
    bearer_credential = "access_token"

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[Any, Any]:
        answer = await exchange(
            self.session,
            method,
            self.base + path,
            lost=lambda exc: Unavailable(type(exc).__name__),
            params=params,
            data=data,
            headers={**self.headers, **(headers or {})},
        )
        status, response_headers = answer.status, answer.headers
        body = answer_json(answer.raw)  # a proxy's HTML 502 page is a 502, not a parse error
        detail = body.get("error", "") if isinstance(body, dict) else ""
        if status == 401:
            raise AuthExpired(str(detail))
        if status == 429:
            raise RateLimited(
                reset_at(response_headers.get("X-RateLimit-Reset"), self.clock()), str(detail)
            )
        if status >= 500:
            raise Unavailable(f"HTTP {status}")
        if status >= 400:
            raise Rejected("rejected", str(detail) or f"HTTP {status}")
        return body, response_headers

    async def poll(self, stream: str, cursor: str | None) -> AsyncIterator[Page]:
        if cursor is None:
            body, _ = await self._call(
                "GET",
                "/api/v1/notifications",
                params=[("types[]", "mention"), ("limit", str(PAGE))],
            )
            yield self._page(_notifications(body), None)
            return
        try:
            async for page in self._catch_up(cursor):
                yield page
        except Rejected as exc:
            raise CursorRejected(exc.detail) from None

    async def _catch_up(self, cursor: str) -> AsyncIterator[Page]:
        while True:
            body, _ = await self._call(
                "GET",
                "/api/v1/notifications",
                params=[("types[]", "mention"), ("limit", str(PAGE)), ("min_id", cursor)],
            )
            notes = [n for n in _notifications(body) if id_key(str(n["id"])) > id_key(cursor)]
            if not notes:
                return
            page = self._page(notes, cursor)
            yield page
            cursor = page.cursor or cursor
            if len(body) < PAGE:
                return

    def _page(self, notes: list[dict[str, Any]], cursor: str | None) -> Page:
        notes = sorted(notes, key=lambda n: id_key(str(n["id"])))
        messages = readable(
            self.channel,
            [n["status"] for n in notes if n.get("type") == "mention" and n.get("status")],
            lambda status: status_message(status, self.channel.key, self.channel.account_id),
        )
        newest = str(notes[-1]["id"]) if notes else cursor
        return Page(messages, newest)

    async def send(self, reply: Reply) -> Sent:
        mention = f"@{reply.author_handle}"
        text = reply.text if reply.text.startswith(mention) else f"{mention} {reply.text}"
        body, _ = await self._call(
            "POST",
            "/api/v1/statuses",
            data={
                "status": text,
                "in_reply_to_id": reply.in_reply_to,
                "visibility": "direct" if reply.kind == "dm" else "public",
            },
            headers={"Idempotency-Key": str(reply.reply_id)},
        )
        return Sent(str(body["id"]), parse_time(str(body["created_at"])))


def _notifications(body: Any) -> list[dict[str, Any]]:
    """The notifications of an answer that have an id (the cursor is made of them); an
    answer that is not a list is no answer (as X's connector treats a non-object)."""
    if not isinstance(body, list):
        raise Unavailable("the notifications answer is not a list")
    return [
        n
        for n in body
        if isinstance(n, dict)
        and isinstance(n.get("id"), str | int)
        and not isinstance(n.get("id"), bool)
    ]
