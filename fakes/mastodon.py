"""Fake Mastodon server speaking the real wire format (platforms.md §3).

Connectors are tested against the quirks that bite in production: string ids, ``min_id`` vs
``since_id`` paging, ``Link`` headers (absent on an empty page), HTML content with entities, direct
visibility as DMs, edits that keep the id, deletes that only show as 404, ``Idempotency-Key``,
401/429 bodies and ``X-RateLimit-*`` headers with an ISO 8601 reset from an injectable clock,
and posts whose answer is held (a sender can die mid-send after the post exists).
All state lives in :class:`MastodonState`; tests build the world and flip faults on it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple
from urllib.parse import urlencode

from aiohttp import web

from fakes.clock import wall_clock
from fakes.held import HeldAnswers, HoldsAnswers

Clock = Callable[[], datetime]
ResetFormat = Literal["iso", "iso_fraction", "epoch"]
CursorPolicy = Literal["compare", "empty", "error"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

VISIBILITIES = ("public", "unlisted", "private", "direct")
INVALID_TOKEN = "The access token is invalid"  # noqa: S105 - an error text
REPLY_TARGET_MISSING = "The post you are trying to reply to does not appear to exist."
ERROR_TEXT = {
    400: "The request you submitted was invalid or malformed.",
    401: INVALID_TOKEN,
    403: "This action is not allowed",
    404: "Record not found",
    410: "The requested resource is no longer available",
    422: "Validation failed",
    429: "Too many requests",
    500: "We're sorry, but something went wrong on our end.",
    503: "There was a temporary problem serving your request, please try again",
}


class MentionIds(NamedTuple):
    """A mention is two ids: the notification id (the cursor) and the status id (the content)."""

    notification_id: str
    status_id: str


@dataclass
class Account:
    id: str
    username: str
    domain: str | None  # None for accounts local to the fake instance
    display_name: str = ""
    bot: bool = False

    @property
    def acct(self) -> str:
        return self.username if self.domain is None else f"{self.username}@{self.domain}"


@dataclass
class Status:
    id: str
    account_id: str
    content: str
    created_at: datetime
    visibility: str = "public"
    in_reply_to_id: str | None = None
    in_reply_to_account_id: str | None = None
    language: str | None = "en"
    spoiler_text: str = ""
    mention_ids: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    edited_at: datetime | None = None
    deleted: bool = False


@dataclass
class Notification:
    id: str
    type: str
    created_at: datetime
    account_id: str
    status_id: str | None = None
    filtered: bool = False  # hidden by a NotificationPolicy unless include_filtered=true


@dataclass
class _Fault:
    status: int
    error: str
    remaining: int
    path: str | None


@dataclass
class MastodonState(HoldsAnswers):
    """The whole fake instance: world, knobs for unverified behaviour, fault switches, counters."""

    clock: Clock = field(default_factory=lambda: wall_clock)
    domain: str = "mastodon.example"
    brand_username: str = "acme"
    brand_id: str = "14715"
    tokens: set[str] = field(default_factory=lambda: {"mastodon-test-token"})
    # Documented values (§3.2, §3.5); older servers used 15/30 for the limit.
    default_limit: int = 40
    max_limit: int = 80
    rate_limit: int = 300
    rate_period_seconds: int = 300
    max_characters: int = 500
    idempotency_ttl: timedelta = timedelta(hours=1)
    # [UNVERIFIED] knobs.
    reset_format: ResetFormat = "iso"  # "iso" 2023-08-17T08:42:22+00:00, "iso_fraction", "epoch"
    honour_idempotency_key: bool = True  # vanilla: yes; other fediverse servers may not
    delete_removes_notifications: bool = True  # the removal mechanism is unverified
    unknown_cursor: CursorPolicy = "compare"  # vanilla just compares ids
    unknown_cursor_error: tuple[int, str] = (400, "Invalid pagination cursor")
    public_url: str | None = None  # base of Link URLs; default: the URL the request came to
    # World.
    accounts: dict[str, Account] = field(default_factory=dict)
    statuses: dict[str, Status] = field(default_factory=dict)
    notifications: list[Notification] = field(default_factory=list)
    # Counters and logs for assertions.
    created_statuses: list[str] = field(default_factory=list)
    request_log: list[str] = field(default_factory=list)
    # Internals.
    overlap: int = 0
    _faults: list[_Fault] = field(default_factory=list)
    _forced_429: int = 0
    _forced_reset: datetime | None = None
    _window_start: float = -1.0
    _window_used: int = 0
    _next_notification: int = 34975800
    _status_seq: int = 0
    _idempotency: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    held_answers: HeldAnswers = field(default_factory=HeldAnswers)

    def __post_init__(self) -> None:
        self.accounts.setdefault(
            self.brand_id, Account(self.brand_id, self.brand_username, None, "ACME Support")
        )

    # ----- world builders -------------------------------------------------------------------

    @property
    def brand(self) -> Account:
        return self.accounts[self.brand_id]

    def account(self, acct: str, display_name: str = "", bot: bool = False) -> Account:
        """Get or create an account from ``user`` (local) or ``user@domain`` (remote)."""
        username, _, domain = acct.lstrip("@").partition("@")
        remote = domain or None
        if remote == self.domain:
            remote = None
        for existing in self.accounts.values():
            if existing.username == username and existing.domain == remote:
                return existing
        new_id = str(971724 + len(self.accounts))
        created = Account(new_id, username, remote, display_name or username, bot)
        self.accounts[new_id] = created
        return created

    def add_status(
        self,
        account: str | Account,
        html: str,
        created_at: datetime,
        visibility: str = "public",
        in_reply_to_id: str | None = None,
        in_reply_to_account_id: str | None = None,
        language: str | None = "en",
        spoiler_text: str = "",
        mentions: list[str] | None = None,
        tags: list[str] | None = None,
    ) -> str:
        """Add a status without notifying the brand (e.g. the brand's own post); return its id."""
        author = account if isinstance(account, Account) else self.account(account)
        if visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of {VISIBILITIES}")
        if in_reply_to_id is not None and in_reply_to_account_id is None:
            parent = self.statuses.get(in_reply_to_id)
            in_reply_to_account_id = parent.account_id if parent else None
        status = Status(
            id=self._status_id(created_at),
            account_id=author.id,
            content=html,
            created_at=created_at,
            visibility=visibility,
            in_reply_to_id=in_reply_to_id,
            in_reply_to_account_id=in_reply_to_account_id,
            language=language,
            spoiler_text=spoiler_text,
            mention_ids=[self.account(a).id for a in mentions or []],
            tags=list(tags or []),
        )
        self.statuses[status.id] = status
        return status.id

    def add_mention(
        self,
        account: str | Account,
        html: str,
        created_at: datetime,
        *,
        mentions: list[str] | None = None,
        filtered: bool = False,
        notified_at: datetime | None = None,
        **options: Any,
    ) -> MentionIds:
        """A status that mentions the brand plus its ``mention`` notification; ``options`` are
        those of ``add_status``.

        ``visibility="direct"`` makes it a DM. ``filtered=True`` hides it behind a
        NotificationPolicy unless the client asks ``include_filtered=true``.
        """
        status_id = self.add_status(
            account, html, created_at, mentions=[self.brand.acct, *(mentions or [])], **options
        )
        status = self.statuses[status_id]
        note = self.add_notification(
            "mention", status.account_id, status_id, notified_at or created_at, filtered
        )
        return MentionIds(note, status_id)

    def add_notification(
        self,
        type_: str,
        account: str | Account,
        status_id: str | None = None,
        created_at: datetime | None = None,
        filtered: bool = False,
    ) -> str:
        """Any notification (``favourite``, ``follow``, ``reblog``...); ids grow with arrival."""
        if isinstance(account, Account):
            account_id = account.id
        elif account in self.accounts:
            account_id = account
        else:
            account_id = self.account(account).id
        self._next_notification += 1
        note_id = str(self._next_notification)
        when = created_at or self.clock()
        self.notifications.append(
            Notification(note_id, type_, when, account_id, status_id, filtered)
        )
        return note_id

    def _status_id(self, created_at: datetime) -> str:
        """Snowflake-like ids (ms << 16 | sequence): long digit strings, unlike notification ids."""
        self._status_seq += 1
        candidate = (int(created_at.timestamp() * 1000) << 16) | (self._status_seq & 0xFFFF)
        while str(candidate) in self.statuses:
            candidate += 1
        return str(candidate)

    # ----- fault switches -------------------------------------------------------------------

    def fail_next(
        self, status: int, count: int = 1, error: str | None = None, path: str | None = None
    ) -> None:
        """The next ``count`` requests (to ``path`` only, if given) fail with ``status``."""
        text = error or ERROR_TEXT.get(status, "Internal server error")
        self._faults.append(_Fault(status, text, count, path))

    def rate_limit_next(self, count: int = 1, reset_in_seconds: float = 60) -> None:
        """The next ``count`` requests get 429 with ``Remaining: 0`` and a reset that far ahead."""
        self._forced_429 = count
        self._forced_reset = self.clock() + timedelta(seconds=reset_in_seconds)

    def expire_token(self, token: str | None = None) -> None:
        """Revoke one token, or all of them: requests then get 401 ``The access token...``."""
        if token is None:
            self.tokens.clear()
        else:
            self.tokens.discard(token)

    def delete_status(self, status_id: str) -> None:
        """Delete without any event: refetch gives 404 and its notifications disappear."""
        self.statuses[status_id].deleted = True

    def edit_status(self, status_id: str, new_html: str) -> None:
        """Edit in place: same id, ``edited_at`` set, and no new notification (§3.2)."""
        status = self.statuses[status_id]
        status.content = new_html
        status.edited_at = self.clock()

    def duplicate_overlap(self, count: int = 1) -> None:
        """``min_id``/``since_id`` pages also repeat ``count`` items at or below the cursor."""
        self.overlap = count

    def reject_unknown_cursors(
        self,
        mode: CursorPolicy = "empty",
        status: int = 400,
        error: str = "Invalid pagination cursor",
    ) -> None:
        """Treat a cursor that is no current notification id as "empty" (200 []) or "error".

        Vanilla Mastodon only compares ids ("compare"); other servers are unverified.
        """
        self.unknown_cursor = mode
        self.unknown_cursor_error = (status, error)

    @property
    def created_count(self) -> int:
        return len(self.created_statuses)

    # ----- rendering ------------------------------------------------------------------------

    def account_json(self, account_id: str) -> dict[str, Any]:
        acc = self.accounts[account_id]
        host = acc.domain or self.domain
        avatar = f"https://{self.domain}/avatars/original/missing.png"
        header = f"https://{self.domain}/headers/original/missing.png"
        return {  # every attribute the Account entity always carries (Mastodon 4.3)
            "id": acc.id,
            "username": acc.username,
            "acct": acc.acct,
            "display_name": acc.display_name,
            "locked": False,
            "bot": acc.bot,
            "discoverable": True,
            "indexable": False,
            "group": False,
            "created_at": "2023-01-01T00:00:00.000Z",
            "note": "",
            "url": f"https://{host}/@{acc.username}",
            "uri": f"https://{host}/users/{acc.username}",
            "avatar": avatar,
            "avatar_static": avatar,
            "header": header,
            "header_static": header,
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": 0,
            "last_status_at": None,
            "hide_collections": False,
            "noindex": False,
            "emojis": [],
            "fields": [],
        }

    def status_json(self, status: Status) -> dict[str, Any]:
        acc = self.accounts[status.account_id]
        host = acc.domain or self.domain
        return {
            "id": status.id,
            "uri": f"https://{host}/users/{acc.username}/statuses/{status.id}",
            "url": f"https://{host}/@{acc.username}/{status.id}",
            "created_at": _rfc3339(status.created_at),
            "account": self.account_json(status.account_id),
            "content": status.content,
            "visibility": status.visibility,
            "sensitive": bool(status.spoiler_text),
            "spoiler_text": status.spoiler_text,
            "in_reply_to_id": status.in_reply_to_id,
            "in_reply_to_account_id": status.in_reply_to_account_id,
            "language": status.language,
            "mentions": [self._mention_json(i) for i in status.mention_ids],
            "tags": [{"name": t, "url": f"https://{self.domain}/tags/{t}"} for t in status.tags],
            "emojis": [],
            "media_attachments": [],
            "reblog": None,
            "poll": None,
            "card": None,
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "edited_at": _rfc3339(status.edited_at) if status.edited_at else None,
            "favourited": False,
            "reblogged": False,
            "muted": False,
            "bookmarked": False,
            "filtered": [],
        }

    def _mention_json(self, account_id: str) -> dict[str, Any]:
        acc = self.account_json(account_id)
        return {k: acc[k] for k in ("id", "username", "url", "acct")}

    def notification_json(self, note: Notification) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": note.id,
            "type": note.type,
            "created_at": _rfc3339(note.created_at),
            "group_key": f"ungrouped-{note.id}",
            "account": self.account_json(note.account_id),
        }
        if note.status_id is not None:
            body["status"] = self.status_json(self.statuses[note.status_id])
        return body

    def visible(self, note: Notification) -> bool:
        if note.status_id is None or not self.delete_removes_notifications:
            return True
        return not self.statuses[note.status_id].deleted


# ----- HTML the way Mastodon sanitises it -------------------------------------------------------

_TOKEN = re.compile(
    r"(?P<url>https?://[^\s<]+)"
    r"|(?<![\w/])@(?P<user>\w+)(?:@(?P<host>[\w.-]+\w))?"
    r"|(?<![\w&/])#(?P<tag>\w*[^\W\d]\w*)"  # a hashtag needs a letter: "#4411" is text
)


def escape(text: str) -> str:
    """Escape like Mastodon does: ``&amp; &lt; &gt; &quot; &#39;``."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def status_html(text: str, instance: str = "mastodon.example", paragraphs: bool = True) -> str:
    """Render plain text as Mastodon content HTML: mention h-cards, hashtags, split links.

    Blank lines become ``</p><p>``, single newlines ``<br />``. ``paragraphs=False`` gives the
    remote, non-Mastodon style without the ``<p>`` wrapper.
    """
    blocks = [_render_block(b, instance) for b in text.split("\n\n")]
    if not paragraphs:
        return "<br /><br />".join(blocks)
    return "".join(f"<p>{b}</p>" for b in blocks)


def _render_block(block: str, instance: str) -> str:
    out: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(block):
        out.append(escape(block[pos : m.start()]))
        pos = m.end()
        if m["url"]:
            url = m["url"].rstrip(".,;:!?)'\"")
            out.append(_link_html(url))
            pos = m.start() + len(url)
        elif m["user"]:
            host = m["host"] or instance
            out.append(
                f'<span class="h-card" translate="no"><a href="https://{host}/@{m["user"]}" '
                f'class="u-url mention">@<span>{m["user"]}</span></a></span>'
            )
        else:
            out.append(
                f'<a href="https://{instance}/tags/{m["tag"]}" class="mention hashtag" '
                f'rel="tag">#<span>{m["tag"]}</span></a>'
            )
    out.append(escape(block[pos:]))
    return "".join(out).replace("\n", "<br />")


def _link_html(url: str) -> str:
    scheme, _, rest = url.partition("://")
    shown, hidden = rest[:30], rest[30:]
    ellipsis = "ellipsis" if hidden else ""
    return (
        f'<a href="{escape(url)}" target="_blank" rel="nofollow noopener noreferrer" '
        f'translate="no"><span class="invisible">{scheme}://</span>'
        f'<span class="{ellipsis}">{escape(shown)}</span>'
        f'<span class="invisible">{escape(hidden)}</span></a>'
    )


# ----- HTTP ----------------------------------------------------------------------------------

STATE_KEY = web.AppKey("mastodon_state", MastodonState)


def create_app(state: MastodonState) -> web.Application:
    """The fake instance as an aiohttp app; point a connector's base URL at it."""
    app = web.Application(middlewares=[_platform_middleware])
    app[STATE_KEY] = state
    app.router.add_get("/api/v1/notifications", _list_notifications)
    app.router.add_get("/api/v1/statuses/{id}", _get_status)
    app.router.add_post("/api/v1/statuses", _post_status)
    app.router.add_get("/api/v1/accounts/verify_credentials", _verify_credentials)
    return app


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def _platform_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Rate limiting and injected faults sit in front of every route, like Rack::Attack."""
    state = request.app[STATE_KEY]
    state.request_log.append(f"{request.method} {request.path_qs}")
    limited, headers = _consume_rate_limit(state)
    response: web.StreamResponse
    if limited:
        response = _error(429, ERROR_TEXT[429])
    elif (fault := _take_fault(state, request.path)) is not None:
        response = _error(fault.status, fault.error)
    else:
        try:
            response = await handler(request)
        except web.HTTPNotFound:
            response = _error(404, "Record not found")
        except web.HTTPException as exc:
            response = _error(exc.status, ERROR_TEXT.get(exc.status, exc.reason))
    response.headers.update(headers)
    return response


def _consume_rate_limit(state: MastodonState) -> tuple[bool, dict[str, str]]:
    now = state.clock()
    period = state.rate_period_seconds
    start = (now.timestamp() // period) * period
    if start != state._window_start:
        state._window_start, state._window_used = start, 0
    state._window_used += 1
    reset = datetime.fromtimestamp(start + period, UTC)
    remaining = max(0, state.rate_limit - state._window_used)
    limited = state._window_used > state.rate_limit
    if state._forced_429 > 0 and state._forced_reset is not None:
        state._forced_429 -= 1
        limited, remaining, reset = True, 0, state._forced_reset
    headers = {
        "X-RateLimit-Limit": str(state.rate_limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": _format_reset(reset, state.reset_format),
    }
    return limited, headers


def _format_reset(when: datetime, fmt: ResetFormat) -> str:
    if fmt == "epoch":
        return str(int(when.timestamp()))
    if fmt == "iso_fraction":
        return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _take_fault(state: MastodonState, path: str) -> _Fault | None:
    state._faults = [f for f in state._faults if f.remaining > 0]
    for fault in state._faults:
        if fault.path is None or fault.path == path:
            fault.remaining -= 1
            return fault
    return None


def _authorised(request: web.Request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and token in request.app[STATE_KEY].tokens


def _unauthorised() -> web.Response:
    response = _error(401, INVALID_TOKEN)
    response.headers["WWW-Authenticate"] = (
        f'Bearer realm="Doorkeeper", error="invalid_token", error_description="{INVALID_TOKEN}"'
    )
    return response


def _id_key(value: str) -> tuple[int, str]:
    """Vanilla orders ids by length, then lexically; never cast them to int."""
    return (len(value), value)


def _limit(raw: str | None, state: MastodonState) -> int:
    try:
        value = abs(int(raw)) if raw is not None else state.default_limit
    except ValueError:
        value = state.default_limit
    return max(1, min(value, state.max_limit))


async def _list_notifications(request: web.Request) -> web.Response:
    """Newest first; ``max_id`` pages older, ``since_id`` gives the newest page above it, and
    ``min_id`` gives the page *immediately* above it (still returned newest first)."""
    state = request.app[STATE_KEY]
    if not _authorised(request):
        return _unauthorised()
    q = request.query
    types = set(q.getall("types[]", []) + q.getall("types", []))
    excluded = set(q.getall("exclude_types[]", []) + q.getall("exclude_types", []))
    include_filtered = q.get("include_filtered", "false").lower() in ("true", "1")
    account_id = q.get("account_id")
    limit = _limit(q.get("limit"), state)
    max_id, since_id, min_id = q.get("max_id"), q.get("since_id"), q.get("min_id")

    items = sorted(
        (
            n
            for n in state.notifications
            if state.visible(n)
            and (not types or n.type in types)
            and n.type not in excluded
            and (include_filtered or not n.filtered)
            and (account_id is None or n.account_id == account_id)
        ),
        key=lambda n: _id_key(n.id),
    )
    if state.unknown_cursor != "compare":
        known = {n.id for n in state.notifications if state.visible(n)}
        cursors = [c for c in (max_id, since_id, min_id) if c]
        if any(c not in known for c in cursors):
            if state.unknown_cursor == "error":
                return _error(*state.unknown_cursor_error)
            return web.json_response([])

    below = [n for n in items if max_id is None or _id_key(n.id) < _id_key(max_id)]
    if min_id is not None:
        page = [n for n in below if _id_key(n.id) > _id_key(min_id)][:limit][::-1]
    else:
        newer = [n for n in below if since_id is None or _id_key(n.id) > _id_key(since_id)]
        page = newer[::-1][:limit]
    cursor = min_id or since_id
    if state.overlap and cursor is not None:
        seen = [n for n in items if _id_key(n.id) <= _id_key(cursor)]
        page += seen[::-1][: state.overlap]

    response = web.json_response([state.notification_json(n) for n in page])
    if page:  # vanilla sends no Link header at all on an empty page (mastodon#25495)
        response.headers["Link"] = (
            f'<{_page_url(request, state, "max_id", page[-1].id)}>; rel="next", '
            f'<{_page_url(request, state, "min_id", page[0].id)}>; rel="prev"'
        )
    return response


def _page_url(request: web.Request, state: MastodonState, key: str, value: str) -> str:
    """Rails-style URL keeping the filter params (``types%5B%5D=mention``)."""
    base = state.public_url or f"{request.scheme}://{request.host}"
    kept = [
        (k, v)
        for k, v in request.query.items()
        if k
        in (
            "limit",
            "types[]",
            "exclude_types[]",
            "types",
            "exclude_types",
            "account_id",
            "include_filtered",
        )
    ]
    return f"{base}{request.path}?{urlencode([*kept, (key, value)])}"


async def _get_status(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if "Authorization" in request.headers and not _authorised(request):
        return _unauthorised()
    status = state.statuses.get(request.match_info["id"])
    if status is None or status.deleted:
        return _error(404, "Record not found")
    return web.json_response(state.status_json(status))


async def _verify_credentials(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if not _authorised(request):
        return _unauthorised()
    return web.json_response(state.account_json(state.brand_id))


async def _post_status(request: web.Request) -> web.Response:
    """Create a status (200, not 201). A repeated ``Idempotency-Key`` within the TTL returns the
    status created the first time and creates nothing."""
    state = request.app[STATE_KEY]
    if not _authorised(request):
        return _unauthorised()
    params = await _body_params(request)
    now = state.clock()
    key = request.headers.get("Idempotency-Key") if state.honour_idempotency_key else None
    if key is not None and key in state._idempotency:
        earlier_id, stored_at = state._idempotency[key]
        earlier = state.statuses.get(earlier_id)
        if now - stored_at < state.idempotency_ttl and earlier and not earlier.deleted:
            return web.json_response(state.status_json(earlier))

    text = str(params.get("status") or "")
    if not text.strip() and not params.get("media_ids[]") and not params.get("media_ids"):
        return _error(422, "Validation failed: Text can't be blank")
    if len(text) > state.max_characters:
        return _error(
            422, f"Validation failed: Text character limit of {state.max_characters} exceeded"
        )
    visibility = str(params.get("visibility") or "public")
    if visibility not in VISIBILITIES:
        return _error(422, "Validation failed: Visibility is not included in the list")
    reply_to = params.get("in_reply_to_id")
    reply_to = str(reply_to) if reply_to not in (None, "") else None
    parent = state.statuses.get(reply_to) if reply_to else None
    if reply_to is not None and (parent is None or parent.deleted):
        return _error(404, REPLY_TARGET_MISSING)

    mentioned = [
        state.account(f"{m['user']}@{m['host']}" if m["host"] else m["user"]).acct
        for m in _TOKEN.finditer(text)
        if m["user"]
    ]
    language = params.get("language")
    status_id = state.add_status(
        state.brand,
        status_html(text, state.domain),
        now,
        visibility=visibility,
        in_reply_to_id=reply_to,
        language=str(language) if language else None,
        spoiler_text=str(params.get("spoiler_text") or ""),
        mentions=mentioned,
    )
    state.created_statuses.append(status_id)
    if key is not None:
        state._idempotency[key] = (status_id, now)
    await state.held_answers.hold()
    return web.json_response(state.status_json(state.statuses[status_id]))


async def _body_params(request: web.Request) -> dict[str, Any]:
    """Query string, form data and JSON are "equally understood" (client/intro)."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise web.HTTPBadRequest() from exc
        if isinstance(body, dict):
            params.update(body)
    elif request.can_read_body:
        params.update(await request.post())
    return params


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
