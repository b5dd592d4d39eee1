"""Fake Meta Graph API and webhook sender: Facebook Page comments, Messenger, Instagram (§2).

Meta only pushes, so most of this module builds and delivers webhooks the way Meta does: bodies
ASCII-escaped (``\\uXXXX`` surrogate pairs for emoji, ``\\/`` in URLs) and signed over those exact
bytes with ``X-Hub-Signature-256``, the page's own comments and ``is_echo`` messages included, and
the same payload redelivered on failure. The Graph side takes the replies: comment replies, the
Send API with its 24-hour window, and Instagram replies, with Graph error bodies, code 190 for a
dead token and usage headers when throttled. All state lives in :class:`MetaState`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiohttp
from aiohttp import web

from fakes.clock import ManualClock

Clock = Callable[[], datetime]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Json = dict[str, Any]
Platform = Literal["facebook", "instagram"]

VERSIONED = r"{version:v[0-9]+\.[0-9]+}"
WINDOW_MESSAGE = (
    "(#10) This message is sent outside of allowed window. Learn more about the new policy here: "
    "https://developers.facebook.com/docs/messenger-platform/policy-overview"
)
THROTTLE_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80001: "(#80001) There have been too many calls to this Page account. Wait a bit and try "
    "again. For more info, please refer to "
    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
}
SERVER_ERRORS = {
    500: (1, "An unknown error has occurred."),
    503: (2, "An unexpected error has occurred. Please retry your request later."),
}


# --------------------------------------------------------------------------------------------
# Wire encoding, signatures, verification, delivery


def encode_body(payload: Mapping[str, Any] | list[Any]) -> bytes:
    """JSON as Meta sends it: compact, non-ASCII as lowercase ``\\uXXXX``, ``/`` as ``\\/``."""
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    return text.replace("/", "\\/").encode("ascii")


def signature_256(app_secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256``: ``sha256=`` + lowercase hex HMAC-SHA256 of the raw bytes [V]."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signature_sha1(app_secret: str, body: bytes) -> str:
    """The legacy ``X-Hub-Signature`` (HMAC-SHA1); whether Meta still sends it is [UNVERIFIED]."""
    return "sha1=" + hmac.new(app_secret.encode(), body, hashlib.sha1).hexdigest()


def verification_answer(query: Mapping[str, str], verify_token: str) -> tuple[int, str]:
    """What a receiver must answer to Meta's GET handshake: (200, challenge) or (403, "") [V]."""
    challenge = query.get("hub.challenge")
    ok = query.get("hub.mode") == "subscribe" and query.get("hub.verify_token") == verify_token
    return (200, challenge) if ok and challenge is not None else (403, "")


async def verify_subscription(
    session: aiohttp.ClientSession,
    url: str,
    verify_token: str,
    *,
    challenge: str | None = None,
    sent_token: str | None = None,
) -> bool:
    """Do Meta's handshake against a receiver; True only for 200 with the challenge echoed."""
    challenge = challenge or str(1_000_000_000 + secrets.randbelow(1_000_000_000))
    params = {
        "hub.mode": "subscribe",
        "hub.challenge": challenge,
        "hub.verify_token": verify_token if sent_token is None else sent_token,
    }
    async with session.get(url, params=params, allow_redirects=False) as resp:
        return resp.status == 200 and await resp.text() == challenge


async def deliver_webhook(
    session: aiohttp.ClientSession,
    url: str,
    app_secret: str,
    payload: Mapping[str, Any] | bytes,
    *,
    retries: int = 0,
    duplicates: int = 0,
    legacy_sha1: bool = False,
    timeout_seconds: float = 20.0,
    log: list[bytes] | None = None,
) -> int:
    """POST one signed notification; returns the last HTTP status (0: no answer).

    Like Meta, the same bytes are sent again on a non-2xx or a timeout (up to ``retries`` more
    times, immediately; Meta spreads them over 36 h), and ``duplicates`` more times even after a
    success, because "your server should handle deduplication" [V].
    """
    body = payload if isinstance(payload, bytes) else encode_body(payload)
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": signature_256(app_secret, body),
    }
    if legacy_sha1:
        headers["X-Hub-Signature"] = signature_sha1(app_secret, body)
    timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def attempt() -> int:
        if log is not None:
            log.append(body)
        try:
            async with session.post(url, data=body, headers=headers, timeout=timeout) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError):
            return 0

    status = await attempt()
    for _ in range(retries):
        if 200 <= status < 300:
            break
        status = await attempt()
    for _ in range(duplicates):
        status = await attempt()
    return status


# --------------------------------------------------------------------------------------------
# Payload builders (pure)


def changes_payload(object_: str, entry_id: str, field_name: str, value: Json, time_s: int) -> Json:
    """A Graph "field change" notification: ``entry[].changes[]`` (FB ``feed``, IG comments)."""
    return {
        "object": object_,
        "entry": [
            {"id": entry_id, "time": time_s, "changes": [{"field": field_name, "value": value}]}
        ],
    }


def messaging_payload(
    object_: str,
    entry_id: str,
    events: list[Json],
    time_ms: int,
    *,
    key: Literal["messaging", "standby"] = "messaging",
) -> Json:
    """A Messenger/IG messaging notification: ``entry[].messaging[]`` (or ``standby[]``)."""
    return {"object": object_, "entry": [{"id": entry_id, "time": time_ms, key: events}]}


def batch(*payloads: Json) -> Json:
    """Several notifications in one POST, as Meta batches them (same ``object`` only)."""
    objects = {p["object"] for p in payloads}
    if len(objects) != 1:
        raise ValueError(f"cannot batch different objects: {sorted(objects)}")
    return {"object": objects.pop(), "entry": [e for p in payloads for e in p["entry"]]}


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _s(at: datetime) -> int:
    return int(at.timestamp())


# --------------------------------------------------------------------------------------------
# The world


@dataclass
class MetaComment:
    id: str
    platform: Platform
    from_id: str
    text: str | None
    created_at: datetime
    object_id: str  # the FB post id or the IG media id
    parent_id: str | None  # FB: the post for top-level comments; IG: None for top-level
    from_name: str | None = None
    removed: bool = False
    hidden: bool = False
    hidden_changes: int = 0  # how many calls changed ``hidden``: a hide done twice shows here


@dataclass(frozen=True)
class MetaSend:
    """An accepted write: count these to prove a reply went out exactly once."""

    kind: Literal["comment_reply", "ig_comment_reply", "message", "private_reply"]
    account_id: str
    target: str  # the comment replied to, or the recipient id
    text: str | None
    id: str  # the new comment id or message id
    at: datetime
    messaging_type: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class WebhookEvent:
    """A built notification and the id it is about (comment id or ``mid``)."""

    id: str
    payload: Json


@dataclass
class _Fault:
    kind: Literal["fail", "throttle"]
    status: int
    code: int
    remaining: int


@dataclass
class MetaState:
    """The in-memory Meta world of one test: the Page, its IG account, comments, windows, logs."""

    app_secret: str = "test_app_secret"  # noqa: S105 - the platforms.md test vector
    verify_token: str = "meatyhamhock"  # noqa: S105 - a fake credential
    app_id: str = "263902037430900"
    page_id: str = "137542570280222"
    page_name: str = "Acme"
    ig_account_id: str = "17841405726653026"
    ig_username: str = "acme"
    page_access_token: str = "meta-page-token"  # noqa: S105 - a fake credential
    ig_access_token: str | None = None  # Instagram Login token ("me" = the IG account)
    graph_version: str = "v21.0"
    clock: Clock = field(default_factory=ManualClock)

    messaging_window: timedelta = timedelta(hours=24)
    human_agent_window: timedelta = timedelta(days=7)
    private_reply_window: timedelta = timedelta(days=7)
    usage_call_limit: int = 200  # calls per usage window before automatic throttling
    usage_window: timedelta = timedelta(hours=1)
    emit_outbound_webhooks: bool = True

    # [UNVERIFIED] behaviours, configurable.
    window_error_subcode: int | None = 2018278
    auth_error_status: int = 400
    throttle_status: int = 400
    throttle_code: int = 4
    ig_comment_id_key: Literal["id", "comment_id", "both"] = "id"
    usage_headers: bool = True
    require_messaging_type: bool = True
    reject_unknown_recipients: bool = True

    # The world and the logs tests read.
    comments: dict[str, MetaComment] = field(default_factory=dict)
    sends: list[MetaSend] = field(default_factory=list)
    outbound_webhooks: list[Json] = field(default_factory=list)
    subscribed_fields: dict[str, list[str]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    # People's profiles (User Profile APIs): PSID or IGSID → their fields.
    profiles: dict[str, Json] = field(default_factory=dict)

    _last_inbound: dict[tuple[str, str], datetime] = field(
        default_factory=dict, init=False, repr=False
    )
    _faults: list[_Fault] = field(default_factory=list, init=False, repr=False)
    _counter: int = field(default=0, init=False, repr=False)
    _calls: int = field(default=0, init=False, repr=False)
    _usage_window_end: datetime | None = field(default=None, init=False, repr=False)
    _token_expired: bool = field(default=False, init=False, repr=False)
    _dropped_answers: int = field(default=0, init=False, repr=False)

    # -- ids ---------------------------------------------------------------------------------

    def _num(self, base: int) -> str:
        self._counter += 1
        return str(base + self._counter * 7)

    def new_post_id(self) -> str:
        """A Page post id, ``PAGEID_POSTID``."""
        return f"{self.page_id}_{self._num(139_560_936_744_456)}"

    def _mid(self, platform: Platform) -> str:
        self._counter += 1
        if platform == "instagram":
            raw = f"ig_message_item:1:IGMessageThread:{self.ig_account_id}:{self._counter}"
            return base64.b64encode(raw.encode()).decode().rstrip("=")
        digest = hashlib.sha256(str(self._counter).encode()).digest()[:18]
        return "m_" + base64.urlsafe_b64encode(digest).decode()

    def _now(self, at: datetime | None) -> datetime:
        return at or self.clock()

    # -- Facebook Page feed ------------------------------------------------------------------

    def feed_comment(
        self,
        from_id: str,
        message: str | None,
        *,
        from_name: str | None = "Jane Doe",
        post_id: str | None = None,
        parent_id: str | None = None,
        at: datetime | None = None,
    ) -> WebhookEvent:
        """A new comment (``verb: add``); ``from_id == page_id`` is the Page's own comment."""
        at = self._now(at)
        parent = self.comments.get(parent_id or "")
        post_id = parent.object_id if parent else (post_id or self.new_post_id())
        comment_id = f"{post_id.split('_')[-1]}_{self._num(139_620_233_405_726)}"
        self.comments[comment_id] = MetaComment(
            comment_id, "facebook", from_id, message, at, post_id, parent_id or post_id, from_name
        )
        return WebhookEvent(comment_id, self._feed(comment_id, "add", at))

    def feed_comment_edit(
        self, comment_id: str, message: str, *, at: datetime | None = None
    ) -> WebhookEvent:
        comment = self.comments[comment_id]
        comment.text = message
        return WebhookEvent(comment_id, self._feed(comment_id, "edited", self._now(at)))

    def feed_comment_remove(self, comment_id: str, *, at: datetime | None = None) -> WebhookEvent:
        """``verb: remove`` carries no ``message`` [V]."""
        self.comments[comment_id].removed = True
        return WebhookEvent(comment_id, self._feed(comment_id, "remove", self._now(at)))

    def _feed(self, comment_id: str, verb: str, at: datetime) -> Json:
        comment = self.comments[comment_id]
        sender: Json = {"id": comment.from_id}
        name = self.page_name if comment.from_id == self.page_id else comment.from_name
        if name:
            sender["name"] = name
        value: Json = {
            "from": sender,
            "item": "comment",
            "comment_id": comment_id,
            "post_id": comment.object_id,
            "parent_id": comment.parent_id,
            "verb": verb,
            "created_time": _s(comment.created_at),
        }
        if verb != "remove" and comment.text is not None:
            value["message"] = comment.text
        local = comment.object_id.split("_")[-1]
        value["post"] = {
            "id": comment.object_id,
            "status_type": "mobile_status_update",
            "is_published": True,
            "updated_time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "permalink_url": f"https://www.facebook.com/{self.page_id}/posts/{local}",
            "promotion_status": "inactive",
        }
        return changes_payload("page", self.page_id, "feed", value, _s(at))

    # -- Messenger ---------------------------------------------------------------------------

    def messenger_message(
        self,
        psid: str,
        text: str | None = None,
        *,
        at: datetime | None = None,
        standby: bool = False,
        **message_extra: Any,
    ) -> WebhookEvent:
        """A person writes to the Page; this also opens the 24-hour window for replies."""
        at = self._now(at)
        self._last_inbound[(self.page_id, psid)] = at
        message: Json = {"mid": self._mid("facebook")}
        if text is not None:
            message["text"] = text
        message |= message_extra
        event = {
            "sender": {"id": psid},
            "recipient": {"id": self.page_id},
            "timestamp": _ms(at),
            "message": message,
        }
        key: Literal["messaging", "standby"] = "standby" if standby else "messaging"
        payload = messaging_payload("page", self.page_id, [event], _ms(at), key=key)
        return WebhookEvent(message["mid"], payload)

    def messenger_echo(
        self,
        psid: str,
        text: str,
        *,
        at: datetime | None = None,
        mid: str | None = None,
        metadata: str | None = None,
    ) -> WebhookEvent:
        """The Page's own message coming back (``is_echo``): a receiver must skip it."""
        at = self._now(at)
        message: Json = {
            "mid": mid or self._mid("facebook"),
            "is_echo": True,
            "app_id": int(self.app_id),
        }
        if metadata is not None:
            message["metadata"] = metadata
        message["text"] = text
        event = {
            "sender": {"id": self.page_id},
            "recipient": {"id": psid},
            "timestamp": _ms(at),
            "message": message,
        }
        return WebhookEvent(
            message["mid"], messaging_payload("page", self.page_id, [event], _ms(at))
        )

    # -- Instagram ---------------------------------------------------------------------------

    def ig_comment(
        self,
        from_id: str,
        text: str,
        *,
        username: str = "jane.doe",
        media_id: str | None = None,
        parent_id: str | None = None,
        media_product_type: str = "FEED",
        at: datetime | None = None,
    ) -> WebhookEvent:
        """A comment on the brand's media (``comments``); id key per ``ig_comment_id_key``."""
        at = self._now(at)
        parent = self.comments.get(parent_id or "")
        media_id = parent.object_id if parent else (media_id or self._num(17_918_195_224_117_851))
        comment_id = self._num(17_865_799_348_089_039)
        self.comments[comment_id] = MetaComment(
            comment_id, "instagram", from_id, text, at, media_id, parent_id
        )
        value: Json = {"from": {"id": from_id, "username": username}}
        if self.ig_comment_id_key in ("id", "both"):
            value["id"] = comment_id
        if self.ig_comment_id_key in ("comment_id", "both"):
            value["comment_id"] = comment_id
        if parent_id:
            value["parent_id"] = parent_id
        value["text"] = text
        value["media"] = {"id": media_id, "media_product_type": media_product_type}
        payload = changes_payload("instagram", self.ig_account_id, "comments", value, _s(at))
        return WebhookEvent(comment_id, payload)

    def ig_mention(
        self,
        media_id: str | None = None,
        comment_id: str | None = None,
        *,
        at: datetime | None = None,
    ) -> WebhookEvent:
        """``field: mentions`` carries only ids; no ``comment_id`` for a caption mention [V]."""
        at = self._now(at)
        media_id = media_id or self._num(17_918_195_224_117_851)
        value: Json = {"media_id": media_id}
        if comment_id:
            value["comment_id"] = comment_id
        payload = changes_payload("instagram", self.ig_account_id, "mentions", value, _s(at))
        return WebhookEvent(comment_id or media_id, payload)

    def ig_message(
        self,
        igsid: str,
        text: str | None = None,
        *,
        at: datetime | None = None,
        mid: str | None = None,
        is_echo: bool = False,
        is_deleted: bool = False,
        **message_extra: Any,
    ) -> WebhookEvent:
        """An IG DM; an echo swaps sender and recipient [V]; a user's DM opens the window."""
        at = self._now(at)
        if not (is_echo or is_deleted):
            self._last_inbound[(self.ig_account_id, igsid)] = at
        message: Json = {"mid": mid or self._mid("instagram")}
        if text is not None:
            message["text"] = text
        if is_echo:
            message["is_echo"] = True
        if is_deleted:
            message["is_deleted"] = True
        message |= message_extra
        sender, recipient = (self.ig_account_id, igsid) if is_echo else (igsid, self.ig_account_id)
        event = {
            "sender": {"id": sender},
            "recipient": {"id": recipient},
            "timestamp": _ms(at),
            "message": message,
        }
        payload = messaging_payload("instagram", self.ig_account_id, [event], _ms(at))
        return WebhookEvent(message["mid"], payload)

    def open_window(
        self, user_id: str, *, account_id: str | None = None, at: datetime | None = None
    ) -> None:
        """Record that ``user_id`` last wrote at ``at`` without building a webhook."""
        self._last_inbound[(account_id or self.page_id, user_id)] = self._now(at)

    # -- people ------------------------------------------------------------------------------

    def add_person(
        self,
        user_id: str,
        first_name: str,
        last_name: str = "",
        *,
        platform: Platform = "facebook",
        username: str | None = None,
    ) -> None:
        """Someone Meta will describe: a Messenger PSID (``first_name``, ``last_name``,
        ``name``) or an Instagram IGSID (``name``, ``username``) [V: the User Profile APIs]."""
        name = " ".join(p for p in (first_name, last_name) if p)
        if platform == "instagram":
            self.profiles[user_id] = {"name": name or None, "username": username or user_id}
        else:
            self.profiles[user_id] = {
                "name": name,
                "first_name": first_name,
                "last_name": last_name,
                "profile_pic": f"https://platform-lookaside.fbsbx.com/platform/profilepic/?psid={user_id}",
            }

    def profile_lookups(self, user_id: str) -> int:
        """How many profile reads asked about ``user_id``."""
        return sum(
            1 for r in self.requests if r.startswith(f"GET /{self.graph_version}/{user_id}?")
        )

    # -- switches ----------------------------------------------------------------------------

    def fail_next(self, status: int = 500, count: int = 1) -> None:
        """The next ``count`` Graph calls fail with a transient Graph error (code 1 or 2)."""
        self._faults.append(_Fault("fail", status, SERVER_ERRORS.get(status, (1, ""))[0], count))

    def throttle_next(self, count: int = 1, *, code: int | None = None) -> None:
        """The next ``count`` Graph calls are throttled (usage headers report 100%)."""
        code = code or self.throttle_code
        self._faults.append(_Fault("throttle", self.throttle_status, code, count))

    def expire_token(self) -> None:
        """Every token stops working (code 190) until :meth:`renew_token`."""
        self._token_expired = True

    def renew_token(self, page_access_token: str) -> None:
        self.page_access_token = page_access_token
        self._token_expired = False

    def drop_next_answer(self, count: int = 1) -> None:
        """The next ``count`` Graph calls are carried out, then the connection is closed
        before the answer is sent (a lost answer)."""
        self._dropped_answers += count

    def messages_to(self, recipient_id: str) -> list[MetaSend]:
        return [s for s in self.sends if s.target == recipient_id and s.kind == "message"]

    def _take_fault(self) -> _Fault | None:
        if not self._faults:
            return None
        fault = self._faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            self._faults.pop(0)
        return fault

    def _trace_id(self) -> str:
        self._counter += 1
        digest = hashlib.sha256(f"fbtrace{self._counter}".encode()).digest()
        return base64.b64encode(digest).decode()[:11].replace("+", "A").replace("/", "B")


# --------------------------------------------------------------------------------------------
# Graph HTTP


class GraphError(Exception):
    """A Graph error: ``{"error": {"message","type","code","error_subcode","fbtrace_id"}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        code: int,
        *,
        subcode: int | None = None,
        type_: str = "OAuthException",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.subcode, self.type = (
            status,
            message,
            code,
            subcode,
            type_,
        )

    def body(self, trace_id: str) -> Json:
        error: Json = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["fbtrace_id"] = trace_id
        return {"error": error}


STATE = web.AppKey("meta_state", MetaState)
PARAMS = web.RequestKey("graph_params", dict[str, Any])
ACCOUNT = web.RequestKey("graph_account", str)


def _graph_response(status: int, body: Json) -> web.Response:
    return web.Response(
        status=status, body=encode_body(body), content_type="application/json", charset="UTF-8"
    )


def _unsupported(method: str, node: str) -> GraphError:
    return GraphError(
        400,
        f"Unsupported {method.lower()} request. Object with ID '{node}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. Please read the "
        "Graph API documentation at https://developers.facebook.com/docs/graph-api",
        100,
        subcode=33,
        type_="GraphMethodException",
    )


async def _params(request: web.Request) -> dict[str, Any]:
    """Query, form or JSON body merged: Graph takes parameters from any of them."""
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = json.loads(await request.read())
            except ValueError:
                raise GraphError(400, "(#100) Invalid JSON body", 100) from None
            if isinstance(body, dict):
                params |= body
        else:
            params |= dict(await request.post())
    return params


def _object_param(params: Mapping[str, Any], key: str) -> Any:
    """Send API objects arrive as JSON, or as JSON strings inside a form body."""
    value = params.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise GraphError(400, f"(#100) param {key} must be a JSON object", 100) from None
    return value


def _authenticate(state: MetaState, request: web.Request, params: Mapping[str, Any]) -> str:
    """Returns the account the token acts for; ``access_token`` param or Bearer [V]."""
    scheme, _, header_token = request.headers.get("Authorization", "").partition(" ")
    token = params.get("access_token") or (
        header_token if scheme.lower() in ("bearer", "oauth") else None
    )
    if not token:
        raise GraphError(400, "An access token is required to request this resource.", 104)
    accounts = {state.page_access_token: state.page_id}
    if state.ig_access_token:
        accounts[state.ig_access_token] = state.ig_account_id
    if token not in accounts:
        message = "Invalid OAuth access token - Cannot parse access token"
        raise GraphError(state.auth_error_status, message, 190)
    if state._token_expired:
        message = "Error validating access token: Session has expired."
        raise GraphError(state.auth_error_status, message, 190, subcode=463)
    return accounts[token]


def _usage(state: MetaState, now: datetime, throttled: bool) -> tuple[int, int]:
    """(percent used, minutes to regain access) for the usage headers."""
    if state._usage_window_end is None or now >= state._usage_window_end:
        state._calls, state._usage_window_end = 0, now + state.usage_window
    percent = 100 if throttled else min(100, state._calls * 100 // max(1, state.usage_call_limit))
    left = (state._usage_window_end - now).total_seconds()
    return percent, math.ceil(left / 60) if percent >= 100 else 0


def _usage_headers(state: MetaState, percent: int, regain_minutes: int) -> dict[str, str]:
    app = {"call_count": percent, "total_time": percent, "total_cputime": percent}
    buc = {
        state.page_id: [
            {
                "type": "pages",
                "call_count": percent,
                "total_cputime": percent,
                "total_time": percent,
                "estimated_time_to_regain_access": regain_minutes,
            }
        ]
    }
    compact = (",", ":")
    return {
        "X-App-Usage": json.dumps(app, separators=compact),
        "X-Business-Use-Case-Usage": json.dumps(buc, separators=compact),
    }


@web.middleware
async def _meta_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    state.requests.append(f"{request.method} {request.path_qs}")
    now = state.clock()
    throttled = False
    try:
        fault = state._take_fault()
        if fault and fault.kind == "fail":
            code, message = SERVER_ERRORS.get(fault.status, (1, "An unknown error has occurred."))
            raise GraphError(fault.status, message, code)
        if fault:
            throttled = True
            raise GraphError(
                fault.status, THROTTLE_MESSAGES.get(fault.code, "Throttled"), fault.code
            )
        if request.match_info.route.name is None:
            raise _unsupported(request.method, request.path.rsplit("/", 1)[-1])
        params = await _params(request)
        request[PARAMS] = params
        request[ACCOUNT] = _authenticate(state, request, params)
        percent, _ = _usage(state, now, False)
        if percent >= 100:
            throttled = True
            code = state.throttle_code
            raise GraphError(state.throttle_status, THROTTLE_MESSAGES.get(code, "Throttled"), code)
        state._calls += 1
        response = await handler(request)
        if state._dropped_answers > 0:  # done, but the answer never reaches the caller
            state._dropped_answers -= 1
            if request.transport is not None:
                request.transport.close()
            raise web.HTTPInternalServerError
    except GraphError as err:
        response = _graph_response(err.status, err.body(state._trace_id()))
    response.headers["facebook-api-version"] = request.match_info.get(
        "version", state.graph_version
    )
    if state.usage_headers:
        response.headers.update(_usage_headers(state, *_usage(state, now, throttled)))
    return response


def _text_param(params: Mapping[str, Any]) -> str:
    message = params.get("message")
    if not isinstance(message, str) or not message:
        raise GraphError(400, "(#100) Missing message or attachment", 100)
    return message


def _live_comment(state: MetaState, node: str, platform: Platform, method: str) -> MetaComment:
    comment = state.comments.get(node)
    if comment is None or comment.platform != platform or comment.removed:
        raise _unsupported(method, node)
    return comment


async def _reply_to_comment(request: web.Request) -> web.StreamResponse:
    """``POST /{comment-id}/comments`` (Page token) → ``{"id": ...}``; the reply echoes on feed."""
    state, node = request.app[STATE], request.match_info["node"]
    params = request[PARAMS]
    text = _text_param(params)
    comment = _live_comment(state, node, "facebook", request.method)
    top = (
        comment
        if comment.parent_id == comment.object_id
        else state.comments[comment.parent_id or ""]
    )
    event = state.feed_comment(state.page_id, text, parent_id=top.id)
    state.sends.append(
        MetaSend("comment_reply", state.page_id, node, text, event.id, state.clock())
    )
    if state.emit_outbound_webhooks:
        state.outbound_webhooks.append(event.payload)
    return _graph_response(200, {"id": event.id})


async def _reply_to_ig_comment(request: web.Request) -> web.StreamResponse:
    """``POST /{ig-comment-id}/replies`` → ``{"id"}``; replies attach to the top comment [V]."""
    state, node = request.app[STATE], request.match_info["node"]
    params: dict[str, Any] = request[PARAMS]
    text = _text_param(params)
    comment = _live_comment(state, node, "instagram", request.method)
    if comment.hidden:
        raise GraphError(400, "(#100) Cannot reply to a hidden comment", 100)
    top_id = comment.parent_id or comment.id
    reply_id = state._num(17_873_440_459_141_021)
    state.comments[reply_id] = MetaComment(
        reply_id, "instagram", state.ig_account_id, text, state.clock(), comment.object_id, top_id
    )
    state.sends.append(
        MetaSend("ig_comment_reply", state.ig_account_id, node, text, reply_id, state.clock())
    )
    return _graph_response(200, {"id": reply_id})


MESSENGER_TEXT_LIMIT = 2000  # characters, Messenger's Send API
INSTAGRAM_TEXT_BYTES = 1000  # UTF-8 bytes, Instagram messaging


def _check_length(text: Any, limit: int, measure: Callable[[str], int]) -> None:
    if isinstance(text, str) and measure(text) > limit:
        raise GraphError(
            400, f"(#100) Length of param message[text] must be less than or equal to {limit}", 100
        )


def _send_account(state: MetaState, node: str, token_account: str, user_id: str) -> str:
    """Which inbox a Send API call writes from: the Page, or the IG account behind it."""
    if node == "me":
        node = token_account
    if node not in (state.page_id, state.ig_account_id):
        raise _unsupported("post", node)
    if node == state.ig_account_id and token_account == state.page_id:
        # With a Page token, Instagram DMs go through the Page (/{page-id}/messages or
        # /me/messages); /{ig-id}/messages is Instagram Login's, with an Instagram token.
        raise _unsupported("post", node)
    if token_account == state.ig_account_id and node != state.ig_account_id:
        raise GraphError(403, "(#200) The token does not have permission for this Page", 200)
    on_ig = (state.ig_account_id, user_id) in state._last_inbound
    if node == state.page_id and (node, user_id) not in state._last_inbound and on_ig:
        return state.ig_account_id
    return node


async def _send_message(request: web.Request) -> web.StreamResponse:
    """The Send API: ``POST /{page-id|ig-id|me}/messages`` → ``{recipient_id, message_id}`` [V]."""
    state, params = request.app[STATE], request[PARAMS]
    recipient, message = _object_param(params, "recipient"), _object_param(params, "message")
    if not isinstance(recipient, dict) or not recipient:
        raise GraphError(400, "(#100) param recipient must be non-empty.", 100)
    if not isinstance(message, dict) or not (message.get("text") or message.get("attachment")):
        raise GraphError(400, "(#100) Must send either message or state", 100)
    text = message.get("text")
    _check_length(text, MESSENGER_TEXT_LIMIT, len)
    now = state.clock()
    if "comment_id" in recipient:
        return _private_reply(state, str(recipient["comment_id"]), text, now)
    messaging_type, tag = params.get("messaging_type"), params.get("tag")
    if messaging_type is None and state.require_messaging_type:
        raise GraphError(400, "(#100) The parameter messaging_type is required", 100)
    if messaging_type not in (None, "RESPONSE", "UPDATE", "MESSAGE_TAG"):
        raise GraphError(
            400,
            "(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG} - got "
            f'"{messaging_type}"',
            100,
        )
    user_id = str(recipient.get("id", ""))
    account = _send_account(state, request.match_info["node"], request[ACCOUNT], user_id)
    last = state._last_inbound.get((account, user_id))
    if last is None and state.reject_unknown_recipients:
        raise GraphError(400, "(#100) No matching user found", 100, subcode=2018001)
    window = state.messaging_window
    if messaging_type == "MESSAGE_TAG":
        window = state.human_agent_window if tag == "HUMAN_AGENT" else timedelta.max
    if last is not None and window != timedelta.max and now - last > window:
        raise GraphError(400, WINDOW_MESSAGE, 10, subcode=state.window_error_subcode)
    platform: Platform = "instagram" if account == state.ig_account_id else "facebook"
    if platform == "instagram":
        _check_length(text, INSTAGRAM_TEXT_BYTES, lambda t: len(t.encode("utf-8")))
    mid = state._mid(platform)
    state.sends.append(MetaSend("message", account, user_id, text, mid, now, messaging_type, tag))
    if state.emit_outbound_webhooks and isinstance(text, str):
        echo = (
            state.ig_message(user_id, text, mid=mid, is_echo=True, at=now)
            if platform == "instagram"
            else state.messenger_echo(user_id, text, mid=mid, at=now)
        )
        state.outbound_webhooks.append(echo.payload)
    return _graph_response(200, {"recipient_id": user_id, "message_id": mid})


def _private_reply(
    state: MetaState, comment_id: str, text: Any, now: datetime
) -> web.StreamResponse:
    """``recipient: {comment_id}``: one DM to a commenter, within 7 days of the comment [V];
    a second one is refused with code 10900, "Activity already replied to"."""
    comment = state.comments.get(comment_id)
    if comment is None or comment.removed:
        raise _unsupported("post", comment_id)
    if now - comment.created_at > state.private_reply_window:
        raise GraphError(400, WINDOW_MESSAGE, 10, subcode=state.window_error_subcode)
    if any(s.kind == "private_reply" and s.target == comment_id for s in state.sends):
        raise GraphError(400, "(#10900) Activity already replied to", 10900)
    account = state.ig_account_id if comment.platform == "instagram" else state.page_id
    mid = state._mid(comment.platform)
    state.sends.append(
        MetaSend("private_reply", account, comment_id, text, mid, now, "RESPONSE", None)
    )
    return _graph_response(200, {"recipient_id": comment.from_id, "message_id": mid})


async def _update_comment(request: web.Request) -> web.StreamResponse:
    """``POST /{comment-id}``: Facebook hides or shows a comment with ``is_hidden``, Instagram
    with ``hide`` → ``{"success": true}`` [V]. The Page's (or IG account's) own comments
    cannot be hidden; a deleted comment does not exist any more (code 100, subcode 33)."""
    state, node, params = request.app[STATE], request.match_info["node"], request[PARAMS]
    comment = state.comments.get(node)
    if comment is None or comment.removed:
        raise _unsupported(request.method, node)
    key = "is_hidden" if comment.platform == "facebook" else "hide"
    wanted = _bool_param(params, key)
    if comment.from_id in (state.page_id, state.ig_account_id):
        raise GraphError(400, "(#100) You cannot hide your own comment", 100)
    if comment.hidden != wanted:
        comment.hidden = wanted
        comment.hidden_changes += 1
    return _graph_response(200, {"success": True})


def _bool_param(params: Mapping[str, Any], key: str) -> bool:
    value = params.get(key)
    if value in (True, "true", "1", 1):
        return True
    if value in (False, "false", "0", 0):
        return False
    raise GraphError(400, f"(#100) The parameter {key} is required", 100)


async def _delete_comment(request: web.Request) -> web.StreamResponse:
    """``DELETE /{comment-id}`` → ``{"success": true}``; a second delete finds nothing [V]."""
    state, node = request.app[STATE], request.match_info["node"]
    comment = state.comments.get(node)
    if comment is None or comment.removed:
        raise _unsupported(request.method, node)
    comment.removed = True
    return _graph_response(200, {"success": True})


PROFILE_FIELDS = {
    "id",
    "name",
    "first_name",
    "last_name",
    "profile_pic",
    "username",
    "is_verified_user",
    "follower_count",
    "is_user_follow_business",
    "is_business_follow_user",
}


async def _read_profile(request: web.Request) -> web.StreamResponse:
    """``GET /{PSID or IGSID}?fields=…`` with the Page token: the fields asked that the person
    has (Graph answers only what was asked, and ``id``); an unknown id, or fields Meta does not
    offer for a customer (``email``…), are refused the way Graph refuses them."""
    state, params = request.app[STATE], request[PARAMS]
    node = request.match_info["node"]
    person = state.profiles.get(node)
    if person is None:
        raise _unsupported("GET", node)
    asked = [f for f in str(params.get("fields") or "name").split(",") if f]
    unknown = [f for f in asked if f not in PROFILE_FIELDS]
    if unknown:
        raise GraphError(400, f"(#100) Tried accessing nonexisting field ({unknown[0]})", 100)
    body: Json = {f: person[f] for f in asked if f in person}
    return _graph_response(200, {**body, "id": node})


async def _subscribed_apps(request: web.Request) -> web.StreamResponse:
    state, params = request.app[STATE], request[PARAMS]
    fields = str(params.get("subscribed_fields", ""))
    state.subscribed_fields[request.match_info["node"]] = [f for f in fields.split(",") if f]
    return _graph_response(200, {"success": True})


def create_app(state: MetaState) -> web.Application:
    """The fake ``graph.facebook.com`` / ``graph.instagram.com`` write endpoints, and the
    User Profile reads."""
    app = web.Application(middlewares=[_meta_middleware])
    app[STATE] = state
    routes: list[tuple[str, Handler, str]] = [
        ("comments", _reply_to_comment, "comment_reply"),
        ("replies", _reply_to_ig_comment, "ig_comment_reply"),
        ("messages", _send_message, "send_message"),
        ("subscribed_apps", _subscribed_apps, "subscribed_apps"),
    ]
    for edge, handler, name in routes:
        app.router.add_post(f"/{VERSIONED}/{{node}}/{edge}", handler, name=name)
        app.router.add_post(f"/{{node}}/{edge}", handler, name=f"{name}_unversioned")
    for prefix, suffix in ((f"/{VERSIONED}", ""), ("", "_unversioned")):
        app.router.add_post(f"{prefix}/{{node}}", _update_comment, name=f"update{suffix}")
        app.router.add_delete(f"{prefix}/{{node}}", _delete_comment, name=f"delete{suffix}")

    app.router.add_get(f"/{VERSIONED}/{{node}}", _read_profile, name="read_profile")
    return app
