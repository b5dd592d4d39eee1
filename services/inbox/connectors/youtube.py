"""YouTube (Data API v3): comment threads polled page by page, replies, moderation.

A channel's ``account_id`` is the brand's YouTube channel id (``UC...``); its credentials are
``{"access_token": ..., "daily_quota": "10000"}`` (an OAuth token with the
``youtube.force-ssl`` scope, sent as a Bearer header; ``daily_quota`` optional, the Cloud
project's units a day). docs/platforms/youtube.md lists the endpoints and fields used.

Inbound (YouTube has no webhooks for comments): ``GET /youtube/v3/commentThreads`` with
``allThreadsRelatedToChannelId``, ``part=snippet,replies``, ``order=time`` (newest first),
``maxResults=100`` and ``moderationStatus`` = the stream (``published``, ``heldForReview``,
``likelySpam``: YouTube lists each status apart). A poll walks pages (``pageToken``) from the
newest down to the last stored time; the cursor (``Walk``) keeps the walk's next page, so a
walk cut short by a restart, the page budget or the quota goes on where it stopped, and the
old mark moves only when the walk reaches it: no comment is lost, and those read twice are
dropped by the store. A thread with more replies than the 5 inlined is read with ``GET
/youtube/v3/comments?parentId=``.

Replies: ``POST /youtube/v3/comments?part=snippet`` with ``snippet.parentId`` (the thread's
top-level comment) and ``snippet.textOriginal``. YouTube has no idempotency key, so after a
send whose answer was lost ``find_sent`` lists the thread's replies and takes the brand's own
with our exact text (the same text posted twice to one thread by hand would be taken too).

Moderation: ``POST /youtube/v3/comments/setModerationStatus?id=&moderationStatus=`` (204):
hide = ``heldForReview``, unhide = ``published``, delete = ``rejected`` (``comments.delete``
only removes the caller's own comments; a rejected comment cannot be published again).

Quota: every call's units (list 1, insert and moderation 50) are counted per Pacific day in the
channel (``SpendsQuota``); polls stop at their share and the channel says ``quota``. Errors
(Google's ``{"error": {"code", "message", "errors": [{"reason", "domain"}]}}``): 401 →
``AuthExpired``; 403 ``quotaExceeded``/``dailyLimitExceeded`` → ``QuotaSpent`` until midnight
Pacific; 403 ``rateLimitExceeded``/``userRateLimitExceeded`` and 429 → ``RateLimited``; 404
→ ``Rejected("not_found")``; 5xx → ``Unavailable``; any other → ``Rejected("rejected")``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import aiohttp

from services.inbox.connectors.base import (
    AuthExpired,
    BearerConnector,
    Channel,
    Moderation,
    Page,
    QuotaSpent,
    RateLimited,
    Rejected,
    Reply,
    Sent,
    Unavailable,
    answer_json,
    exchange,
    readable,
)
from services.inbox.domain.messages import Incoming
from services.inbox.domain.youtube import (
    COST,
    DAILY_QUOTA,
    Walk,
    comment_message,
    may_spend,
    newer,
    parse_time,
    quota_day,
    quota_resets_at,
    units_used,
)

API = "/youtube/v3"
PAGE = 100
INLINED_REPLIES = 5
MAX_PAGES = 10  # a poll reads at most this many pages; the next poll goes on
MODERATION_STATUS = {"hide": "heldForReview", "unhide": "published", "delete": "rejected"}
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class YouTubeConnector(BearerConnector):
    streams: tuple[str, ...] = ("published", "heldForReview", "likelySpam")
    bearer_credential = "access_token"

    def __init__(
        self,
        channel: Channel,
        credentials: dict[str, Any],
        session: aiohttp.ClientSession,
        clock: Callable[[], datetime],
    ) -> None:
        super().__init__(channel, credentials, session, clock)
        daily = str(credentials.get("daily_quota") or DAILY_QUOTA)
        self.daily = int(daily) if daily.isdigit() else DAILY_QUOTA
        self.day = quota_day(clock())
        self.used = units_used(channel.cursor.get("quota"), clock())
        self.spent = 0

    def quota_spent(self) -> tuple[str, int]:
        return self.day, self.spent

    async def poll(self, stream: str, cursor: str | None) -> AsyncIterator[Page]:
        walk = Walk.decode(cursor)
        for _ in range(MAX_PAGES):
            try:
                body = await self._threads(stream, walk.page)
            except Rejected:
                if not walk.page:
                    raise
                walk = Walk(walk.since)  # a page token YouTube forgot: walk again from the top
                continue
            threads = body.get("items") if isinstance(body, dict) else None
            messages = await self._messages(threads, stream, walk.since)
            top = walk.top or max((m.created_at.isoformat() for m in messages), default="")
            next_page = str(body.get("nextPageToken") or "") if isinstance(body, dict) else ""
            reached = not next_page or not walk.since or _older_than(threads, walk.since)
            walk = Walk(top or walk.since) if reached else Walk(walk.since, top, next_page)
            yield Page(messages, walk.encode())
            if reached:
                return

    async def _threads(self, stream: str, page: str) -> Any:
        params = {
            "part": "snippet,replies",
            "allThreadsRelatedToChannelId": _checked(self.channel.account_id, "the channel id"),
            "moderationStatus": stream,
            "order": "time",
            "maxResults": str(PAGE),
            "textFormat": "plainText",
        }
        if page:
            params["pageToken"] = page
        return await self._call("GET", "/commentThreads", "list", params)

    async def _messages(self, threads: Any, stream: str, since: str) -> list[Incoming]:
        """The thread's comments published since ``since``: the top-level one, the replies
        inlined and, for a thread new since then, those past the 5 YouTube inlines, read with
        ``comments.list`` (for an older thread that would cost a unit at every poll)."""
        comments: list[Any] = []
        for thread in threads if isinstance(threads, list) else []:
            snippet = thread.get("snippet") if isinstance(thread, dict) else None
            if not isinstance(snippet, dict):
                continue
            comments.append(snippet.get("topLevelComment"))
            inlined = (thread.get("replies") or {}).get("comments") or []
            total = int(snippet.get("totalReplyCount") or 0)
            if total > len(inlined) and not _before(thread, since):
                inlined = await self._replies(str(thread.get("id") or ""))
            comments.extend(inlined)
        account, key = self.channel.account_id, self.channel.key
        found = readable(self.channel, comments, lambda c: comment_message(c, key, account, stream))
        return [m for m in found if newer(m, since)]

    async def _replies(self, parent: str, pages: int = MAX_PAGES) -> list[Any]:
        """Every reply of one thread (``GET /comments?parentId=``), page by page."""
        replies: list[Any] = []
        token = ""
        for _ in range(pages):
            params = {
                "part": "snippet",
                "parentId": _checked(parent, "the thread"),
                "maxResults": str(PAGE),
                "textFormat": "plainText",
            }
            if token:
                params["pageToken"] = token
            body = await self._call("GET", "/comments", "list", params)
            items = body.get("items") if isinstance(body, dict) else None
            replies.extend(items if isinstance(items, list) else [])
            token = str(body.get("nextPageToken") or "") if isinstance(body, dict) else ""
            if not token:
                break
        return replies

    async def send(self, reply: Reply) -> Sent:
        if reply.kind not in ("comment", "reply"):
            raise Rejected("unsupported", f"no YouTube reply to a {reply.kind}")
        parent = _checked(reply.thread_id or reply.in_reply_to, "the comment answered")
        payload = {"snippet": {"parentId": parent, "textOriginal": reply.text}}
        body = await self._call("POST", "/comments", "insert", {"part": "snippet"}, payload)
        return _sent(body)

    async def find_sent(self, reply: Reply) -> Sent | None:
        """The brand's reply with this text in the thread, if the lost attempt made it."""
        parent = _checked(reply.thread_id or reply.in_reply_to, "the comment answered")
        for comment in await self._replies(parent):
            snippet = comment.get("snippet") if isinstance(comment, dict) else None
            if not isinstance(snippet, dict):
                continue
            author = (snippet.get("authorChannelId") or {}).get("value")
            if author == self.channel.account_id and snippet.get("textOriginal") == reply.text:
                return _sent(comment)
        return None

    async def moderate(self, request: Moderation) -> None:
        status = MODERATION_STATUS.get(request.action)
        if status is None or request.kind not in ("comment", "reply"):
            raise Rejected("unsupported", f"no {request.action} of a YouTube {request.kind}")
        params = {"id": _checked(request.comment_id, "the comment"), "moderationStatus": status}
        await self._call("POST", "/comments/setModerationStatus", "moderate", params)

    async def _call(
        self,
        method: str,
        path: str,
        action: str,
        params: dict[str, str],
        payload: dict[str, Any] | None = None,
    ) -> Any:
        """One API call, counted against the day's quota before it is made."""
        if not may_spend(self.used, action, self.daily):
            resets = quota_resets_at(self.clock())
            raise QuotaSpent(resets, f"daily quota nearly spent ({self.used}/{self.daily})")
        self.used += COST[action]
        self.spent += COST[action]

        def lost(exc: BaseException) -> Unavailable:
            # A write may have been made: a reply is then found again (find_sent) before
            # any resend; a moderation is simply made again (it is repeatable).
            return Unavailable(type(exc).__name__, maybe_sent=method == "POST")

        answer = await exchange(
            self.session,
            method,
            self.base + API + path,
            lost=lost,
            params=params,
            json=payload,
            headers=self.headers,
        )
        body = answer_json(answer.raw)
        if 200 <= answer.status < 300:
            return body
        self._refuse(answer.status, body)

    def _refuse(self, status: int, body: Any) -> None:
        """The error a Google JSON error answer means (see the module's docstring)."""
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        detail = str(error.get("message") or f"HTTP {status}")
        reasons = {str(e.get("reason")) for e in error.get("errors") or [] if isinstance(e, dict)}
        if status == 401:
            raise AuthExpired(detail)
        if reasons & QUOTA_REASONS:
            raise QuotaSpent(quota_resets_at(self.clock()), detail)
        if status == 429 or reasons & RATE_REASONS:
            raise RateLimited(None, detail)
        if status >= 500:
            raise Unavailable(detail)
        if status == 404:
            raise Rejected("not_found", detail)
        raise Rejected("rejected", detail)


def _older_than(threads: Any, since: str) -> bool:
    """The page reaches back before ``since``: the walk has met what is stored."""
    return any(_before(thread, since) for thread in (threads if isinstance(threads, list) else []))


def _before(thread: Any, since: str) -> bool:
    """The thread's top-level comment was published before ``since`` (False if unreadable)."""
    if not since:
        return False
    try:
        published = thread["snippet"]["topLevelComment"]["snippet"]["publishedAt"]
        return parse_time(str(published)) < parse_time(since)
    except (LookupError, TypeError, ValueError):
        return False


def _checked(value: str, what: str) -> str:
    """Ids go into query strings and bodies: only what YouTube ids are made of."""
    if not _ID.fullmatch(value or ""):
        raise Rejected("rejected", f"{what} is not a YouTube id")
    return value


def _sent(comment: Any) -> Sent:
    snippet = comment.get("snippet") if isinstance(comment, dict) else None
    found = comment.get("id") if isinstance(comment, dict) else None
    if not isinstance(found, str) or not found or not isinstance(snippet, dict):
        raise Rejected("unknown_outcome", "YouTube accepted the reply but sent no comment")
    return Sent(found, parse_time(str(snippet.get("publishedAt"))))
