"""Fake YouTube Data API v3 (comments) speaking the real wire format (docs/platforms/youtube.md).

``commentThreads.list`` (newest first, ``pageToken``/``nextPageToken``, one
``moderationStatus`` at a time, at most 5 replies inlined), ``comments.list?parentId=``,
``comments.insert``, ``comments.setModerationStatus`` (204; a rejected comment cannot be
published again) and Google's JSON errors ``{"error": {"code", "message", "errors":
[{"reason", "domain", "message"}]}}``. Quota is counted per project and day (list 1, insert
and moderation 50) and answered with 403 ``quotaExceeded`` once spent. Faults: expired
tokens (401 ``authError``), server errors, duplicated pages, forgotten page tokens and
answers held after the comment is made. All state lives in :class:`YouTubeState`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from fakes.clock import wall_clock
from fakes.held import HeldAnswers

Clock = Callable[[], datetime]
STATUSES = ("published", "heldForReview", "likelySpam", "rejected")
COST = {"list": 1, "insert": 50, "moderate": 50}


@dataclass
class Comment:
    id: str
    author_channel_id: str
    author_name: str
    text: str
    published_at: datetime
    parent_id: str = ""
    video_id: str = "vid-1"
    status: str = "published"


@dataclass
class YouTubeState:
    clock: Clock = field(default_factory=lambda: wall_clock)
    brand_channel_id: str = "UCacme0000000000000000"
    brand_name: str = "Acme"
    tokens: set[str] = field(default_factory=lambda: {"youtube-test-token"})
    daily_quota: int = 10_000
    comments: dict[str, Comment] = field(default_factory=dict)
    units_used: int = 0
    inserted: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    held: HeldAnswers = field(default_factory=HeldAnswers)
    repeat_last: int = 0  # each page also carries this many items of the page before
    forget_tokens: bool = False
    lose_answers: int = 0  # the next inserts are made, then their connection drops
    _failures: list[int] = field(default_factory=list)
    _seq: int = 0

    def _id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq:06d}"

    def write(
        self,
        author_channel_id: str,
        name: str,
        text: str,
        at: datetime,
        *,
        parent_id: str = "",
        status: str = "published",
    ) -> Comment:
        """A comment on one of the brand's videos; with ``parent_id``, a reply in that
        comment's thread (YouTube threads are one level deep: a reply's parent is the top)."""
        top = self.comments[parent_id].parent_id or parent_id if parent_id else ""
        prefix = f"{top}." if top else "Ugz"
        comment = Comment(self._id(prefix), author_channel_id, name, text, at, top, status=status)
        self.comments[comment.id] = comment
        return comment

    def customer_comments(
        self, name: str, text: str, at: datetime, *, status: str = "published"
    ) -> Comment:
        """A customer starts a thread under one of the brand's videos (YouTube shows their
        @handle as ``authorDisplayName``)."""
        return self.write(f"UCc-{name}", f"@{name}", text, at, status=status)

    def customer_replies(self, parent: Comment, name: str, text: str, at: datetime) -> Comment:
        return self.write(f"UCc-{name}", f"@{name}", text, at, parent_id=parent.id)

    def expire_token(self) -> None:
        self.tokens.clear()

    def fail_next(self, status: int, count: int = 1) -> None:
        self._failures.extend([status] * count)

    def replies_of(self, parent_id: str) -> list[Comment]:
        found = [c for c in self.comments.values() if c.parent_id == parent_id]
        return sorted(found, key=lambda c: c.published_at)

    def spend(self, action: str) -> bool:
        """Count the call's units; False when the day's quota cannot pay for it."""
        if self.units_used + COST[action] > self.daily_quota:
            return False
        self.units_used += COST[action]
        return True


def error(status: int, reason: str, message: str, domain: str = "youtube.api") -> web.Response:
    """Google's JSON error answer."""
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }
    return web.json_response(body, status=status)


def _time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def comment_resource(state: YouTubeState, c: Comment) -> dict[str, Any]:
    snippet: dict[str, Any] = {
        "channelId": state.brand_channel_id,
        "videoId": c.video_id,
        "textDisplay": c.text,
        "textOriginal": c.text,
        "authorDisplayName": c.author_name,
        "authorChannelId": {"value": c.author_channel_id},
        "canRate": True,
        "viewerRating": "none",
        "likeCount": 0,
        "moderationStatus": c.status,
        "publishedAt": _time(c.published_at),
        "updatedAt": _time(c.published_at),
    }
    if c.parent_id:
        snippet["parentId"] = c.parent_id
    return {"kind": "youtube#comment", "etag": f"e-{c.id}", "id": c.id, "snippet": snippet}


def thread_resource(state: YouTubeState, top: Comment) -> dict[str, Any]:
    replies = state.replies_of(top.id)
    visible = [r for r in replies if r.status == "published"]
    resource: dict[str, Any] = {
        "kind": "youtube#commentThread",
        "etag": f"t-{top.id}",
        "id": top.id,
        "snippet": {
            "channelId": state.brand_channel_id,
            "videoId": top.video_id,
            "topLevelComment": comment_resource(state, top),
            "canReply": True,
            "totalReplyCount": len(visible),
            "isPublic": True,
        },
    }
    if visible:  # YouTube inlines at most 5 replies
        resource["replies"] = {"comments": [comment_resource(state, r) for r in visible[:5]]}
    return resource


def _page(items: list[Any], token: str, size: int, repeat: int) -> tuple[list[Any], str]:
    start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    chunk = items[max(0, start - repeat) : start + size]
    end = start + size
    following = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else ""
    return chunk, following


def create_app(state: YouTubeState) -> web.Application:
    def gate(request: web.Request, action: str) -> web.Response | None:
        state.requests.append(f"{request.method} {request.path}")
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in state.tokens:
            return error(
                401,
                "authError",
                "Request had invalid authentication credentials.",
                "global",
            )
        if state._failures:
            status = state._failures.pop(0)
            return error(status, "backendError", "Backend Error", "global")
        if not state.spend(action):
            return error(
                403,
                "quotaExceeded",
                "The request cannot be completed because you have exceeded your quota.",
            )
        return None

    def page_of(request: web.Request, items: list[Any]) -> web.Response:
        size = min(100, int(request.query.get("maxResults", "20")))
        token = request.query.get("pageToken", "")
        if token and state.forget_tokens:
            return error(400, "invalidPageToken", "The page token is not valid.")
        try:
            chunk, following = _page(items, token, size, state.repeat_last)
        except ValueError:
            return error(400, "invalidPageToken", "The page token is not valid.")
        body: dict[str, Any] = {
            "kind": "youtube#commentThreadListResponse",
            "pageInfo": {"totalResults": len(items), "resultsPerPage": size},
            "items": chunk,
        }
        if following:
            body["nextPageToken"] = following
        return web.json_response(body)

    async def threads(request: web.Request) -> web.Response:
        refused = gate(request, "list")
        if refused:
            return refused
        if request.query.get("allThreadsRelatedToChannelId") != state.brand_channel_id:
            return error(403, "forbidden", "The comment thread could not be retrieved.")
        status = request.query.get("moderationStatus", "published")
        tops = [c for c in state.comments.values() if not c.parent_id and c.status == status]
        tops.sort(key=lambda c: c.published_at, reverse=True)  # order=time: newest first
        return page_of(request, [thread_resource(state, t) for t in tops])

    async def comments(request: web.Request) -> web.Response:
        refused = gate(request, "list")
        if refused:
            return refused
        parent = request.query.get("parentId", "")
        if parent not in state.comments:
            return error(404, "parentCommentNotFound", "The parent comment could not be found.")
        replies = [r for r in state.replies_of(parent) if r.status == "published"]
        return page_of(request, [comment_resource(state, r) for r in replies])

    async def insert(request: web.Request) -> web.Response:
        refused = gate(request, "insert")
        if refused:
            return refused
        snippet = (await request.json()).get("snippet") or {}
        parent = state.comments.get(str(snippet.get("parentId") or ""))
        if parent is None or parent.parent_id:
            return error(404, "parentCommentNotFound", "The parent comment could not be found.")
        text = str(snippet.get("textOriginal") or "")
        made = state.write(
            state.brand_channel_id, state.brand_name, text, state.clock(), parent_id=parent.id
        )
        state.inserted.append(made.id)
        await state.held.hold()
        if state.lose_answers > 0:
            state.lose_answers -= 1
            assert request.transport is not None
            request.transport.close()
        return web.json_response(comment_resource(state, made))

    async def set_status(request: web.Request) -> web.Response:
        refused = gate(request, "moderate")
        if refused:
            return refused
        status = request.query.get("moderationStatus", "")
        if status not in ("heldForReview", "published", "rejected"):
            return error(400, "invalidModerationStatus", "The moderation status is not valid.")
        targets = [state.comments.get(i) for i in request.query.get("id", "").split(",")]
        if not targets or any(t is None for t in targets):
            return error(404, "commentNotFound", "The comment could not be found.")
        for target in targets:
            assert target is not None
            if target.status == "rejected" and status == "published":
                return error(400, "processingFailure", "A rejected comment cannot be published.")
            target.status = status
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/youtube/v3/commentThreads", threads)
    app.router.add_get("/youtube/v3/comments", comments)
    app.router.add_post("/youtube/v3/comments", insert)
    app.router.add_post("/youtube/v3/comments/setModerationStatus", set_status)
    return app
