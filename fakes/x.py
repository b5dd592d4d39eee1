"""Fake X API v2 speaking the real wire format (platforms.md §1), plus Account Activity webhooks.

Connectors are tested against the quirks that bite in production: string snowflake ids, newest-first
pages with ``meta.next_token`` absent at the end, no ``data`` key on an empty page, ``since_id``,
the 800-mention horizon, DM lists that include the brand's own messages, the 403 on duplicate text,
problem bodies for 401/429/5xx, ``x-rate-limit-*`` headers from an injectable clock, signed
Account Activity deliveries, and posts whose answer is held (a sender can die mid-send). All
state lives in :class:`XState`; tests build the world and flip faults on it, then serve it with
:func:`create_app`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

import aiohttp
from aiohttp import web

from fakes.clock import ManualClock
from fakes.held import HeldAnswers, HoldsAnswers

Clock = Callable[[], datetime]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Json = dict[str, Any]
T = TypeVar("T")

TWITTER_EPOCH_MS = 1_288_834_974_657
MENTIONS_HORIZON = 800
DM_RETENTION = timedelta(days=30)
EDIT_WINDOW = timedelta(minutes=30)
MAX_EDITS = 5
ID_RE = re.compile(r"^[0-9]{1,19}$")
MENTION_RE = re.compile(r"(?<![\w@])@(\w{1,15})")
HASHTAG_RE = re.compile(r"(?<![\w#])#(\w+)")
URL_RE = re.compile(r"https?://\S+")
BASE32 = "0123456789ABCDEFGHIJKLMNOPQRSTUV"


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


TWEET_FIELDS = _names(
    "article attachments author_id card_uri community_id context_annotations conversation_id "
    "created_at display_text_range edit_controls edit_history_tweet_ids entities geo id "
    "in_reply_to_user_id lang media_metadata non_public_metrics note_tweet organic_metrics "
    "possibly_sensitive promoted_metrics public_metrics referenced_tweets reply_settings scopes "
    "source text withheld"
)
TWEET_EXPANSIONS = _names(
    "article.cover_media article.media_entities attachments.media_keys "
    "attachments.media_source_tweet attachments.poll_ids author_id edit_history_tweet_ids "
    "entities.mentions.username geo.place_id in_reply_to_user_id entities.note.mentions.username "
    "referenced_tweets.id referenced_tweets.id.author_id"
)
USER_FIELDS = _names(
    "affiliation connection_status created_at description entities id is_identity_verified "
    "location most_recent_tweet_id name pinned_tweet_id profile_banner_url profile_image_url "
    "protected public_metrics receives_your_dm subscription_type url username verified "
    "verified_followers_count verified_type withheld"
)
DM_FIELDS = _names(
    "attachments created_at dm_conversation_id entities event_type id participant_ids "
    "referenced_tweets sender_id text"
)
DM_EXPANSIONS = _names("attachments.media_keys participant_ids referenced_tweets.id sender_id")
DM_EVENT_TYPES = ("MessageCreate", "ParticipantsJoin", "ParticipantsLeave")
# An expansion puts the field that links to its object in ``data`` even when the fields
# parameter does not ask for it (docs.x.com x-api/fundamentals/expansions: ``expansions=author_id``
# alone answers ``author_id``). X's OpenAPI lists these as expansions, not as field values.
EXPANSION_FIELDS = {
    "author_id": "author_id",
    "in_reply_to_user_id": "in_reply_to_user_id",
    "referenced_tweets.id": "referenced_tweets",
    "referenced_tweets.id.author_id": "referenced_tweets",
    "entities.mentions.username": "entities",
    "sender_id": "sender_id",
    "participant_ids": "participant_ids",
}
MENTIONS_PARAMS = _names(
    "since_id until_id max_results pagination_token start_time end_time tweet.fields post.fields "
    "expansions user.fields media.fields poll.fields place.fields"
)
DM_PARAMS = _names(
    "max_results pagination_token event_types dm_event.fields expansions user.fields "
    "tweet.fields media.fields"
)
# Endpoints that refuse app-only Bearer tokens (user context only) [V].
USER_CONTEXT_ONLY = frozenset({"dm_events", "tweets_create", "dm_create"})
# Routes that share another route's rate limit (all GET DM endpoints: 15/15 min per user) [V].
SHARED_LIMITS = {"dm_events_with": "dm_events", "dm_events_conv": "dm_events"}

DUPLICATE_BODY: Json = {
    "detail": "You are not allowed to create a Tweet with duplicate content.",
    "type": "about:blank",
    "title": "Forbidden",
    "status": 403,
}
TOO_MANY_REQUESTS_BODY: Json = {
    "title": "Too Many Requests",
    "detail": "Too Many Requests",
    "type": "about:blank",
    "status": 429,
}
TOO_MANY_REQUESTS_V1_BODY: Json = {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}
STATUS_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def problem(status: int, detail: str | None = None, title: str | None = None) -> Json:
    """The generic ``about:blank`` problem body X returns for plain HTTP errors."""
    name = title or STATUS_TITLES.get(status, "Error")
    return {"title": name, "detail": detail or name, "type": "about:blank", "status": status}


# --------------------------------------------------------------------------------------------
# The world


@dataclass
class XUser:
    id: str
    username: str
    name: str
    verified: bool = False
    protected: bool = False
    description: str = ""
    created_at: datetime = datetime(2015, 1, 1, tzinfo=UTC)


@dataclass
class XPost:
    """One version of a post. Edits add versions that share ``edit_history`` (oldest first)."""

    id: str
    author_id: str
    full_text: str
    created_at: datetime
    conversation_id: str
    in_reply_to_id: str | None
    in_reply_to_user_id: str | None
    quote_of: str | None
    lang: str
    mention_ids: tuple[str, ...]
    edit_history: list[str]
    visible: bool = True
    deleted: bool = False
    superseded: bool = False
    via_api: bool = False


@dataclass
class XDmEvent:
    id: str
    event_type: str
    created_at: datetime
    dm_conversation_id: str
    sender_id: str
    text: str | None = None
    recipient_id: str | None = None
    participant_ids: tuple[str, ...] = ()
    via_api: bool = False


@dataclass(frozen=True)
class SentPost:
    """A post the fake accepted through ``POST /2/tweets``: count these to prove no double post."""

    id: str
    text: str
    in_reply_to_tweet_id: str | None
    at: datetime


@dataclass(frozen=True)
class SentDm:
    dm_event_id: str
    dm_conversation_id: str
    participant_id: str
    text: str | None
    at: datetime


@dataclass
class RateBucket:
    """A fixed window per endpoint, reported as ``x-rate-limit-*`` (reset in epoch seconds)."""

    limit: int
    window_seconds: int
    used: int = 0
    reset_at: float = 0.0

    def refresh(self, now: float) -> None:
        if now >= self.reset_at:
            self.used = 0
            self.reset_at = now + self.window_seconds

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass
class _Fault:
    kind: Literal["fail", "fail_after_commit", "rate_limit"]
    status: int
    remaining: int
    endpoint: str | None
    reset_in_seconds: int = 0
    body: Json | None = None


def _default_rate_limits() -> dict[str, tuple[int, int]]:
    # (requests, window seconds) per endpoint [V]; POST /2/tweets sources disagree (100 vs 200).
    return {
        "mentions": (300, 900),
        "mentions_app": (450, 900),
        "dm_events": (15, 900),
        "tweets_create": (100, 900),
        "dm_create": (15, 900),
        "other": (900, 900),
    }


def _default_daily_limits() -> dict[str, int]:
    return {"tweets_create": 10_000, "dm_create": 1_440}


@dataclass
class XState(HoldsAnswers):
    """The in-memory X world of one test: the brand account, posts, DMs, switches and logs."""

    user_id: str = "1500000000000000001"
    username: str = "AcmeSupport"
    bearer_token: str = "x-user-token"  # noqa: S105 - a fake credential
    app_only_token: str | None = None
    consumer_secret: str = "test_consumer_secret"  # noqa: S105 - the platforms.md test vector
    app_id: str = "13090192"
    app_name: str = "EcouteTestApp"
    clock: Clock = field(default_factory=ManualClock)
    # Account Activity: users the webhook is subscribed for (empty means just the brand).
    subscribed_user_ids: list[str] = field(default_factory=list)
    rate_limits: dict[str, tuple[int, int]] = field(default_factory=_default_rate_limits)
    daily_limits: dict[str, int] = field(default_factory=_default_daily_limits)

    # Scenario switches.
    duplicate_overlap: int = 0
    out_of_order: bool = False

    # [UNVERIFIED] behaviours, configurable.
    accept_post_fields_alias: bool = True
    strict_params: bool = True
    problem_type_base: str = "https://api.twitter.com/2/problems/"
    unauthorized_body: Json = field(default_factory=lambda: problem(401))
    rate_limit_body_style: Literal["problem", "v1"] = "problem"
    create_returns_edit_history: bool = False
    reply_restriction: bool = False
    reply_restriction_body: Json = field(
        default_factory=lambda: problem(
            403,
            "Reply to this conversation is not allowed because you have not been mentioned or "
            "otherwise engaged by the author of the post you are replying to.",
        )
    )
    long_text_cut: int = 280
    entity_offsets: Literal["codepoint", "utf16"] = "codepoint"
    webhook_ensure_ascii: bool = False

    # The world and the logs tests read.
    users: dict[str, XUser] = field(default_factory=dict)
    posts: dict[str, XPost] = field(default_factory=dict)
    dm_events: dict[str, XDmEvent] = field(default_factory=dict)
    sent_posts: list[SentPost] = field(default_factory=list)
    sent_dms: list[SentDm] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    webhook_deliveries: list[bytes] = field(default_factory=list)

    _faults: list[_Fault] = field(default_factory=list, init=False, repr=False)
    _buckets: dict[str, RateBucket] = field(default_factory=dict, init=False, repr=False)
    _seq: int = field(default=0, init=False, repr=False)
    _token_expired: bool = field(default=False, init=False, repr=False)
    held_answers: HeldAnswers = field(default_factory=HeldAnswers, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.user_id not in self.users:
            self.users[self.user_id] = XUser(self.user_id, self.username, self.username)

    # -- building the world ------------------------------------------------------------------

    def add_user(
        self, username: str, name: str | None = None, *, user_id: str | None = None, **extra: Any
    ) -> XUser:
        """Register (or return) a user; ids are numeric strings."""
        for user in self.users.values():
            if user.username == username:
                return user
        uid = user_id or str(2_244_994_945 + 7_919 * len(self.users))
        self.users[uid] = XUser(uid, username, name or username, **extra)
        return self.users[uid]

    def add_post(
        self,
        author: str,
        text: str,
        created_at: datetime | str | None = None,
        in_reply_to: str | None = None,
        conversation_id: str | None = None,
        *,
        mentions: Sequence[str] = (),
        quote_of: str | None = None,
        lang: str = "en",
        visible: bool = True,
    ) -> str:
        """Add a post by ``author`` (a username); ``mentions`` are the user ids it concerns."""
        at = _as_datetime(created_at) if created_at is not None else self.clock()
        author_id = self.add_user(author).id
        pid = self._next_id(at)
        parent = self.posts.get(in_reply_to) if in_reply_to else None
        reply_user = parent.author_id if parent else (self.user_id if in_reply_to else None)
        mention_ids = list(mentions)
        for name in MENTION_RE.findall(text):
            user = self._user_by_name(name)
            if user and user.id not in mention_ids:
                mention_ids.append(user.id)
        if reply_user and reply_user not in mention_ids and reply_user != author_id:
            mention_ids.append(reply_user)
        conv = conversation_id or (parent.conversation_id if parent else in_reply_to) or pid
        self.posts[pid] = XPost(
            id=pid,
            author_id=author_id,
            full_text=text,
            created_at=at,
            conversation_id=conv,
            in_reply_to_id=in_reply_to,
            in_reply_to_user_id=reply_user,
            quote_of=quote_of,
            lang=lang,
            mention_ids=tuple(mention_ids),
            edit_history=[pid],
            visible=visible,
        )
        return pid

    def add_mention(
        self,
        author: str,
        text: str,
        created_at: datetime | str | None = None,
        in_reply_to: str | None = None,
        conversation_id: str | None = None,
        **options: Any,
    ) -> str:
        """Add a post that mentions the brand; it shows on ``GET /2/users/{brand}/mentions``."""
        mentions = list(options.pop("mentions", ()))
        if self.user_id not in mentions:
            mentions.insert(0, self.user_id)
        return self.add_post(
            author, text, created_at, in_reply_to, conversation_id, mentions=mentions, **options
        )

    def add_dm(
        self,
        sender: str,
        text: str,
        created_at: datetime | str | None = None,
        *,
        recipient: str | None = None,
        event_type: str = "MessageCreate",
        participants: Sequence[str] = (),
    ) -> str:
        """Add a 1:1 DM event between ``sender`` (a username) and the brand (or ``recipient``)."""
        at = _as_datetime(created_at) if created_at is not None else self.clock()
        sender_id = self.add_user(sender).id
        other = self.add_user(recipient).id if recipient else self.user_id
        if other == sender_id:
            raise ValueError("a 1:1 DM needs two different users; pass recipient=")
        eid = self._next_id(at)
        self.dm_events[eid] = XDmEvent(
            id=eid,
            event_type=event_type,
            created_at=at,
            dm_conversation_id=_conversation_id(sender_id, other),
            sender_id=sender_id,
            text=text if event_type == "MessageCreate" else None,
            recipient_id=other,
            participant_ids=tuple(self.add_user(p).id for p in participants),
        )
        return eid

    # -- scenario switches -------------------------------------------------------------------

    def fail_next(
        self,
        status: int = 503,
        count: int = 1,
        *,
        endpoint: str | None = None,
        body: Json | None = None,
    ) -> None:
        """The next ``count`` requests (to ``endpoint`` if given) fail before doing anything."""
        self._faults.append(_Fault("fail", status, count, endpoint, body=body))

    def fail_after_commit_next(
        self, status: int = 503, count: int = 1, *, endpoint: str | None = None
    ) -> None:
        """The next requests succeed inside the fake but answer ``status``: a lost response."""
        self._faults.append(_Fault("fail_after_commit", status, count, endpoint))

    def rate_limit_next(
        self, count: int = 1, reset_in_seconds: int = 900, *, endpoint: str | None = None
    ) -> None:
        """The next ``count`` requests get 429 with ``remaining: 0`` and reset ``now + N``."""
        self._faults.append(_Fault("rate_limit", 429, count, endpoint, reset_in_seconds))

    def expire_token(self) -> None:
        """``bearer_token`` stops working (401) until :meth:`renew_token`."""
        self._token_expired = True

    def renew_token(self, token: str) -> None:
        self.bearer_token = token
        self._token_expired = False

    def reveal(self, post_id: str) -> None:
        """Make a hidden post (``visible=False``) appear: the mention that shows up late."""
        self.posts[post_id].visible = True

    def delete_post(self, post_id: str) -> None:
        """Delete a post; deleting any version deletes its whole edit chain [V]."""
        for pid in self.posts[post_id].edit_history:
            self.posts[pid].deleted = True

    def edit_post(self, post_id: str, new_text: str) -> str:
        """Edit the latest version of a post: a new id, chained through the edit history."""
        old = self.posts[self.posts[post_id].edit_history[-1]]
        at = max(self.clock(), old.created_at + timedelta(milliseconds=1))
        new_id = self._next_id(at)
        old.superseded = True
        old.edit_history.append(new_id)
        self.posts[new_id] = XPost(
            id=new_id,
            author_id=old.author_id,
            full_text=new_text,
            created_at=at,
            conversation_id=old.conversation_id,
            in_reply_to_id=old.in_reply_to_id,
            in_reply_to_user_id=old.in_reply_to_user_id,
            quote_of=old.quote_of,
            lang=old.lang,
            mention_ids=old.mention_ids,
            edit_history=old.edit_history,
            visible=old.visible,
            via_api=old.via_api,
        )
        return new_id

    # -- reading the logs --------------------------------------------------------------------

    def replies_to(self, tweet_id: str) -> list[SentPost]:
        return [p for p in self.sent_posts if p.in_reply_to_tweet_id == tweet_id]

    # -- internals ---------------------------------------------------------------------------

    def _next_id(self, at: datetime) -> str:
        """Snowflake-like: milliseconds since X's epoch, then a sequence; grows with time."""
        ms = int(at.timestamp() * 1000) - TWITTER_EPOCH_MS
        if ms < 0:
            raise ValueError("X ids start in November 2010")
        self._seq += 1
        return str((ms << 22) | (self._seq & 0x3FFFFF))

    def _user_by_name(self, username: str) -> XUser | None:
        return next(
            (u for u in self.users.values() if u.username.lower() == username.lower()), None
        )

    def _bucket(self, endpoint: str, now: float) -> RateBucket:
        limit, window = self.rate_limits.get(endpoint, self.rate_limits["other"])
        bucket = self._buckets.get(endpoint)
        if bucket is None or bucket.limit != limit or bucket.window_seconds != window:
            bucket = self._buckets[endpoint] = RateBucket(limit, window)
        bucket.refresh(now)
        return bucket

    def _take_fault(self, endpoint: str, kinds: tuple[str, ...]) -> _Fault | None:
        for fault in self._faults:
            if fault.kind in kinds and fault.remaining > 0 and fault.endpoint in (None, endpoint):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _subscribers(self) -> list[str]:
        return self.subscribed_user_ids or [self.user_id]


def _as_datetime(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _conversation_id(a: str, b: str) -> str:
    low, high = sorted((a, b), key=int)
    return f"{low}-{high}"


def _iso(at: datetime) -> str:
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------------------------
# Rendering v2 objects


def _offset(state: XState, text: str, index: int) -> int:
    if state.entity_offsets == "utf16":
        return len(text[:index].encode("utf-16-le")) // 2
    return index


def _entities(state: XState, text: str) -> Json:
    def span(m: re.Match[str]) -> Json:
        return {"start": _offset(state, text, m.start()), "end": _offset(state, text, m.end())}

    out: Json = {}
    mentions = []
    for m in MENTION_RE.finditer(text):
        item = span(m) | {"username": m.group(1)}
        user = state._user_by_name(m.group(1))
        if user:
            item["id"] = user.id
        mentions.append(item)
    hashtags = [span(m) | {"tag": m.group(1)} for m in HASHTAG_RE.finditer(text)]
    urls = [
        span(m) | {"url": m.group(0), "expanded_url": m.group(0), "display_url": m.group(0)}
        for m in URL_RE.finditer(text)
    ]
    for key, items in (("mentions", mentions), ("hashtags", hashtags), ("urls", urls)):
        if items:
            out[key] = items
    return out


def _visible_text(state: XState, post: XPost) -> str:
    text = post.full_text
    return text[: state.long_text_cut] if len(text) > state.long_text_cut else text


def render_tweet(state: XState, post: XPost, fields: frozenset[str]) -> Json:
    """A v2 Tweet: ``id``, ``text`` and ``edit_history_tweet_ids`` plus the requested fields."""
    text = _visible_text(state, post)
    out: Json = {"id": post.id, "text": text, "edit_history_tweet_ids": list(post.edit_history)}
    refs = [{"type": "replied_to", "id": post.in_reply_to_id}] if post.in_reply_to_id else []
    refs += [{"type": "quoted", "id": post.quote_of}] if post.quote_of else []
    if "author_id" in fields:
        out["author_id"] = post.author_id
    if "conversation_id" in fields:
        out["conversation_id"] = post.conversation_id
    if "in_reply_to_user_id" in fields and post.in_reply_to_user_id:
        out["in_reply_to_user_id"] = post.in_reply_to_user_id
    if "created_at" in fields:
        out["created_at"] = _iso(post.created_at)
    if "lang" in fields:
        out["lang"] = post.lang
    if "referenced_tweets" in fields and refs:
        out["referenced_tweets"] = refs
    if "entities" in fields and (entities := _entities(state, text)):
        out["entities"] = entities
    if "note_tweet" in fields and text != post.full_text:
        note: Json = {"text": post.full_text}
        if note_entities := _entities(state, post.full_text):
            note["entities"] = note_entities
        out["note_tweet"] = note
    if "edit_controls" in fields:
        first = state.posts[post.edit_history[0]].created_at
        remaining = max(0, MAX_EDITS + 1 - len(post.edit_history))
        out["edit_controls"] = {
            "is_edit_eligible": remaining > 0,
            "editable_until": _iso(first + EDIT_WINDOW),
            "edits_remaining": remaining,
        }
    if "public_metrics" in fields:
        out["public_metrics"] = dict.fromkeys(
            ("retweet_count", "reply_count", "like_count", "quote_count", "bookmark_count"), 0
        ) | {"impression_count": 0}
    if "possibly_sensitive" in fields:
        out["possibly_sensitive"] = False
    if "reply_settings" in fields:
        out["reply_settings"] = "everyone"
    return out


def render_user(user: XUser, fields: frozenset[str]) -> Json:
    out: Json = {"id": user.id, "name": user.name, "username": user.username}
    if "verified" in fields:
        out["verified"] = user.verified
    if "protected" in fields:
        out["protected"] = user.protected
    if "description" in fields:
        out["description"] = user.description
    if "created_at" in fields:
        out["created_at"] = _iso(user.created_at)
    if "profile_image_url" in fields:
        out["profile_image_url"] = f"https://pbs.twimg.com/profile_images/{user.id}/normal.jpg"
    return out


def render_dm(event: XDmEvent, fields: frozenset[str]) -> Json:
    """A v2 DmEvent: defaults ``id, event_type, text`` (or ``participant_ids``) [V]."""
    out: Json = {"id": event.id, "event_type": event.event_type}
    message = event.event_type == "MessageCreate"
    if message:
        out["text"] = event.text
    if not message or ("participant_ids" in fields and event.participant_ids):
        out["participant_ids"] = list(event.participant_ids)
    if "sender_id" in fields:
        out["sender_id"] = event.sender_id
    if "dm_conversation_id" in fields:
        out["dm_conversation_id"] = event.dm_conversation_id
    if "created_at" in fields:
        out["created_at"] = _iso(event.created_at)
    return out


# --------------------------------------------------------------------------------------------
# HTTP: errors, parameters, pagination


class _Problem(Exception):
    """An error answer; raised anywhere in a handler, turned into JSON by the middleware."""

    def __init__(self, status: int, body: Json, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def _invalid(state: XState, parameter: str, value: str, message: str) -> _Problem:
    return _Problem(
        400,
        {
            "errors": [{"parameters": {parameter: [value]}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": state.problem_type_base + "invalid-request",
        },
    )


def _check_params(state: XState, query: Mapping[str, str], allowed: frozenset[str]) -> None:
    if not state.strict_params:
        return
    for name in query:
        if name not in allowed or (name == "post.fields" and not state.accept_post_fields_alias):
            names = ",".join(sorted(allowed))
            msg = f"The query parameter [{name}] is not one of [{names}]"
            raise _invalid(state, name, query[name], msg)


def _linked_fields(expansions: frozenset[str]) -> frozenset[str]:
    return frozenset(EXPANSION_FIELDS[e] for e in expansions if e in EXPANSION_FIELDS)


def _int_param(
    state: XState, query: Mapping[str, str], name: str, default: int, lo: int, hi: int
) -> int:
    def bounded(raw: str) -> int:
        if not raw.isdigit() or not lo <= int(raw) <= hi:
            raise ValueError(raw)
        return int(raw)

    value = _param(state, query, name, bounded, f"is not between {lo} and {hi}")
    return default if value is None else value


def _id_param(state: XState, query: Mapping[str, str], name: str) -> int | None:
    def post_id(raw: str) -> int:
        if not ID_RE.match(raw):
            raise ValueError(raw)
        return int(raw)

    return _param(state, query, name, post_id, "does not match ^[0-9]{1,19}$")


def _time_param(state: XState, query: Mapping[str, str], name: str) -> datetime | None:
    return _param(state, query, name, _as_datetime, "is not a valid RFC 3339 time")


def _param(
    state: XState, query: Mapping[str, str], name: str, read: Callable[[str], T], rule: str
) -> T | None:
    """A query parameter as ``read`` makes it (None when absent); a value ``read`` refuses
    (ValueError) is X's 400 naming the parameter and the ``rule`` it breaks."""
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return read(raw)
    except ValueError:
        msg = f"The `{name}` query parameter value [{raw}] {rule}"
        raise _invalid(state, name, raw, msg) from None


def _csv_param(
    state: XState, query: Mapping[str, str], name: str, allowed: Iterable[str]
) -> frozenset[str]:
    raw = query.get(name, "")
    values = frozenset(v for v in raw.split(",") if v)
    allowed_set = frozenset(allowed)
    for value in sorted(values - allowed_set):
        names = ",".join(sorted(allowed_set))
        msg = f"The `{name}` query parameter value [{value}] is not one of [{names}]"
        raise _invalid(state, name, value, msg)
    return values


BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _encode_token(kind: Literal["next", "prev"], item_id: int, alphabet: str, width: int) -> str:
    value, digits = item_id * 2 + (1 if kind == "next" else 0), []
    while value:
        value, rem = divmod(value, len(alphabet))
        digits.append(alphabet[rem])
    return "".join(reversed(digits)).rjust(width, alphabet[0])


def _decode_token(
    state: XState, raw: str | None, base: int, min_length: int
) -> tuple[Literal["next", "prev"], int] | None:
    if raw is None:
        return None
    try:
        if len(raw) < min_length:
            raise ValueError(raw)
        value = int(raw, base)
    except ValueError:
        msg = f"The `pagination_token` query parameter value [{raw}] is not valid"
        raise _invalid(state, "pagination_token", raw, msg) from None
    return ("next" if value % 2 else "prev"), value // 2


def _paginate(
    items: Sequence[tuple[int, T]],
    size: int,
    cursor: tuple[Literal["next", "prev"], int] | None,
    overlap: int,
) -> tuple[list[tuple[int, T]], bool, bool]:
    """Cut a newest-first list; returns (page, more older, more newer). ``overlap`` re-serves."""
    start, end = 0, len(items)
    if cursor and cursor[0] == "next":
        start = next((i for i, (iid, _) in enumerate(items) if iid < cursor[1]), len(items))
        start = max(0, start - min(overlap, size - 1))
    elif cursor:
        end = next((i for i, (iid, _) in enumerate(items) if iid <= cursor[1]), len(items))
        start = max(0, end - size)
    page = list(items[start : min(start + size, end)])
    return page, start + len(page) < len(items), start > 0


def _json_response(status: int, body: Any) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode(),
        content_type="application/json",
        charset="utf-8",
    )


# --------------------------------------------------------------------------------------------
# Handlers

STATE = web.AppKey("x_state", XState)


def _includes_for_posts(
    state: XState, posts: Sequence[XPost], query: Mapping[str, str], tweet_fields: frozenset[str]
) -> tuple[Json, list[Json]]:
    expansions = _csv_param(state, query, "expansions", TWEET_EXPANSIONS)
    user_fields = _csv_param(state, query, "user.fields", USER_FIELDS)
    user_ids: list[str] = []
    tweets: list[Json] = []
    errors: list[Json] = []

    def want(uid: str | None) -> None:
        if uid and uid in state.users and uid not in user_ids:
            user_ids.append(uid)

    for post in posts:
        if "author_id" in expansions:
            want(post.author_id)
        if "in_reply_to_user_id" in expansions:
            want(post.in_reply_to_user_id)
        if "entities.mentions.username" in expansions:
            for name in MENTION_RE.findall(_visible_text(state, post)):
                user = state._user_by_name(name)
                want(user.id if user else None)
        if "referenced_tweets.id" in expansions:
            for ref_id in filter(None, (post.in_reply_to_id, post.quote_of)):
                ref = state.posts.get(ref_id)
                if ref is None or ref.deleted:
                    errors.append(_not_found(state, ref_id))
                    continue
                tweets.append(render_tweet(state, ref, tweet_fields))
                if "referenced_tweets.id.author_id" in expansions:
                    want(ref.author_id)
    includes: Json = {}
    if user_ids:
        includes["users"] = [render_user(state.users[u], user_fields) for u in user_ids]
    if tweets:
        includes["tweets"] = tweets
    return includes, errors


def _not_found(state: XState, tweet_id: str) -> Json:
    return {
        "value": tweet_id,
        "detail": f"Could not find tweet with id: [{tweet_id}].",
        "title": "Not Found Error",
        "resource_type": "tweet",
        "parameter": "referenced_tweets.id",
        "resource_id": tweet_id,
        "section": "includes",
        "type": state.problem_type_base + "resource-not-found",
    }


async def _mentions(request: web.Request) -> web.StreamResponse:
    state, query = request.app[STATE], request.query
    _check_params(state, query, MENTIONS_PARAMS)
    user_id = request.match_info["id"]
    if not ID_RE.match(user_id):
        raise _invalid(state, "id", user_id, f"The `id` path value [{user_id}] is not valid")
    size = _int_param(state, query, "max_results", 10, 5, 100)
    since, until = _id_param(state, query, "since_id"), _id_param(state, query, "until_id")
    if since is not None and until is not None and since >= until:
        raise _invalid(state, "since_id", str(since), "since_id must be smaller than until_id")
    start_time = None if since is not None else _time_param(state, query, "start_time")
    end_time = None if until is not None else _time_param(state, query, "end_time")
    fields = _csv_param(state, query, "tweet.fields", TWEET_FIELDS)
    if state.accept_post_fields_alias:
        fields |= _csv_param(state, query, "post.fields", TWEET_FIELDS)
    fields |= _linked_fields(_csv_param(state, query, "expansions", TWEET_EXPANSIONS))
    cursor = _decode_token(state, query.get("pagination_token"), 36, 1)

    reachable = sorted(
        (
            (int(p.id), p)
            for p in state.posts.values()
            if user_id in p.mention_ids and p.visible and not p.deleted and not p.superseded
        ),
        key=lambda pair: pair[0],
        reverse=True,
    )[:MENTIONS_HORIZON]
    if since is not None and state.duplicate_overlap:
        older = [iid for iid, _ in reachable if iid <= since][: state.duplicate_overlap]
        since = older[-1] - 1 if older else since
    items = [
        (iid, p)
        for iid, p in reachable
        if (since is None or iid > since)
        and (until is None or iid < until)
        and (start_time is None or p.created_at >= start_time)
        and (end_time is None or p.created_at <= end_time)
    ]
    page, more_older, more_newer = _paginate(items, size, cursor, state.duplicate_overlap)
    posts = [p for _, p in page]
    if state.out_of_order:
        posts.reverse()
    body: Json = {}
    if posts:
        body["data"] = [render_tweet(state, p, fields) for p in posts]
    includes, errors = _includes_for_posts(state, posts, query, fields)
    if includes:
        body["includes"] = includes
    if errors:
        body["errors"] = errors
    meta: Json = {}
    if page:
        meta["newest_id"], meta["oldest_id"] = str(page[0][0]), str(page[-1][0])
    meta["result_count"] = len(page)
    if page and more_older:
        meta["next_token"] = _encode_token("next", page[-1][0], BASE36, 13)
    if page and more_newer:
        meta["previous_token"] = _encode_token("prev", page[0][0], BASE36, 13)
    body["meta"] = meta
    return _json_response(200, body)


async def _dm_events(request: web.Request) -> web.StreamResponse:
    state, query = request.app[STATE], request.query
    _check_params(state, query, DM_PARAMS)
    size = _int_param(state, query, "max_results", 100, 1, 100)
    cursor = _decode_token(state, query.get("pagination_token"), 32, 16)
    types = _csv_param(state, query, "event_types", DM_EVENT_TYPES) or frozenset(DM_EVENT_TYPES)
    expansions = _csv_param(state, query, "expansions", DM_EXPANSIONS)
    fields = _csv_param(state, query, "dm_event.fields", DM_FIELDS) | _linked_fields(expansions)
    user_fields = _csv_param(state, query, "user.fields", USER_FIELDS)
    conversation = request.match_info.get("dm_conversation_id")
    participant = request.match_info.get("participant_id")
    if participant:
        conversation = _conversation_id(state.user_id, participant)
    horizon = state.clock() - DM_RETENTION
    items = sorted(
        (
            (int(e.id), e)
            for e in state.dm_events.values()
            if e.event_type in types
            and e.created_at >= horizon
            and (conversation is None or e.dm_conversation_id == conversation)
            and state.user_id in (e.sender_id, e.recipient_id, *e.participant_ids)
        ),
        key=lambda pair: pair[0],
        reverse=True,
    )
    page, more_older, more_newer = _paginate(items, size, cursor, state.duplicate_overlap)
    events = [e for _, e in page]
    if state.out_of_order:
        events.reverse()
    body: Json = {}
    if events:
        body["data"] = [render_dm(e, fields) for e in events]
    user_ids: list[str] = []
    for event in events:
        wanted = [event.sender_id] if "sender_id" in expansions else []
        wanted += list(event.participant_ids) if "participant_ids" in expansions else []
        user_ids += [u for u in wanted if u in state.users and u not in user_ids]
    if user_ids:
        body["includes"] = {"users": [render_user(state.users[u], user_fields) for u in user_ids]}
    meta: Json = {"result_count": len(page)}
    if page and more_older:
        meta["next_token"] = _encode_token("next", page[-1][0], BASE32, 20)
    if page and more_newer:
        meta["previous_token"] = _encode_token("prev", page[0][0], BASE32, 20)
    body["meta"] = meta
    return _json_response(200, body)


async def _read_json(state: XState, request: web.Request) -> Json:
    try:
        body = json.loads(await request.read())
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _Problem(
            400,
            {
                "errors": [{"message": "Request body must be a JSON object"}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": state.problem_type_base + "invalid-request",
            },
        )
    return body


def _invalid_body(state: XState, message: str) -> _Problem:
    return _Problem(
        400,
        {
            "errors": [{"message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": state.problem_type_base + "invalid-request",
        },
    )


async def _create_tweet(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    body = await _read_json(state, request)
    text, reply = body.get("text"), body.get("reply")
    if not isinstance(text, str) and not body.get("media"):
        raise _invalid_body(state, "$.text: text is required unless media is given")
    text = text if isinstance(text, str) else ""
    target_id: str | None = None
    if reply is not None:
        if not isinstance(reply, dict) or not isinstance(reply.get("in_reply_to_tweet_id"), str):
            raise _invalid_body(
                state, "$.reply.in_reply_to_tweet_id: is missing but it is required"
            )
        extra = set(reply) - {"in_reply_to_tweet_id", "exclude_reply_user_ids"}
        if extra:
            raise _invalid_body(state, f"$.reply: properties not allowed: {sorted(extra)}")
        target_id = reply["in_reply_to_tweet_id"]
    target = state.posts.get(target_id) if target_id else None
    if target is not None and target.deleted:
        detail = "You attempted to reply to a Tweet that is deleted or not visible to you."
        raise _Problem(403, problem(403, detail))
    if target is not None and state.reply_restriction and state.user_id not in target.mention_ids:
        raise _Problem(403, state.reply_restriction_body)
    mine = (p for p in state.posts.values() if p.author_id == state.user_id and not p.deleted)
    if text and any(p.full_text == text for p in mine):
        raise _Problem(403, DUPLICATE_BODY)
    post_id = state.add_post(state.username, text, in_reply_to=target_id)
    state.posts[post_id].via_api = True
    state.sent_posts.append(SentPost(post_id, text, target_id, state.clock()))
    data: Json = {"id": post_id, "text": text}
    if state.create_returns_edit_history:
        data["edit_history_tweet_ids"] = [post_id]
    await state.held_answers.hold()
    return _json_response(201, {"data": data})


async def _create_dm(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    participant = request.match_info["participant_id"]
    if not ID_RE.match(participant):
        raise _invalid_body(state, f"participant_id [{participant}] is not valid")
    body = await _read_json(state, request)
    text = body.get("text")
    if not (isinstance(text, str) and text) and not body.get("attachments"):
        raise _invalid_body(state, "$.text: must have at least 1 character, or give attachments")
    if participant not in state.users:
        state.users[participant] = XUser(participant, f"user{participant}", f"user{participant}")
    at = state.clock()
    eid = state._next_id(at)
    conversation = _conversation_id(state.user_id, participant)
    state.dm_events[eid] = XDmEvent(
        id=eid,
        event_type="MessageCreate",
        created_at=at,
        dm_conversation_id=conversation,
        sender_id=state.user_id,
        text=text if isinstance(text, str) else None,
        recipient_id=participant,
        via_api=True,
    )
    state.sent_dms.append(SentDm(eid, conversation, participant, state.dm_events[eid].text, at))
    return _json_response(201, {"data": {"dm_conversation_id": conversation, "dm_event_id": eid}})


# --------------------------------------------------------------------------------------------
# Middleware: faults, auth, rate limits


def _rate_headers(bucket: RateBucket, overrides: Mapping[str, str]) -> dict[str, str]:
    headers = {
        "x-rate-limit-limit": str(bucket.limit),
        "x-rate-limit-remaining": str(bucket.remaining),
        "x-rate-limit-reset": str(math.ceil(bucket.reset_at)),
    }
    return headers | dict(overrides)


def _too_many(state: XState, headers: Mapping[str, str] | None = None) -> _Problem:
    body = (
        TOO_MANY_REQUESTS_V1_BODY if state.rate_limit_body_style == "v1" else TOO_MANY_REQUESTS_BODY
    )
    return _Problem(429, body, headers)


def _authenticate(state: XState, request: web.Request, endpoint: str) -> str:
    """Returns the bucket to charge: app-only tokens have their own limits."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        if token == state.bearer_token and not state._token_expired:
            return endpoint
        if state.app_only_token and token == state.app_only_token:
            if endpoint in USER_CONTEXT_ONLY:
                raise _Problem(
                    403,
                    {
                        "title": "Unsupported Authentication",
                        "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden "
                        "for this endpoint.  Supported authentication types are "
                        "[OAuth 1.0a User Context, OAuth 2.0 User Context].",
                        "type": state.problem_type_base + "unsupported-authentication",
                        "status": 403,
                    },
                )
            return f"{endpoint}_app" if f"{endpoint}_app" in state.rate_limits else endpoint
    raise _Problem(401, state.unauthorized_body)


def _daily_headers(state: XState, endpoint: str, now: float) -> dict[str, str]:
    if endpoint not in state.daily_limits:
        return {}
    bucket = state._buckets.get(f"{endpoint}:24h")
    if bucket is None or bucket.limit != state.daily_limits[endpoint]:
        bucket = state._buckets[f"{endpoint}:24h"] = RateBucket(
            state.daily_limits[endpoint], 86_400
        )
    bucket.refresh(now)
    if bucket.remaining <= 0:
        raise _too_many(state)
    bucket.used += 1
    return {
        "x-user-limit-24hour-limit": str(bucket.limit),
        "x-user-limit-24hour-remaining": str(bucket.remaining),
        "x-user-limit-24hour-reset": str(math.ceil(bucket.reset_at)),
    }


@web.middleware
async def _x_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    state.requests.append(f"{request.method} {request.path_qs}")
    route = request.match_info.route.name
    endpoint = SHARED_LIMITS.get(route or "other", route or "other")
    now = state.clock().timestamp()
    bucket = state._bucket(endpoint, now)
    extra: dict[str, str] = {}
    try:
        fault = state._take_fault(endpoint, ("fail", "rate_limit"))
        if fault and fault.kind == "fail":
            raise _Problem(fault.status, fault.body or problem(fault.status))
        if fault:
            reset = str(math.ceil(now + fault.reset_in_seconds))
            raise _too_many(state, {"x-rate-limit-remaining": "0", "x-rate-limit-reset": reset})
        if route is None:
            raise _Problem(404, problem(404))
        bucket = state._bucket(_authenticate(state, request, endpoint), now)
        if bucket.remaining <= 0:
            raise _too_many(state)
        bucket.used += 1
        extra = _daily_headers(state, endpoint, now) if request.method == "POST" else {}
        response = await handler(request)
        after = state._take_fault(endpoint, ("fail_after_commit",))
        if after:
            raise _Problem(after.status, problem(after.status))
    except _Problem as err:
        response = _json_response(err.status, err.body)
        extra |= err.headers
    response.headers.update(_rate_headers(bucket, extra))
    return response


def create_app(state: XState) -> web.Application:
    """The fake ``api.x.com``: mentions, DM lookup, posting replies and DMs."""
    app = web.Application(middlewares=[_x_middleware])
    app[STATE] = state
    app.router.add_get("/2/users/{id}/mentions", _mentions, name="mentions")
    app.router.add_get("/2/dm_events", _dm_events, name="dm_events")
    app.router.add_get(
        "/2/dm_conversations/with/{participant_id}/dm_events", _dm_events, name="dm_events_with"
    )
    app.router.add_get(
        "/2/dm_conversations/{dm_conversation_id}/dm_events", _dm_events, name="dm_events_conv"
    )
    app.router.add_post("/2/tweets", _create_tweet, name="tweets_create")
    app.router.add_post(
        "/2/dm_conversations/with/{participant_id}/messages", _create_dm, name="dm_create"
    )
    return app


# --------------------------------------------------------------------------------------------
# Account Activity API: CRC, signatures, payloads, delivery


def crc_response_token(consumer_secret: str, crc_token: str) -> str:
    """``sha256=`` + base64 HMAC-SHA256 of ``crc_token`` keyed by the consumer secret [V]."""
    digest = hmac.new(consumer_secret.encode(), crc_token.encode(), hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def webhook_signature(consumer_secret: str, body: bytes) -> str:
    """The ``x-twitter-webhooks-signature`` value for the exact raw body bytes [V]."""
    digest = hmac.new(consumer_secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


async def check_crc(
    session: aiohttp.ClientSession, url: str, state: XState, crc_token: str | None = None
) -> bool:
    """Do what X does at registration: GET ``?crc_token=`` and accept only the right token."""
    crc_token = crc_token or secrets.token_urlsafe(24)
    async with session.get(url, params={"crc_token": crc_token}, allow_redirects=False) as resp:
        if resp.status != 200:
            return False
        try:
            answer = await resp.json(content_type=None)
        except ValueError:
            return False
    expected = crc_response_token(state.consumer_secret, crc_token)
    return isinstance(answer, dict) and answer.get("response_token") == expected


def encode_webhook_body(state: XState, payload: Mapping[str, Any]) -> bytes:
    return json.dumps(
        payload, ensure_ascii=state.webhook_ensure_ascii, separators=(",", ":")
    ).encode()


async def deliver_webhook(
    session: aiohttp.ClientSession, url: str, state: XState, payload: Mapping[str, Any] | bytes
) -> int:
    """POST one signed AAA event (a dict, or exact raw bytes) and return the receiver's status."""
    body = payload if isinstance(payload, bytes) else encode_webhook_body(state, payload)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "x-twitter-webhooks-signature": webhook_signature(state.consumer_secret, body),
    }
    state.webhook_deliveries.append(body)
    async with session.post(url, data=body, headers=headers) as resp:
        await resp.read()
        return resp.status


def _v1_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%a %b %d %H:%M:%S +0000 %Y")


def _v1_user(user: XUser) -> Json:
    return {
        "id": int(user.id),
        "id_str": user.id,
        "name": user.name,
        "screen_name": user.username,
        "protected": user.protected,
        "verified": user.verified,
        "followers_count": 0,
        "friends_count": 0,
        "statuses_count": 0,
        "created_at": _v1_time(user.created_at),
        "profile_image_url_https": f"https://pbs.twimg.com/profile_images/{user.id}/normal.jpg",
    }


def _v1_entities(state: XState, text: str) -> Json:
    mentions = []
    for m in MENTION_RE.finditer(text):
        user = state._user_by_name(m.group(1))
        item: Json = {"screen_name": m.group(1), "name": user.name if user else m.group(1)}
        if user:
            item |= {"id": int(user.id), "id_str": user.id}
        mentions.append(item | {"indices": [m.start(), m.end()]})
    hashtags = [
        {"text": m.group(1), "indices": [m.start(), m.end()]} for m in HASHTAG_RE.finditer(text)
    ]
    return {"hashtags": hashtags, "urls": [], "user_mentions": mentions, "symbols": []}


def v1_tweet(state: XState, post: XPost) -> Json:
    """A v1.1 Tweet as AAA sends it: numeric ``id`` plus ``id_str``, ``extended_tweet`` if long."""
    full = post.full_text
    long_post = len(full) > 140 and len(full) > state.long_text_cut
    text = full[:140] if long_post else full
    reply_user = state.users.get(post.in_reply_to_user_id or "")
    out: Json = {
        "created_at": _v1_time(post.created_at),
        "id": int(post.id),
        "id_str": post.id,
        "text": text,
        "display_text_range": [0, len(text)],
        "source": f'<a href="https://example.invalid" rel="nofollow">{state.app_name}</a>'
        if post.via_api
        else '<a href="https://x.com" rel="nofollow">X Web App</a>',
        "truncated": long_post,
        "in_reply_to_status_id": int(post.in_reply_to_id) if post.in_reply_to_id else None,
        "in_reply_to_status_id_str": post.in_reply_to_id,
        "in_reply_to_user_id": int(reply_user.id) if reply_user else None,
        "in_reply_to_user_id_str": reply_user.id if reply_user else None,
        "in_reply_to_screen_name": reply_user.username if reply_user else None,
        "user": _v1_user(state.users[post.author_id]),
        "is_quote_status": post.quote_of is not None,
        "quote_count": 0,
        "reply_count": 0,
        "retweet_count": 0,
        "favorite_count": 0,
        "entities": _v1_entities(state, text),
        "favorited": False,
        "retweeted": False,
        "filter_level": "low",
        "lang": post.lang,
        "timestamp_ms": str(int(post.created_at.timestamp() * 1000)),
    }
    if post.quote_of:
        out["quoted_status_id_str"] = post.quote_of
    if long_post:
        out["extended_tweet"] = {
            "full_text": full,
            "display_text_range": [0, len(full)],
            "entities": _v1_entities(state, full),
        }
    return out


def _concerned(state: XState, user_ids: Iterable[str]) -> list[str]:
    wanted = set(user_ids)
    return [u for u in state._subscribers() if u in wanted]


def aaa_tweet_create_payloads(state: XState, post_id: str) -> list[Json]:
    """One ``tweet_create_events`` payload per subscribed user the post concerns [V FAQ]."""
    post = state.posts[post_id]
    payloads = []
    for uid in _concerned(state, (post.author_id, *post.mention_ids)):
        payload: Json = {"for_user_id": uid}
        if uid != post.author_id:
            payload["user_has_blocked"] = "false"
        payload["tweet_create_events"] = [v1_tweet(state, post)]
        payloads.append(payload)
    return payloads


def aaa_tweet_delete_payloads(state: XState, post_id: str) -> list[Json]:
    """``tweet_delete_events`` for the subscribed users the deleted post concerned."""
    post = state.posts[post_id]
    event = {
        "status": {"id": post.id, "user_id": post.author_id},
        "timestamp_ms": str(int(state.clock().timestamp() * 1000)),
    }
    return [
        {"for_user_id": uid, "tweet_delete_events": [event]}
        for uid in _concerned(state, (post.author_id, *post.mention_ids))
    ]


def aaa_dm_payloads(state: XState, dm_event_id: str) -> list[Json]:
    """``direct_message_events`` per subscribed participant; sent DMs arrive too [V]."""
    event = state.dm_events[dm_event_id]
    recipient = event.recipient_id or ""
    message_create: Json = {
        "target": {"recipient_id": recipient},
        "sender_id": event.sender_id,
    }
    if event.via_api:
        message_create["source_app_id"] = state.app_id
    message_create["message_data"] = {
        "text": event.text or "",
        "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
    }
    dm = {
        "type": "message_create",
        "id": event.id,
        "created_timestamp": str(int(event.created_at.timestamp() * 1000)),
        "message_create": message_create,
    }
    users = {
        uid: {
            "id": uid,
            "created_timestamp": str(int(state.users[uid].created_at.timestamp() * 1000)),
            "name": state.users[uid].name,
            "screen_name": state.users[uid].username,
            "protected": state.users[uid].protected,
            "verified": state.users[uid].verified,
            "followers_count": 0,
            "friends_count": 0,
            "statuses_count": 0,
            "profile_image_url_https": f"https://pbs.twimg.com/profile_images/{uid}/normal.jpg",
        }
        for uid in (event.sender_id, recipient)
        if uid in state.users
    }
    payloads = []
    for uid in _concerned(state, (event.sender_id, recipient)):
        payload: Json = {"for_user_id": uid, "direct_message_events": [dm]}
        if event.via_api:
            payload["apps"] = {
                state.app_id: {"id": state.app_id, "name": state.app_name, "url": "https://x.com"}
            }
        payload["users"] = users
        payloads.append(payload)
    return payloads
