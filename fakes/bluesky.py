"""Fake Bluesky (PDS + AppView + chat service) speaking XRPC as in platforms.md §4.

Connectors are tested against what bites in production: rotating refresh tokens, expired access
tokens answered with **400** ``ExpiredToken``, newest-first notifications with an opaque cursor and
no "since", one notification per post (mention > quote > reply), back-dated posts sorting into
the past, notifications that vanish on delete, UTF-8 *byte* facet offsets, the chat proxy header,
the ``getLog`` cursor, and ``RateLimit-*`` headers with an epoch reset from an injectable clock.
All state lives in :class:`BlueskyState`; tests build the world and flip faults on it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple, NoReturn

from aiohttp import web

from fakes.clock import wall_clock

Clock = Callable[[], datetime]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ErrorSpec = tuple[int, str, str]  # HTTP status, XRPC error name, message

POST = "app.bsky.feed.post"
CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"
DEFS = "chat.bsky.convo.defs"
ERROR_NAMES = {
    400: ("InvalidRequest", "Invalid Request"),
    401: ("AuthenticationRequired", "Authentication Required"),
    403: ("Forbidden", "Forbidden"),
    404: ("XRPCNotSupported", "XRPCNotSupported"),
    413: ("PayloadTooLarge", "Payload Too Large"),
    429: ("RateLimitExceeded", "Rate Limit Exceeded"),
    500: ("InternalServerError", "Internal Server Error"),
    501: ("MethodNotImplemented", "Method Not Implemented"),
    502: ("UpstreamFailure", "Upstream Failure"),
    503: ("NotEnoughResources", "Not Enough Resources"),
    504: ("UpstreamTimeout", "Upstream Timeout"),
}
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_RKEY = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")


class XrpcError(Exception):
    """Every XRPC error is ``{"error": Name, "message": text}`` with an HTTP status."""

    def __init__(self, status: int, error: str | None = None, message: str | None = None):
        name, text = ERROR_NAMES.get(status, ("InternalServerError", "Internal Server Error"))
        super().__init__(message or text)
        self.status, self.error, self.message = status, error or name, message or text


class PostRef(NamedTuple):
    """A strongRef: the post's AT-URI plus the CID of the exact version."""

    uri: str
    cid: str

    def strong_ref(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}


@dataclass
class Profile:
    did: str
    handle: str
    display_name: str = ""


@dataclass
class Post:
    uri: str
    cid: str
    author_did: str
    record: dict[str, Any]
    indexed_at: datetime
    deleted: bool = False

    @property
    def sort_at(self) -> datetime:
        """The AppView orders by ``min(indexedAt, createdAt)``: back-dated posts sink."""
        created = _parse_datetime(self.record.get("createdAt"))
        return min(self.indexed_at, created) if created else self.indexed_at

    @property
    def ref(self) -> PostRef:
        return PostRef(self.uri, self.cid)


@dataclass
class Notification:
    uri: str
    cid: str
    author_did: str
    reason: str
    record: dict[str, Any]
    indexed_at: datetime
    sort_at: datetime
    reason_subject: str | None = None


@dataclass
class Message:
    id: str
    rev: str
    sender_did: str
    text: str
    facets: list[dict[str, Any]]
    sent_at: datetime


@dataclass
class Convo:
    id: str
    members: list[str]
    rev: str
    status: str = "accepted"  # "request" until the brand accepts a stranger's first message
    muted: bool = False
    locked: bool = False
    unread_count: int = 0
    messages: list[Message] = field(default_factory=list)


@dataclass
class _RefreshToken:
    expires_at: datetime
    next_token: str | None = None
    rotated_at: datetime | None = None


@dataclass
class _Fault:
    status: int
    error: str
    message: str
    remaining: int
    nsid: str | None


@dataclass
class _Window:
    """A fixed rate-limit window aligned on the epoch, like the per-route limiters."""

    limit: int
    seconds: int
    start: float = -1.0
    used: int = 0

    def consume(self, now: datetime, limit: int, seconds: int) -> tuple[bool, int, int]:
        """Count one call; return (exceeded, remaining, reset epoch seconds)."""
        self.limit, self.seconds = limit, seconds
        start = (now.timestamp() // seconds) * seconds
        if start != self.start:
            self.start, self.used = start, 0
        self.used += 1
        return self.used > limit, max(0, limit - self.used), int(start + seconds)


@dataclass
class BlueskyState:
    """The whole fake network for one brand account: knobs, world, faults and counters."""

    clock: Clock = field(default_factory=lambda: wall_clock)
    did: str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
    handle: str = "acme.bsky.social"
    email: str = "ops@acme.test"
    password: str = "abcd-efgh-ijkl-mnop"  # noqa: S105 - a fake app password
    dm_access: bool = True  # app password created with "DM access"
    # Documented limits (§4.3, §4.6, §4.7).
    rate_limit: int = 3000
    rate_window_seconds: int = 300
    session_rate_limit: int = 30
    session_rate_window_seconds: int = 300
    reply_notif_depth: int = 5
    getlog_page_size: int = 100
    # [UNVERIFIED] knobs.
    access_ttl: timedelta = timedelta(hours=2)
    refresh_ttl: timedelta = timedelta(days=90)
    refresh_grace: timedelta = timedelta(0)  # >0: an old refresh token still works that long
    bad_password_error: ErrorSpec = (
        401,
        "AuthenticationRequired",
        "Invalid identifier or password",
    )
    rate_limit_message: str = "Rate Limit Exceeded"
    # The PDS answers a reused record key with a bare 500, not a named error (the repo write
    # fails on the key's uniqueness); only com.atproto.repo.getRecord tells it was posted.
    rkey_conflict_error: ErrorSpec = (500, "InternalServerError", "Internal Server Error")
    validate_reply_root: bool = False  # the PDS is not known to reject a wrong root
    delete_removes_notifications: bool = True
    cursor_on_last_page: bool = True  # AppView keyset: a cursor whenever the page is non-empty
    missing_proxy_error: ErrorSpec = (404, "XRPCNotSupported", "XRPCNotSupported")
    chat_scope_error: ErrorSpec = (401, "AuthenticationRequired", "Bad token scope")
    getlog_without_cursor: Literal["all", "latest"] = "all"
    # World.
    profiles: dict[str, Profile] = field(default_factory=dict)
    posts: dict[str, Post] = field(default_factory=dict)
    notifications: list[Notification] = field(default_factory=list)
    convos: dict[str, Convo] = field(default_factory=dict)
    chat_log: list[dict[str, Any]] = field(default_factory=list)
    seen_at: datetime | None = None
    # Counters and logs for assertions.
    created_posts: list[str] = field(default_factory=list)
    sent_messages: list[str] = field(default_factory=list)
    sessions_created: int = 0
    request_log: list[str] = field(default_factory=list)
    # Internals.
    access_tokens: dict[str, datetime] = field(default_factory=dict)
    refresh_tokens: dict[str, _RefreshToken] = field(default_factory=dict)
    head_commit: str | None = None
    _faults: list[_Fault] = field(default_factory=list)
    _forced_429: int = 0
    _forced_reset: datetime | None = None
    _global_window: _Window = field(default_factory=lambda: _Window(0, 1))
    _session_window: _Window = field(default_factory=lambda: _Window(0, 1))
    _last_tid: int = 0
    _token_seq: int = 0

    def __post_init__(self) -> None:
        self.profiles.setdefault(self.did, Profile(self.did, self.handle, "ACME Support"))

    # ----- world builders -------------------------------------------------------------------

    def profile(self, did: str, handle: str, display_name: str = "") -> Profile:
        """Get or create an author; a later call may change the handle (handles move)."""
        existing = self.profiles.get(did)
        if existing is None:
            existing = self.profiles[did] = Profile(did, handle, display_name)
        existing.handle = handle
        existing.display_name = display_name or existing.display_name
        return existing

    def add_post(
        self,
        author_did: str,
        handle: str,
        text: str,
        created_at: datetime,
        reply_to: PostRef | str | None = None,
        root: PostRef | None = None,
        quote: PostRef | str | None = None,
        langs: list[str] | None = None,
        facets: list[dict[str, Any]] | None = None,
        indexed_at: datetime | None = None,
        display_name: str = "",
        rkey: str | None = None,
    ) -> PostRef:
        """Index any post; the brand's notifications follow from it as the AppView derives them.

        Facets default to mentions of known handles, links and tags, in UTF-8 byte offsets.
        ``reply_to`` may name a post the fake has not indexed (pass a :class:`PostRef`): its
        reply notification then only appears once the parent is indexed, as in production.
        """
        self.profile(author_did, handle, display_name)
        record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": _iso(created_at)}
        found = facets if facets is not None else facets_for(text, self.handle_map())
        if found:
            record["facets"] = found
        if reply_to is not None:
            record["reply"] = self._reply_refs(reply_to, root)
        if quote is not None:
            ref = quote if isinstance(quote, PostRef) else self.posts[quote].ref
            record["embed"] = {"$type": "app.bsky.embed.record", "record": ref.strong_ref()}
        record["langs"] = langs if langs is not None else ["en"]
        return self._store(author_did, record, indexed_at or self.clock(), rkey)

    def add_mention(
        self,
        author_did: str,
        handle: str,
        text: str,
        created_at: datetime,
        reply_to: PostRef | str | None = None,
        **kwargs: Any,
    ) -> PostRef:
        """A post that @mentions the brand (``@<brand handle>`` is prepended if missing)."""
        brand = self.profiles[self.did].handle
        if f"@{brand}" not in text:
            text = f"@{brand} {text}"
        return self.add_post(author_did, handle, text, created_at, reply_to, **kwargs)

    def add_reply(
        self,
        author_did: str,
        handle: str,
        text: str,
        created_at: datetime,
        reply_to: PostRef | str | None = None,
        **kwargs: Any,
    ) -> PostRef:
        """A reply to a brand post (default: the brand's newest post, created if none)."""
        if reply_to is None:
            own = [p for p in self.posts.values() if p.author_did == self.did and not p.deleted]
            parent = max(own, key=lambda p: p.sort_at).ref if own else None
            reply_to = parent or self.add_brand_post("Hello from ACME", created_at)
        return self.add_post(author_did, handle, text, created_at, reply_to, **kwargs)

    def add_quote(
        self,
        author_did: str,
        handle: str,
        text: str,
        created_at: datetime,
        quote: PostRef | str,
        **kwargs: Any,
    ) -> PostRef:
        """A quote post of a brand post (reason ``quote``, unless it also mentions the brand)."""
        return self.add_post(author_did, handle, text, created_at, quote=quote, **kwargs)

    def add_brand_post(
        self, text: str, created_at: datetime, rkey: str | None = None, **kwargs: Any
    ) -> PostRef:
        """The brand's own post: never a notification (no self-notifications)."""
        brand = self.profiles[self.did]
        return self.add_post(self.did, brand.handle, text, created_at, rkey=rkey, **kwargs)

    def add_notification(
        self,
        reason: str,
        author_did: str,
        handle: str,
        record: dict[str, Any],
        reason_subject: str | None = None,
        indexed_at: datetime | None = None,
    ) -> str:
        """A non-post notification (``like``, ``repost``, ``follow``...); returns its uri."""
        self.profile(author_did, handle)
        when = indexed_at or self.clock()
        collection = str(record.get("$type", "app.bsky.feed.like"))
        uri = f"at://{author_did}/{collection}/{self._tid(when)}"
        cid = _cid(json.dumps(record, sort_keys=True).encode() + uri.encode())
        note = Notification(uri, cid, author_did, reason, record, when, when, reason_subject)
        self.notifications.append(note)
        return uri

    def add_dm(
        self,
        sender_did: str,
        handle: str,
        text: str,
        sent_at: datetime | None = None,
        convo_id: str | None = None,
        request: bool = False,
    ) -> str:
        """A chat message from ``sender_did`` to the brand; returns the message id.

        Creates the 1:1 convo (and its ``#logBeginConvo``) on first contact; ``request=True``
        leaves a new convo in the "request" state.
        """
        self.profile(sender_did, handle)
        convo = self.convos[convo_id] if convo_id else self.convo_for([sender_did], announce=True)
        if request and len(convo.messages) == 0:
            convo.status = "request"
        facets = facets_for(text, self.handle_map())
        message = self._append_message(convo, sender_did, text, sent_at or self.clock(), facets)
        return message.id

    def convo_for(self, members: list[str], announce: bool = True) -> Convo:
        """The convo between the brand and ``members``, created (and logged) if new."""
        wanted = sorted({self.did, *members})
        for convo in self.convos.values():
            if sorted(convo.members) == wanted:
                return convo
        rev = self._tid(self.clock())
        convo = Convo(id=f"3convo{len(self.convos) + 1:07d}", members=wanted, rev=rev)
        self.convos[convo.id] = convo
        if announce:
            self.chat_log.append(
                {"$type": f"{DEFS}#logBeginConvo", "rev": rev, "convoId": convo.id}
            )
        return convo

    def handle_map(self) -> dict[str, str]:
        return {p.handle: p.did for p in self.profiles.values()}

    # ----- fault switches -------------------------------------------------------------------

    def fail_next(
        self,
        status: int = 500,
        count: int = 1,
        nsid: str | None = None,
        error: str | None = None,
        message: str | None = None,
    ) -> None:
        """The next ``count`` calls (to ``nsid`` only, if given) fail: 500 InternalServerError,
        502 UpstreamFailure, or any status with its standard XRPC name."""
        sample = XrpcError(status, error, message)
        self._faults.append(_Fault(status, sample.error, sample.message, count, nsid))

    def rate_limit_next(self, count: int = 1, reset_in_seconds: float = 60) -> None:
        """The next ``count`` calls get 429 with ``RateLimit-Remaining: 0``."""
        self._forced_429 = count
        self._forced_reset = self.clock() + timedelta(seconds=reset_in_seconds)

    def expire_access_token(self) -> None:
        """All issued access tokens expire now: calls get 400 ``ExpiredToken``."""
        past = self.clock() - timedelta(seconds=1)
        for token in self.access_tokens:
            self.access_tokens[token] = past

    def delete_post(self, uri: str) -> None:
        """Delete a post: its notifications vanish from later polls (no event)."""
        self.posts[uri].deleted = True

    def duplicate_overlap(self, uri: str | None = None) -> None:
        """Deliver a notification again at the top (default: the newest one), as after a
        re-index: a later poll sees a ``uri`` it has already stored."""
        pool = [n for n in self.notifications if self._visible(n)]
        if not pool:
            raise ValueError("no notification to duplicate")
        original = next(n for n in pool if n.uri == uri) if uri else max(pool, key=_sort_key)
        now = self.clock()
        again = replace(original, indexed_at=now, sort_at=now)
        self.notifications.append(again)

    def out_of_order(
        self, below: PostRef | str, author_did: str, handle: str, text: str, **kwargs: Any
    ) -> PostRef:
        """A mention indexed now but back-dated to sort just below ``below`` (a seen item)."""
        anchor = self.posts[below.uri if isinstance(below, PostRef) else below]
        created = anchor.sort_at - timedelta(milliseconds=1)
        return self.add_mention(author_did, handle, text, created, **kwargs)

    @property
    def created_count(self) -> int:
        return len(self.created_posts)

    @property
    def sent_count(self) -> int:
        return len(self.sent_messages)

    # ----- internals ------------------------------------------------------------------------

    def _tid(self, when: datetime) -> str:
        """A TID: 53 bits of microseconds + 10 bits clock id, base32-sortable; monotonic."""
        micros = max(int(when.timestamp() * 1_000_000), self._last_tid + 1)
        self._last_tid = micros
        value = (micros << 10) | 7
        return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in range(12, -1, -1))

    def _reply_refs(self, reply_to: PostRef | str, root: PostRef | None) -> dict[str, Any]:
        parent = reply_to if isinstance(reply_to, PostRef) else self.posts[reply_to].ref
        if root is None:
            known = self.posts.get(parent.uri)
            thread = known.record.get("reply", {}).get("root") if known else None
            root = PostRef(thread["uri"], thread["cid"]) if thread else parent
        return {"root": root.strong_ref(), "parent": parent.strong_ref()}

    def _store(
        self, author_did: str, record: dict[str, Any], indexed_at: datetime, rkey: str | None
    ) -> PostRef:
        key = rkey or self._tid(indexed_at)
        uri = f"at://{author_did}/{POST}/{key}"
        cid = _cid(json.dumps(record, sort_keys=True, ensure_ascii=False).encode())
        self.posts[uri] = Post(uri, cid, author_did, record, indexed_at)
        self._derive_notifications()
        return PostRef(uri, cid)

    def _derive_notifications(self) -> None:
        """At most one notification per post, mention > quote > reply (AppView
        ``notifsForInsert``). Re-run on every insert so replies indexed before their parent
        get their notification late, at their own (older) sort time."""
        notified = {n.uri for n in self.notifications}
        for post in list(self.posts.values()):
            if post.deleted or post.author_did == self.did or post.uri in notified:
                continue
            found = self._reason_for(post)
            if found is not None:
                reason, subject = found
                self.notifications.append(
                    Notification(
                        post.uri,
                        post.cid,
                        post.author_did,
                        reason,
                        post.record,
                        post.indexed_at,
                        post.sort_at,
                        subject,
                    )
                )

    def _reason_for(self, post: Post) -> tuple[str, str | None] | None:
        record = post.record
        for facet in record.get("facets", []):
            for feature in facet.get("features", []):
                mention = str(feature.get("$type", "")).endswith("#mention")
                if mention and feature.get("did") == self.did:
                    return "mention", None
        embed = record.get("embed") or {}
        quoted = (embed.get("record") or {}).get("uri")
        if embed.get("$type") == "app.bsky.embed.recordWithMedia":
            quoted = ((embed.get("record") or {}).get("record") or {}).get("uri")
        if isinstance(quoted, str) and quoted.startswith(f"at://{self.did}/"):
            return "quote", quoted
        parent_uri = (record.get("reply") or {}).get("parent", {}).get("uri")
        for _ in range(self.reply_notif_depth):
            ancestor = self.posts.get(parent_uri) if parent_uri else None
            if ancestor is None:
                return None
            if ancestor.author_did == self.did:
                return "reply", ancestor.uri
            parent_uri = (ancestor.record.get("reply") or {}).get("parent", {}).get("uri")
        return None

    def _visible(self, note: Notification) -> bool:
        post = self.posts.get(note.uri)
        return not (post and post.deleted and self.delete_removes_notifications)

    def _append_message(
        self,
        convo: Convo,
        sender: str,
        text: str,
        sent_at: datetime,
        facets: list[dict[str, Any]],
    ) -> Message:
        rev = self._tid(self.clock())
        message = Message(self._tid(sent_at), rev, sender, text, facets, sent_at)
        convo.messages.append(message)
        convo.rev = rev
        if sender != self.did:
            convo.unread_count += 1
        self.chat_log.append(
            {
                "$type": f"{DEFS}#logCreateMessage",
                "rev": rev,
                "convoId": convo.id,
                "message": message_view(message),
            }
        )
        return message

    def _issue_session(self) -> dict[str, Any]:
        now = self.clock()
        access = self._jwt(self.access_scope, now + self.access_ttl)
        refresh = self._jwt("com.atproto.refresh", now + self.refresh_ttl)
        self.access_tokens[access] = now + self.access_ttl
        self.refresh_tokens[refresh] = _RefreshToken(now + self.refresh_ttl)
        return {"accessJwt": access, "refreshJwt": refresh}

    @property
    def access_scope(self) -> str:
        """App passwords with "DM access" are privileged; only those reach the chat service."""
        return "com.atproto.appPassPrivileged" if self.dm_access else "com.atproto.appPass"

    def _jwt(self, scope: str, expires: datetime) -> str:
        """JWT-shaped tokens with real ``exp`` claims (unsigned: only this fake checks them)."""
        self._token_seq += 1
        now = int(self.clock().timestamp())
        header = {"typ": "at+jwt" if scope != "com.atproto.refresh" else "refresh+jwt"}
        claims = {
            "scope": scope,
            "sub": self.did,
            "aud": "did:web:bsky.social",
            "iat": now,
            "exp": int(expires.timestamp()),
            "jti": f"fake-{self._token_seq}",
        }
        signature = hashlib.sha256(f"{scope}{self._token_seq}".encode()).digest()
        parts = ({"alg": "ES256K", **header}, claims)
        return ".".join([*(_b64(json.dumps(p).encode()) for p in parts), _b64(signature)])

    def session_json(self, tokens: dict[str, Any], pds: str) -> dict[str, Any]:
        """The session as the PDS answers it; ``didDoc`` names the PDS that serves the account
        (``pds``, this fake's own origin), which official clients switch to after logging in."""
        return {
            **tokens,
            "did": self.did,
            "handle": self.profiles[self.did].handle,
            "email": self.email,
            "emailConfirmed": True,
            "active": True,
            "didDoc": {
                "@context": ["https://www.w3.org/ns/did/v1"],
                "id": self.did,
                "alsoKnownAs": [f"at://{self.profiles[self.did].handle}"],
                "service": [
                    {
                        "id": "#atproto_pds",
                        "type": "AtprotoPersonalDataServer",
                        "serviceEndpoint": pds,
                    }
                ],
            },
        }

    def profile_view(self, did: str) -> dict[str, Any]:
        prof = self.profiles.get(did) or Profile(did, "handle.invalid")
        view: dict[str, Any] = {"did": prof.did, "handle": prof.handle}
        if prof.display_name:
            view["displayName"] = prof.display_name
        view.update(
            {
                "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did}/bafkreiavatar@jpeg",
                "labels": [],
                "viewer": {"muted": False, "blockedBy": False},
                "createdAt": "2023-07-01T00:00:00.000Z",
                "indexedAt": "2024-01-01T00:00:00.000Z",
            }
        )
        return view

    def notification_view(self, note: Notification) -> dict[str, Any]:
        view: dict[str, Any] = {
            "uri": note.uri,
            "cid": note.cid,
            "author": self.profile_view(note.author_did),
            "reason": note.reason,
        }
        if note.reason_subject:
            view["reasonSubject"] = note.reason_subject
        view.update(
            {
                "record": note.record,
                "isRead": self.seen_at is not None and note.sort_at <= self.seen_at,
                "indexedAt": _iso(note.indexed_at),
                "labels": [],
            }
        )
        return view

    def convo_view(self, convo: Convo) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": convo.id,
            "rev": convo.rev,
            "members": [
                {k: v for k, v in self.profile_view(d).items() if k != "indexedAt"}
                for d in convo.members
            ],
            "muted": convo.muted,
            "status": convo.status,
            "unreadCount": convo.unread_count,
        }
        if convo.messages:
            view["lastMessage"] = message_view(convo.messages[-1])
        return view


# ----- text helpers ------------------------------------------------------------------------

# Like the official RichText detector: tokens start the text or follow a space or "(";
# a tag needs a non-digit, so "#4411" is plain text.
_FACET_TOKEN = re.compile(
    r"(?<![^\s(])(?:(?P<url>https?://\S+)"
    r"|@(?P<handle>[a-zA-Z0-9][a-zA-Z0-9.-]*\.[a-zA-Z]+)"
    r"|#(?P<tag>\w*[^\W\d]\w*))"
)


def byte_offset(text: str, index: int) -> int:
    """The UTF-8 byte offset of ``text[index]``: what facets count, not Python indices."""
    return len(text[:index].encode("utf-8"))


def facets_for(text: str, handles: Mapping[str, str]) -> list[dict[str, Any]]:
    """Facets as the official client computes them: mentions (by DID, only for handles that
    resolve), links and tags, with ``byteStart`` inclusive / ``byteEnd`` exclusive."""
    facets: list[dict[str, Any]] = []
    for m in _FACET_TOKEN.finditer(text):
        start, end = m.start(), m.end()
        if m["url"]:
            url = m["url"].rstrip(".,;:!?)'\"")
            end = start + len(url)
            feature: dict[str, Any] = {"$type": "app.bsky.richtext.facet#link", "uri": url}
        elif m["handle"]:
            did = handles.get(m["handle"].lower()) or handles.get(m["handle"])
            if did is None:
                continue
            feature = {"$type": "app.bsky.richtext.facet#mention", "did": did}
        else:
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": m["tag"]}
        facets.append(
            {
                "index": {"byteStart": byte_offset(text, start), "byteEnd": byte_offset(text, end)},
                "features": [feature],
            }
        )
    return facets


def graphemes(text: str) -> int:
    """Approximate extended grapheme clusters without third-party tables: combining marks,
    ZWJ sequences, variation selectors, skin tones and flag pairs join the previous cluster."""
    count, prev, joined, flag_open = 0, "", False, False
    for ch in text:
        cp = ord(ch)
        extends = (
            unicodedata.category(ch) in ("Mn", "Me", "Mc")
            or ch == "\u200d"
            or 0xFE00 <= cp <= 0xFE0F
            or 0x1F3FB <= cp <= 0x1F3FF
            or 0xE0020 <= cp <= 0xE007F
            or joined
        )
        regional = 0x1F1E6 <= cp <= 0x1F1FF
        if regional and flag_open:
            extends, flag_open = True, False
        elif regional:
            flag_open = True
        else:
            flag_open = False
        if not extends or not prev:
            count += 1
        joined, prev = ch == "\u200d", ch
    return count


def message_view(message: Message) -> dict[str, Any]:
    view: dict[str, Any] = {
        "$type": f"{DEFS}#messageView",
        "id": message.id,
        "rev": message.rev,
        "text": message.text,
        "sender": {"did": message.sender_did},
        "sentAt": _iso(message.sent_at),
    }
    if message.facets:
        view["facets"] = message.facets
    return view


# ----- HTTP --------------------------------------------------------------------------------

STATE_KEY = web.AppKey("bluesky_state", BlueskyState)
Method = Callable[[web.Request, BlueskyState], Awaitable[web.StreamResponse]]


def create_app(state: BlueskyState) -> web.Application:
    """The fake service as an aiohttp app; every XRPC method lives under ``/xrpc/{nsid}``."""
    app = web.Application(middlewares=[_platform_middleware])
    app[STATE_KEY] = state
    app.router.add_route("*", "/xrpc/{nsid}", _dispatch)
    return app


def _error(exc: XrpcError) -> web.Response:
    return web.json_response({"error": exc.error, "message": exc.message}, status=exc.status)


@web.middleware
async def _platform_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Rate limits and injected faults in front of every method; headers on every response."""
    state = request.app[STATE_KEY]
    state.request_log.append(f"{request.method} {request.path_qs}")
    nsid = request.match_info.get("nsid")
    limited, headers = _consume_rate_limit(state, nsid)
    response: web.StreamResponse
    if limited:
        response = _error(XrpcError(429, "RateLimitExceeded", state.rate_limit_message))
    elif (fault := _take_fault(state, nsid)) is not None:
        response = _error(XrpcError(fault.status, fault.error, fault.message))
    else:
        try:
            response = await handler(request)
        except XrpcError as exc:
            response = _error(exc)
        except web.HTTPException as exc:  # unrouted paths: still an XRPC-shaped error
            response = _error(XrpcError(404, "XRPCNotSupported", "XRPCNotSupported"))
            response.set_status(exc.status)
    response.headers.update(headers)
    return response


def _consume_rate_limit(state: BlueskyState, nsid: str | None) -> tuple[bool, dict[str, str]]:
    """Headers describe the tightest applicable limiter, as ``xrpc-server`` does."""
    now = state.clock()
    limits = [(state._global_window, state.rate_limit, state.rate_window_seconds)]
    if nsid == "com.atproto.server.createSession":
        limits.append(
            (state._session_window, state.session_rate_limit, state.session_rate_window_seconds)
        )
    results = [(w, *w.consume(now, limit, seconds)) for w, limit, seconds in limits]
    window, _, remaining, reset = min(results, key=lambda r: r[2])
    limited = any(r[1] for r in results)
    if state._forced_429 > 0 and state._forced_reset is not None:
        state._forced_429 -= 1
        limited, remaining, reset = True, 0, int(state._forced_reset.timestamp())
    headers = {
        "RateLimit-Limit": str(window.limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(reset),
        "RateLimit-Policy": f"{window.limit};w={window.seconds}",
    }
    return limited, headers


def _take_fault(state: BlueskyState, nsid: str | None) -> _Fault | None:
    state._faults = [f for f in state._faults if f.remaining > 0]
    for fault in state._faults:
        if fault.nsid is None or fault.nsid == nsid:
            fault.remaining -= 1
            return fault
    return None


async def _dispatch(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    nsid = request.match_info["nsid"]
    route = _ROUTES.get(nsid)
    if route is None:
        raise XrpcError(501, "MethodNotImplemented", "Method Not Implemented")
    verb, method = route
    if request.method != verb:
        message = f"Incorrect HTTP method ({request.method}) expected {verb}"
        raise XrpcError(400, "InvalidRequest", message)
    if nsid.startswith("chat.bsky."):
        if request.headers.get("atproto-proxy") != CHAT_PROXY:
            raise XrpcError(*state.missing_proxy_error)
        _require_access(request, state)
        if not state.dm_access:
            raise XrpcError(*state.chat_scope_error)
    return await method(request, state)


# ----- auth --------------------------------------------------------------------------------


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise XrpcError(401, "AuthenticationRequired", "Authentication Required")
    return token


def _origin(request: web.Request) -> str:
    return str(request.url.origin())


def _require_access(request: web.Request, state: BlueskyState) -> str:
    token = _bearer(request)
    if token in state.refresh_tokens:
        raise XrpcError(400, "InvalidToken", "Invalid token type")
    expires = state.access_tokens.get(token)
    if expires is None:
        raise XrpcError(400, "InvalidToken", "Token could not be verified")
    if state.clock() >= expires:
        raise XrpcError(400, "ExpiredToken", "Token has expired")
    return state.did


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise XrpcError(400, "InvalidRequest", "Request body must be JSON") from exc
    if not isinstance(body, dict):
        raise XrpcError(400, "InvalidRequest", "Input must be an object")
    return body


async def _create_session(request: web.Request, state: BlueskyState) -> web.Response:
    body = await _json_body(request)
    for prop in ("identifier", "password"):
        if not isinstance(body.get(prop), str):
            raise XrpcError(400, "InvalidRequest", f'Input must have the property "{prop}"')
    ident = body["identifier"].lower().lstrip("@")
    known = {state.did.lower(), state.profiles[state.did].handle.lower(), state.email.lower()}
    if ident not in known or body["password"] != state.password:
        raise XrpcError(*state.bad_password_error)
    state.sessions_created += 1
    return web.json_response(state.session_json(state._issue_session(), _origin(request)))


async def _refresh_session(request: web.Request, state: BlueskyState) -> web.Response:
    """Rotate: the new pair replaces the old one, whose refresh token is then revoked."""
    token = _bearer(request)
    if token in state.access_tokens:
        raise XrpcError(400, "InvalidToken", "Invalid token type")
    stored = state.refresh_tokens.get(token)
    if stored is None:
        raise XrpcError(400, "InvalidToken", "Token could not be verified")
    now = state.clock()
    if now >= stored.expires_at:
        raise XrpcError(400, "ExpiredToken", "Token has expired")
    if stored.next_token is not None:
        in_grace = stored.rotated_at is not None and now < stored.rotated_at + state.refresh_grace
        if not in_grace:
            raise XrpcError(400, "ExpiredToken", "Token has been revoked")
        access = state._jwt(state.access_scope, now + state.access_ttl)
        state.access_tokens[access] = now + state.access_ttl
        tokens = {"accessJwt": access, "refreshJwt": stored.next_token}
        return web.json_response(state.session_json(tokens, _origin(request)))
    tokens = state._issue_session()
    stored.next_token, stored.rotated_at = tokens["refreshJwt"], now
    return web.json_response(state.session_json(tokens, _origin(request)))


async def _get_session(request: web.Request, state: BlueskyState) -> web.Response:
    _require_access(request, state)
    session = state.session_json({}, _origin(request))
    return web.json_response({k: v for k, v in session.items() if k != "didDoc"})


# ----- notifications -----------------------------------------------------------------------


def _sort_key(note: Notification) -> tuple[int, str]:
    return int(note.sort_at.timestamp() * 1000), note.cid


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise XrpcError(400, "InvalidRequest", f"{name} must be an integer") from exc
    if value < low:
        raise XrpcError(400, "InvalidRequest", f"{name} can not be less than {low}")
    if value > high:
        raise XrpcError(400, "InvalidRequest", f"{name} can not be greater than {high}")
    return value


async def _list_notifications(request: web.Request, state: BlueskyState) -> web.Response:
    """Newest first by ``sortAt``; the cursor ``<ms>::<cid>`` only pages toward older items."""
    _require_access(request, state)
    limit = _int_param(request, "limit", 50, 1, 100)
    reasons = set(request.query.getall("reasons", []))
    items = sorted(
        (n for n in state.notifications if state._visible(n)),
        key=_sort_key,
        reverse=True,
    )
    if reasons:
        items = [n for n in items if n.reason in reasons]
    cursor = request.query.get("cursor")
    if cursor:
        ms, sep, cid = cursor.partition("::")
        if not sep or not ms.isdigit() or not cid:
            raise XrpcError(400, "InvalidRequest", "Malformed cursor")
        items = [n for n in items if _sort_key(n) < (int(ms), cid)]
    page, more = items[:limit], len(items) > limit
    body: dict[str, Any] = {"notifications": [state.notification_view(n) for n in page]}
    if page and (more or state.cursor_on_last_page):
        last_ms, last_cid = _sort_key(page[-1])
        body["cursor"] = f"{last_ms}::{last_cid}"
    body["priority"] = False
    if state.seen_at is not None:
        body["seenAt"] = _iso(state.seen_at)
    return web.json_response(body)


async def _update_seen(request: web.Request, state: BlueskyState) -> web.Response:
    _require_access(request, state)
    seen = _parse_datetime((await _json_body(request)).get("seenAt"))
    if seen is None:
        raise XrpcError(400, "InvalidRequest", 'Input must have the property "seenAt"')
    state.seen_at = seen
    return web.Response(status=200)


# ----- posting -----------------------------------------------------------------------------


def _check_strong_ref(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        _invalid(f"{path} must be an object")
    for prop in ("uri", "cid"):
        if not isinstance(value.get(prop), str):
            _invalid(f'{path} must have the property "{prop}"')
    if not value["uri"].startswith("at://"):
        _invalid(f"{path}/uri must be a valid at-uri")


def _validate_post(record: Any) -> None:
    """The lexicon checks a connector can trip over: required fields, text length, strongRefs."""
    if not isinstance(record, dict):
        raise XrpcError(400, "InvalidRequest", "Input/record must be an object")
    if record.get("$type", POST) != POST:
        raise XrpcError(400, "InvalidRequest", f"Invalid $type: expected {POST}")
    for prop in ("text", "createdAt"):
        if prop not in record:
            _invalid(f'Record must have the property "{prop}"')
    text = record["text"]
    if not isinstance(text, str):
        _invalid("Record/text must be a string")
    if graphemes(text) > 300 or len(text.encode("utf-8")) > 3000:
        _invalid("Record/text must not be longer than 300 graphemes")
    if _parse_datetime(record["createdAt"]) is None:
        _invalid("Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)")
    if "reply" in record:
        reply = record["reply"]
        if not isinstance(reply, dict):
            _invalid("Record/reply must be an object")
        for part in ("root", "parent"):
            if part not in reply:
                _invalid(f'Record/reply must have the property "{part}"')
            _check_strong_ref(reply[part], f"Record/reply/{part}")
    if len(record.get("langs", [])) > 3:
        _invalid("Record/langs must not have more than 3 elements")


def _invalid(detail: str) -> NoReturn:
    raise XrpcError(400, "InvalidRequest", f"Invalid {POST} record: {detail}")


async def _create_record(request: web.Request, state: BlueskyState) -> web.Response:
    did = _require_access(request, state)
    body = await _json_body(request)
    repo = str(body.get("repo"))
    if repo not in (did, state.profiles[did].handle):
        if repo in state.profiles or repo in state.handle_map():  # someone else's repo
            raise XrpcError(401, "AuthenticationRequired", "Authentication Required")
        raise XrpcError(400, "InvalidRequest", f"Could not find repo: {repo}")
    if body.get("collection") != POST:
        raise XrpcError(400, "InvalidRequest", f"This fake only stores {POST} records")
    record = body.get("record")
    if not isinstance(record, dict):
        raise XrpcError(400, "InvalidRequest", "Input/record must be an object")
    validate = body.get("validate", True) is not False
    if validate:
        _validate_post(record)
    swap = body.get("swapCommit")
    if swap is not None and swap != state.head_commit:
        raise XrpcError(400, "InvalidSwap", f"Commit was at {state.head_commit}")
    if state.validate_reply_root and "reply" in record:
        _check_thread_root(state, record["reply"])
    rkey = body.get("rkey")
    if rkey is not None:
        if not isinstance(rkey, str) or not _RKEY.match(rkey) or rkey in (".", ".."):
            raise XrpcError(400, "InvalidRequest", "Invalid record key")
        existing = state.posts.get(f"at://{did}/{POST}/{rkey}")
        if existing is not None and not existing.deleted:
            raise XrpcError(*state.rkey_conflict_error)
    record = {"$type": POST, **record}
    ref = state._store(did, record, state.clock(), rkey)
    state.created_posts.append(ref.uri)
    rev = state._tid(state.clock())
    state.head_commit = _cid(f"commit:{rev}".encode())
    return web.json_response(
        {
            "uri": ref.uri,
            "cid": ref.cid,
            "commit": {"cid": state.head_commit, "rev": rev},
            "validationStatus": "valid" if validate else "unknown",
        }
    )


def _check_thread_root(state: BlueskyState, reply: dict[str, Any]) -> None:
    parent = state.posts.get(reply["parent"]["uri"])
    if parent is None:
        return
    expected = (parent.record.get("reply") or {}).get("root", {}).get("uri", parent.uri)
    if reply["root"]["uri"] != expected:
        raise XrpcError(400, "InvalidRequest", "reply.root is not the root of the parent's thread")


# ----- chat --------------------------------------------------------------------------------


def _convo(state: BlueskyState, convo_id: str | None) -> Convo:
    convo = state.convos.get(convo_id or "")
    if convo is None or state.did not in convo.members:
        raise XrpcError(400, "InvalidConvo", "Convo not found")
    return convo


async def _list_convos(request: web.Request, state: BlueskyState) -> web.Response:
    limit = _int_param(request, "limit", 50, 1, 100)
    cursor = request.query.get("cursor")
    convos = sorted(state.convos.values(), key=lambda c: c.rev, reverse=True)
    if request.query.get("readState") == "unread":
        convos = [c for c in convos if c.unread_count > 0]
    if status := request.query.get("status"):
        convos = [c for c in convos if c.status == status]
    if cursor:
        convos = [c for c in convos if c.rev < cursor]
    page = convos[:limit]
    body: dict[str, Any] = {"convos": [state.convo_view(c) for c in page]}
    if len(convos) > limit:
        body["cursor"] = page[-1].rev
    return web.json_response(body)


async def _get_messages(request: web.Request, state: BlueskyState) -> web.Response:
    """Newest first; the cursor pages toward older messages."""
    if "convoId" not in request.query:
        raise XrpcError(400, "InvalidRequest", 'Params must have the property "convoId"')
    convo = _convo(state, request.query["convoId"])
    limit = _int_param(request, "limit", 50, 1, 100)
    cursor = request.query.get("cursor")
    messages = [m for m in reversed(convo.messages) if not cursor or m.rev < cursor]
    page = messages[:limit]
    body: dict[str, Any] = {"messages": [message_view(m) for m in page]}
    if len(messages) > limit:
        body["cursor"] = page[-1].rev
    return web.json_response(body)


async def _get_log(request: web.Request, state: BlueskyState) -> web.Response:
    """The incremental DM feed: entries after ``cursor``, oldest first; keep the new cursor."""
    cursor = request.query.get("cursor")
    if cursor is None and state.getlog_without_cursor == "latest":
        latest = state.chat_log[-1]["rev"] if state.chat_log else None
        return web.json_response({"logs": [], **({"cursor": latest} if latest else {})})
    logs = [e for e in state.chat_log if cursor is None or e["rev"] > cursor]
    page = logs[: state.getlog_page_size]
    next_cursor = page[-1]["rev"] if page else cursor
    body: dict[str, Any] = {"logs": page}
    if next_cursor:
        body["cursor"] = next_cursor
    return web.json_response(body)


async def _send_message(request: web.Request, state: BlueskyState) -> web.Response:
    body = await _json_body(request)
    convo = _convo(state, body.get("convoId"))
    message = body.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("text"), str):
        raise XrpcError(400, "InvalidRequest", 'Input/message must have the property "text"')
    text = message["text"]
    if graphemes(text) > 1000 or len(text.encode("utf-8")) > 10000:
        raise XrpcError(
            400, "InvalidRequest", "Input/message/text must not be longer than 1000 graphemes"
        )
    if convo.locked:
        raise XrpcError(400, "ConvoLocked", "Convo is locked")
    facets = message.get("facets")  # the chat service stores the client's facets as sent
    facets = facets if isinstance(facets, list) else []
    sent = state._append_message(convo, state.did, text, state.clock(), facets)
    convo.status = "accepted"
    state.sent_messages.append(sent.id)
    return web.json_response(message_view(sent))


async def _get_record(request: web.Request, state: BlueskyState) -> web.Response:
    """``com.atproto.repo.getRecord``: public (no auth), one record by repo, collection and
    key; a missing or deleted one is 400 ``RecordNotFound``."""
    repo, collection, rkey = (request.query.get(k) for k in ("repo", "collection", "rkey"))
    if not (repo and collection and rkey):
        raise XrpcError(400, "InvalidRequest", "repo, collection and rkey are required")
    did = repo if repo in state.profiles else state.handle_map().get(repo)
    if did is None:
        raise XrpcError(400, "InvalidRequest", f"Could not find repo: {repo}")
    uri = f"at://{did}/{collection}/{rkey}"
    post = state.posts.get(uri) if collection == POST else None
    if post is None or post.deleted:
        raise XrpcError(400, "RecordNotFound", f"Could not locate record: {uri}")
    return web.json_response({"uri": post.uri, "cid": post.cid, "value": post.record})


async def _get_convo_for_members(request: web.Request, state: BlueskyState) -> web.Response:
    members = request.query.getall("members", [])
    if not 1 <= len(members) <= 10:
        raise XrpcError(400, "InvalidRequest", "members must have between 1 and 10 elements")
    convo = state.convo_for([m for m in members if m != state.did], announce=True)
    return web.json_response({"convo": state.convo_view(convo)})


_ROUTES: dict[str, tuple[str, Method]] = {
    "com.atproto.server.createSession": ("POST", _create_session),
    "com.atproto.server.refreshSession": ("POST", _refresh_session),
    "com.atproto.server.getSession": ("GET", _get_session),
    "app.bsky.notification.listNotifications": ("GET", _list_notifications),
    "app.bsky.notification.updateSeen": ("POST", _update_seen),
    "com.atproto.repo.createRecord": ("POST", _create_record),
    "com.atproto.repo.getRecord": ("GET", _get_record),
    "chat.bsky.convo.listConvos": ("GET", _list_convos),
    "chat.bsky.convo.getMessages": ("GET", _get_messages),
    "chat.bsky.convo.getLog": ("GET", _get_log),
    "chat.bsky.convo.sendMessage": ("POST", _send_message),
    "chat.bsky.convo.getConvoForMembers": ("GET", _get_convo_for_members),
}


# ----- encoding helpers --------------------------------------------------------------------


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _cid(data: bytes) -> str:
    """A CIDv1 (dag-cbor, sha2-256) in base32: the familiar ``bafyrei...`` shape."""
    raw = bytes([0x01, 0x71, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")
