"""Fake Threads API (``graph.threads.net``): the brand's posts, people's replies and
mentions, two-step reply publishing, hide / unhide, the reply quota, and signed webhooks.

Wire format from Meta's public Threads API reference (docs/platforms/threads.md): media
objects with ``id``, ``text``, ``username``, ``timestamp`` (``2024-08-07T10:33:16+0000``),
``replied_to``, ``root_post``, ``hide_status``, ``is_reply_owned_by_me``, only the ``fields``
asked for; edges newest first with ``paging.cursors`` (``after``); ``POST /{user-id}/threads``
(``media_type``, ``text``, ``reply_to_id`` as query or form parameters) then
``POST /{user-id}/threads_publish`` (``creation_id``; a container publishes once);
``POST /{reply-id}/manage_reply`` (``hide``; top-level replies to the brand's posts only);
``GET /{user-id}/threads_publishing_limit``; webhooks ``{"app_id", "topic", "target_id",
"time", "values": {"value", "field"}}`` signed with ``X-Hub-Signature-256`` under the app
secret, like every Meta webhook (``fakes.meta.deliver_webhook``). Faults: a dead token (190),
throttling (code 4), a 500, and a publish whose answer is lost after the reply went out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from fakes.clock import ManualClock
from fakes.graph import GraphFaults
from fakes.meta import deliver_webhook, verify_subscription

__all__ = ["ThreadsState", "create_app", "deliver_webhook", "verify_subscription"]

Clock = Callable[[], datetime]
Json = dict[str, Any]
TEXT_LIMIT = 500
QUOTA_WINDOW = timedelta(hours=24)
STATE: web.AppKey[ThreadsState] = web.AppKey("threads_state")


@dataclass
class ThreadsState(GraphFaults):
    """The in-memory Threads world of one test or of the demo."""

    app_secret: str = "threads_app_secret"  # noqa: S105 - a fake credential
    verify_token: str = "threads-verify"  # noqa: S105 - a fake credential
    access_token: str = "threads-long-lived-token"  # noqa: S105 - a fake credential
    user_id: str = "25025320000000001"
    username: str = "acme"
    app_id: str = "1234567890"
    reply_quota: int = 1000
    clock: Clock = field(default_factory=ManualClock)

    media: dict[str, Json] = field(default_factory=dict)  # every post, reply and mention
    containers: dict[str, Json] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)  # the brand's replies, in order
    reply_times: list[datetime] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    outbound_webhooks: list[Json] = field(default_factory=list)
    _counter: int = 0

    # -- the world -----------------------------------------------------------------------

    def _id(self) -> str:
        self._counter += 1
        return f"1801{self._counter:013d}"

    def _make(self, username: str, text: str, at: datetime | None, to: str = "") -> Json:
        media_id = self._id()
        item: Json = {
            "id": media_id,
            "text": text,
            "username": username,
            "permalink": f"https://www.threads.net/@{username}/post/C{media_id[-8:]}",
            "shortcode": f"C{media_id[-8:]}",
            "timestamp": (at or self.clock()).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "media_type": "TEXT_POST",
            "media_product_type": "THREADS",
            "is_reply": bool(to),
            "hide_status": "NOT_HUSHED",
        }
        if to:
            parent = self.media[to]
            root = parent.get("root_post", {}).get("id") or to
            owner = self.media[root]["username"]
            item["replied_to"] = {"id": to}
            item["root_post"] = {
                "id": root,
                "owner_id": self.user_id if owner == self.username else "",
                "username": owner,
            }
            item["is_reply_owned_by_me"] = username == self.username
        self.media[media_id] = item
        return item

    def post(self, text: str, *, at: datetime | None = None, username: str = "") -> str:
        """A new top-level post (the brand's unless ``username`` says whose)."""
        return str(self._make(username or self.username, text, at)["id"])

    def reply(self, username: str, text: str, to: str, *, at: datetime | None = None) -> Json:
        """Someone replies to ``to``; a reply in the brand's conversation queues a webhook."""
        item = self._make(username, text, at, to)
        if item["root_post"]["username"] == self.username:
            self.outbound_webhooks.append(self.notification("replies", item))
        return item

    def mention(self, username: str, text: str, *, at: datetime | None = None) -> Json:
        """Someone's post naming the brand (``@acme`` is added when missing)."""
        words = text if f"@{self.username}" in text else f"@{self.username} {text}"
        item = self._make(username, words, at)
        self.outbound_webhooks.append(self.notification("mentions", item))
        return item

    def notification(self, field_name: str, item: Json) -> Json:
        """The webhook Meta POSTs for a reply or a mention."""
        value = {k: v for k, v in item.items() if k not in ("hide_status", "is_reply_owned_by_me")}
        return {
            "app_id": self.app_id,
            "topic": "moderate",
            "target_id": self.user_id,
            "time": int(self.clock().timestamp()),
            "subscription_id": "234567",
            "has_uid_field": False,
            "values": {"value": value, "field": field_name},
        }

    def brand_replies(self) -> list[Json]:
        return [self.media[m] for m in self.published]

    def is_hidden(self, media_id: str) -> bool:
        return bool(self.media[media_id]["hide_status"] == "HIDDEN")


def _error(status: int, code: int, message: str, subcode: int | None = None) -> web.Response:
    error: Json = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "AbCdEfGhIjKlMnOp"
    return web.json_response({"error": error}, status=status)


def _missing(media_id: str) -> web.Response:
    return _error(
        400,
        100,
        f"Unsupported request - Object with ID '{media_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation",
        33,
    )


def _refusal(state: ThreadsState, request: web.Request) -> web.Response | None:
    """The token and fault checks every call passes first."""
    state.requests.append(f"{request.method} {request.path_qs}")
    return state.refusal(
        request,
        state.access_token,
        expired=_error(401, 190, "Error validating access token: Session has expired."),
        failed=_error(500, 2, "An unexpected error has occurred. Please retry your request later."),
        throttled=_error(400, 4, "Application request limit reached"),
    )


Handler = Callable[[web.Request, "ThreadsState", dict[str, str]], Awaitable[web.StreamResponse]]


def _checked(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A handler behind the token and fault checks, given the state and the parameters."""

    async def checked(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        refused = _refusal(state, request)
        if refused is not None:
            return refused
        return await handler(request, state, await _params(request))

    return checked


def _shown(item: Json, fields: str) -> Json:
    wanted = {f.strip() for f in fields.split(",") if f.strip()} | {"id"}
    return {k: v for k, v in item.items() if k in wanted}


def _page(request: web.Request, items: list[Json]) -> web.Response:
    """Newest first (``reverse=false``: oldest first), ``limit`` at a time, ``after`` cursors."""
    ordered = sorted(items, key=lambda i: (i["timestamp"], i["id"]))
    if request.query.get("reverse", "true") != "false":
        ordered.reverse()
    limit = max(1, min(100, int(request.query.get("limit", "25"))))
    start = int(request.query.get("after", "0") or 0)
    chunk = ordered[start : start + limit]
    fields = request.query.get("fields", "id")
    body: Json = {"data": [_shown(i, fields) for i in chunk]}
    if chunk:
        body["paging"] = {"cursors": {"before": str(start), "after": str(start + len(chunk))}}
    return web.json_response(body)


@_checked
async def _edge(
    request: web.Request, state: ThreadsState, params: dict[str, str]
) -> web.StreamResponse:
    node, edge = request.match_info["node"], request.match_info["edge"]
    everything = list(state.media.values())
    if edge == "conversation":
        if node not in state.media:
            return _missing(node)
        return _page(request, [i for i in everything if i.get("root_post", {}).get("id") == node])
    if node != state.user_id:
        return _missing(node)
    if edge == "threads":
        mine = [i for i in everything if i["username"] == state.username and not i["is_reply"]]
        return _page(request, mine)
    if edge == "replies":
        return _page(request, state.brand_replies())
    if edge == "mentions":
        named = f"@{state.username}"
        return _page(
            request,
            [i for i in everything if named in i["text"] and i["username"] != state.username],
        )
    if edge == "threads_publishing_limit":
        since = state.clock() - QUOTA_WINDOW
        used = sum(1 for t in state.reply_times if t > since)
        config = {"quota_total": state.reply_quota, "quota_duration": 86400}
        return web.json_response({"data": [{"reply_quota_usage": used, "reply_config": config}]})
    return _error(400, 100, f"Unknown edge {edge}")


async def _params(request: web.Request) -> dict[str, str]:
    """Query parameters and form fields alike, as the Graph API reads them."""
    found = dict(request.query)
    if request.can_read_body:
        found.update({k: str(v) for k, v in (await request.post()).items()})
    return found


@_checked
async def _create(
    request: web.Request, state: ThreadsState, params: dict[str, str]
) -> web.StreamResponse:
    """``POST /{user-id}/threads``: a TEXT container, optionally a reply."""
    if request.match_info["node"] != state.user_id:
        return _missing(request.match_info["node"])
    text = params.get("text", "")
    if params.get("media_type") != "TEXT" or not text:
        return _error(400, 100, "The parameter media_type and text are required.")
    if len(text) > TEXT_LIMIT:
        return _error(400, 100, "Param text must be at most 500 characters long.")
    target = params.get("reply_to_id", "")
    if target and target not in state.media:
        return _missing(target)
    creation = state._id()
    state.containers[creation] = {"text": text, "reply_to_id": target, "status": "FINISHED"}
    return web.json_response({"id": creation})


@_checked
async def _publish(
    request: web.Request, state: ThreadsState, params: dict[str, str]
) -> web.StreamResponse:
    """``POST /{user-id}/threads_publish``: a container becomes a post, once."""
    container = state.containers.get(params.get("creation_id", ""))
    if container is None or container["status"] != "FINISHED":
        return _error(400, 24, "The requested resource does not exist or was already published.")
    since = state.clock() - QUOTA_WINDOW
    if container["reply_to_id"] and sum(1 for t in state.reply_times if t > since) >= (
        state.reply_quota
    ):
        return _error(400, 4, "The user has reached the reply publishing limit")
    item = state._make(state.username, container["text"], None, container["reply_to_id"])
    container["status"] = "PUBLISHED"
    if container["reply_to_id"]:
        state.published.append(item["id"])
        state.reply_times.append(state.clock())
    lost = state.answer_lost(request)  # the reply is out; its answer may never arrive
    if lost is not None:
        return lost
    return web.json_response({"id": item["id"]})


@_checked
async def _manage_reply(
    request: web.Request, state: ThreadsState, params: dict[str, str]
) -> web.StreamResponse:
    """``POST /{reply-id}/manage_reply``: hide or show a top-level reply to the brand."""
    reply_id = request.match_info["node"]
    item = state.media.get(reply_id)
    if item is None:
        return _missing(reply_id)
    root = item.get("root_post", {})
    if item.get("replied_to", {}).get("id") != root.get("id") or root.get("username") != (
        state.username
    ):
        return _error(400, 100, "Only top-level replies to your own posts can be hidden.")
    if params.get("hide") not in ("true", "false"):
        return _error(400, 100, "The parameter hide is required.")
    item["hide_status"] = "HIDDEN" if params["hide"] == "true" else "UNHUSHED"
    return web.json_response({"success": True})


def create_app(state: ThreadsState) -> web.Application:
    """The fake ``graph.threads.net``."""
    app = web.Application()
    app[STATE] = state
    version = r"{version:v[0-9]+\.[0-9]+}"
    app.router.add_post(f"/{version}/{{node}}/threads", _create)
    app.router.add_post(f"/{version}/{{node}}/threads_publish", _publish)
    app.router.add_post(f"/{version}/{{node}}/manage_reply", _manage_reply)
    app.router.add_get(f"/{version}/{{node}}/{{edge}}", _edge)
    return app
