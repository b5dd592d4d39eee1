"""Threads (Meta): replies to the brand's posts and mentions in, replies out, hide / unhide.

The Threads API lives on ``graph.threads.net`` (``/v1.0``). A channel's ``account_id`` is the
brand's Threads user id; its credentials are ``{"access_token": ...}`` (a long-lived Threads
user token with ``threads_basic``, ``threads_read_replies``, ``threads_manage_replies``,
``threads_manage_mentions`` and ``threads_content_publish``), sent as a Bearer header.

Inbound: signed webhooks (``/webhooks/threads``, fields ``replies`` and ``mentions``) bring
posts at once; two polled streams catch up whatever a webhook missed, newest first with a
high-water mark (the newest ``timestamp`` seen, as Bluesky's): ``mentions`` reads
``GET /{user-id}/mentions``; ``replies`` reads ``GET /{media-id}/conversation`` (every depth,
``reverse=true``) of the brand's ``RECENT_POSTS`` newest posts (``GET /{user-id}/threads``).
Pages go back until one lies entirely before the mark minus ``SCAN_MARGIN``; intermediate pages
are stored without a cursor, the last with the new mark, so a crash repeats and never skips. A
channel's first poll goes back ``FIRST_LOOKBACK`` (replies written months ago under the brand's
posts would fill the queue with breached conversations). What lies before the floor is not
kept: it was seen by the poll that set the mark.

Replies are a two-step publication: ``POST /{user-id}/threads`` with ``media_type=TEXT``,
``text`` and ``reply_to_id`` makes a container (``{"id"}``), ``POST /{user-id}/threads_publish``
with ``creation_id`` publishes it (``{"id"}``: the reply's media id). Before both, the reply quota
(``GET /{user-id}/threads_publishing_limit``: 1,000 replies a moving 24 hours) is read: a
spent quota is ``RateLimited`` for ``QUOTA_RECHECK`` without touching the platform. A lost answer
to the container step made nothing visible (an unpublished container expires in 24 hours): it is
plainly ``Unavailable``. A lost answer to the publish step may have published: it is
``Unavailable(maybe_sent=True)``, and ``find_sent`` then looks among the brand's own replies
(``GET /{user-id}/replies``, newest first) for one answering the same post with the same text
before anything is published again (the API has no idempotency key, and a container's status
says ``PUBLISHED`` without the media id).

Moderation (``Moderates``): ``POST /{reply-id}/manage_reply`` with ``hide=true|false``, answered
``{"success": true}``; only top-level replies to the brand's posts (Threads hides the nested
ones with them). Threads deletes only the brand's own posts: no ``delete``.

Errors are Graph's, read by Meta's ``graph_answer``: 190 (or 102, or HTTP 401) →
``AuthExpired``; 4, 17, 32, 613 or HTTP 429 → ``RateLimited``; 100/33 (no such object) →
``Rejected("not_found")``; 5xx, 1, 2 or ``is_transient`` → ``Unavailable``; any other →
``Rejected("rejected")``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

from services.inbox.connectors.base import (
    BearerConnector,
    ConnectorError,
    CursorRejected,
    Moderation,
    Page,
    RateLimited,
    Rejected,
    Reply,
    Sent,
    Unavailable,
    readable,
)
from services.inbox.connectors.meta import answer_id, graph_answer, graph_id, graph_request
from services.inbox.domain.meta import epoch
from services.inbox.domain.threads import (
    STREAM_KINDS,
    all_older,
    media_message,
    newest,
    published_at,
    same_words,
)

VERSION = "v1.0"
MEDIA_FIELDS = "id,text,username,timestamp,permalink,media_type,is_reply,replied_to,root_post"
REPLY_FIELDS = f"{MEDIA_FIELDS},hide_status,is_reply_owned_by_me"
PAGE = 50
RECENT_POSTS = 10
MAX_PAGES = 10
FIND_SENT_PAGES = 2
SCAN_MARGIN = timedelta(minutes=5)
FIRST_LOOKBACK = timedelta(hours=24)
QUOTA_RECHECK = timedelta(hours=1)


class ThreadsConnector(BearerConnector):
    streams: tuple[str, ...] = ("mentions", "replies")
    bearer_credential = "access_token"

    @property
    def _user(self) -> str:
        return graph_id(self.channel.account_id, "the channel's Threads user id")

    async def poll(self, stream: str, cursor: str | None) -> AsyncIterator[Page]:
        kind = STREAM_KINDS.get(stream)
        if kind is None:
            raise Rejected("unsupported", f"no stream {stream!r} on threads")
        try:
            mark = epoch(cursor) if cursor is not None else None
        except ValueError:
            raise CursorRejected("unreadable high-water mark") from None
        floor = mark - SCAN_MARGIN if mark is not None else self.clock() - FIRST_LOOKBACK
        if stream == "mentions":
            sources = [(f"/{VERSION}/{self._user}/mentions", {"fields": MEDIA_FIELDS})]
        else:
            newest_first = {"fields": REPLY_FIELDS, "reverse": "true"}
            sources = [
                (f"/{VERSION}/{post}/conversation", newest_first)
                for post in await self._recent_posts()
            ]
        for path, asked in sources:
            async for items in self._newest_first(path, asked, floor):
                mark = newest(items, mark)
                items = [i for i in items if (published_at(i) or floor) >= floor]
                found = readable(
                    self.channel,
                    items,
                    lambda i: media_message(i, kind, self.channel.account_id, self.channel.key),
                )
                yield Page(found, None)
        yield Page([], (mark if mark is not None else self.clock()).isoformat())

    async def _recent_posts(self) -> list[str]:
        """The ids of the brand's newest posts, whose conversations the replies stream reads."""
        body = await self._get(
            f"/{VERSION}/{self._user}/threads", {"fields": "id,timestamp", "limit": RECENT_POSTS}
        )
        return [graph_id(str(post.get("id")), "a post id") for post in _data(body)]

    async def _newest_first(
        self, path: str, asked: dict[str, str], floor: datetime
    ) -> AsyncIterator[list[Any]]:
        """Pages of an edge, newest first, until one lies before ``floor``."""
        after = ""
        for _ in range(MAX_PAGES):
            params: dict[str, str | int] = {**asked, "limit": PAGE}
            if after:
                params["after"] = after
            body = await self._get(path, params)
            items = _data(body)
            yield items
            following = _after(body)
            if not items or not following or following == after or all_older(items, floor):
                return
            after = following

    async def send(self, reply: Reply) -> Sent:
        if reply.kind not in ("reply", "mention"):
            raise Rejected("unsupported", f"no Threads reply to a {reply.kind}")
        target = graph_id(reply.in_reply_to, "the post answered")
        await self._reply_quota()
        container = await self._post(
            f"/{VERSION}/{self._user}/threads",
            {"media_type": "TEXT", "text": reply.text, "reply_to_id": target},
            lambda exc: Unavailable(type(exc).__name__),  # an unpublished container shows nothing
        )
        creation = answer_id(container, "id")
        published = await self._post(
            f"/{VERSION}/{self._user}/threads_publish",
            {"creation_id": creation},
            lambda exc: Unavailable(type(exc).__name__, maybe_sent=True),
        )
        return Sent(answer_id(published, "id"), self.clock())

    async def find_sent(self, reply: Reply) -> Sent | None:
        """The brand's reply to the same post with the same text, if an earlier attempt
        published it (the newest ``FIND_SENT_PAGES`` pages of the brand's replies)."""
        path = f"/{VERSION}/{self._user}/replies"
        after = ""
        for _ in range(FIND_SENT_PAGES):
            params: dict[str, str | int] = {"fields": "id,text,timestamp,replied_to", "limit": PAGE}
            if after:
                params["after"] = after
            body = await self._get(path, params)
            for item in _data(body):
                answered = item.get("replied_to")
                if (
                    isinstance(answered, dict)
                    and str(answered.get("id")) == reply.in_reply_to
                    and same_words(str(item.get("text") or ""), reply.text)
                ):
                    return Sent(answer_id(item, "id"), published_at(item) or self.clock())
            after = _after(body)
            if not after:
                return None
        return None

    async def moderate(self, request: Moderation) -> None:
        """Hide or show again a reply to the brand's post (see the module's docstring)."""
        if request.action not in ("hide", "unhide") or request.kind != "reply":
            raise Rejected("unsupported", f"no {request.action} of a Threads {request.kind}")
        body = await self._post(
            f"/{VERSION}/{graph_id(request.comment_id, 'the reply')}/manage_reply",
            {"hide": "true" if request.action == "hide" else "false"},
            lambda exc: Unavailable(type(exc).__name__, maybe_sent=True),  # repeatable
        )
        if not (isinstance(body, dict) and body.get("success") is True):
            raise Rejected("rejected", "Threads did not confirm the change")

    async def _reply_quota(self) -> None:
        """``RateLimited`` when the moving 24-hour reply quota is spent."""
        body = await self._get(
            f"/{VERSION}/{self._user}/threads_publishing_limit",
            {"fields": "reply_quota_usage,reply_config"},
        )
        usage = next(iter(_data(body)), {})
        config = usage.get("reply_config")
        total = config.get("quota_total") if isinstance(config, dict) else None
        used = usage.get("reply_quota_usage")
        if isinstance(total, int) and isinstance(used, int) and used >= total:
            detail = f"{used} of {total} replies published in the last 24 hours"
            raise RateLimited(self.clock() + QUOTA_RECHECK, detail)

    async def _get(self, path: str, params: dict[str, str | int]) -> Any:
        return await self._call("GET", path, params, lambda exc: Unavailable(type(exc).__name__))

    async def _post(
        self, path: str, params: dict[str, str], lost: Callable[[BaseException], ConnectorError]
    ) -> Any:
        return await self._call("POST", path, params, lost)

    async def _call(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        lost: Callable[[BaseException], ConnectorError],
    ) -> Any:
        """One Threads API call, its parameters in the query as Meta's examples send them."""
        status, usage, raw = await graph_request(
            self.session,
            method,
            self.base + path,
            None,
            self.headers,
            lost,
            params={k: str(v) for k, v in params.items()},
        )
        return graph_answer(status, usage, raw, self.clock())


def _data(body: Any) -> list[dict[str, Any]]:
    """The objects of an answer's ``data`` list; an answer without one is no answer."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise Unavailable("the answer has no data list")
    return [item for item in data if isinstance(item, dict)]


def _after(body: Any) -> str:
    """The ``paging.cursors.after`` cursor (Threads gives no ``next`` link on every edge)."""
    paging = body.get("paging") if isinstance(body, dict) else None
    cursors = paging.get("cursors") if isinstance(paging, dict) else None
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return after if isinstance(after, str) and 0 < len(after) <= 512 else ""
