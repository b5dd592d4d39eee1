"""Bluesky: mentions and replies from listNotifications, DMs from the chat log; replies out.

Sessions. ``createSession`` (identifier + app password) gives an access and a refresh JWT.
An expired access token is answered **400 ExpiredToken** (not 401): the session is refreshed
with the refresh JWT (which rotates: the new one is kept, the old one is now revoked) and the
call retried once; a refresh that fails (expired, revoked because another process rotated it)
falls back to a new session from the credentials; a 401 also retries once after a new login;
credentials refused at login are ``AuthExpired`` (a person re-authorises the channel).
createSession is limited to 30 per 5 min and 300 per day per handle, and the poller builds a
connector per poll, so sessions are cached **per process** in this module, keyed by (service
URL, identifier, digest of the password): a changed password in the credential store starts a
new session at once. Tokens live only in that in-memory cache: never logged, never stored, not
in any ``repr``. Several processes each keep their own session (a rotation by one makes the
others log in again on their next expiry: a few sessions a day per process).

Notifications have no "since" and arrive newest first, ordered by ``min(indexedAt,
createdAt)``. A poll pages back until a page was entirely indexed before the saved high-water
mark minus ``SCAN_MARGIN`` (posts indexed late or back-dated sort below items already seen);
what it meets again is a duplicate for the unique (channel, uri) index. Intermediate pages are
stored without a cursor and the last one with the new high-water mark (the newest
``indexedAt`` seen), so a crash mid-scan repeats the scan instead of skipping. A channel's
first poll takes the newest page only (like Mastodon's), and an empty first poll starts the
mark at the local clock.

DMs come from ``chat.bsky.convo.getLog`` (through the ``atproto-proxy`` header), oldest first
after the saved log cursor; each page is stored with its cursor. On the first poll the log
position of *now* is taken, keeping the last ``BACKFILL_MESSAGES`` messages on the way so DMs
written shortly before the channel was connected are not lost, while months of history do not
flood the queue with breached conversations (a server that answers a cursor-less getLog with
nothing but its latest cursor simply starts from now).

Replies: public ones are ``createRecord`` posts with a record key derived from the reply id, so
a resend after a crash collides with the first post (the real PDS answers a bare HTTP 500) and
``getRecord`` under that key finds it: the reply is reported as that post; DMs go
through ``sendMessage``, which has no idempotency, so ``find_sent`` looks for the brand's
message with the same text in the convo (newer than the answered message) before any resend.
A call whose answer was lost after the request left (timeout, dropped connection) is
``Unavailable`` with ``maybe_sent``; a DM send then looks for its message at once, so a lost
answer does not become a second DM.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from services.inbox.connectors.base import (
    AuthExpired,
    Channel,
    CursorRejected,
    Page,
    RateLimited,
    Rejected,
    Reply,
    Sent,
    Unavailable,
    answer_json,
    exchange,
)
from services.inbox.domain.bluesky import (
    POST,
    SCAN_MARGIN,
    chat_message,
    creates_message,
    is_record_collision,
    iso,
    link_facets,
    maybe_time,
    newest_indexed,
    notification_message,
    own_message_in,
    page_is_older,
    parse_time,
    post_uri,
    record_key,
    reply_refs,
    reset_at,
)
from services.inbox.domain.messages import Incoming

log = logging.getLogger("ecoute.inbox.bluesky")

PAGE = 50
LOG_PAGES = 1000  # a guard against a log that never ends; 100 entries a page
BACKFILL_MESSAGES = 100
FIND_SENT_PAGES = 2  # newest 100 messages of a convo
CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"
TOKEN_ERRORS = ("ExpiredToken", "InvalidToken")
# Bounded failure reasons (they become labels and ReplyFailed.reason).
REASONS = {"ConvoLocked": "convo_locked", "InvalidConvo": "invalid_convo"}


@dataclass(slots=True)
class _Session:
    did: str
    handle: str
    access: str = field(repr=False)
    refresh: str = field(repr=False)


@dataclass(slots=True)
class _Slot:
    """One account's session in this process, and the lock that serialises its renewal."""

    loop: asyncio.AbstractEventLoop
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    session: _Session | None = None


_SESSIONS: dict[tuple[str, str, str], _Slot] = {}


def forget_sessions() -> None:
    """Drop every cached session (tests; a process that must log in again)."""
    _SESSIONS.clear()


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def error(self) -> str:
        return str(self.body.get("error") or "") if isinstance(self.body, dict) else ""

    @property
    def message(self) -> str:
        return str(self.body.get("message") or "") if isinstance(self.body, dict) else ""

    @property
    def token_refused(self) -> bool:
        return self.status == 400 and self.error in TOKEN_ERRORS


class XrpcRejected(Rejected):
    """A 4xx the platform means: keeps its status and XRPC error name for the caller."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(REASONS.get(error, "rejected"), message or error or f"HTTP {status}")
        self.status = status
        self.error = error


class BlueskyConnector:
    streams: tuple[str, ...] = ("notifications", "chat")

    def __init__(
        self,
        channel: Channel,
        credentials: dict[str, Any],
        session: aiohttp.ClientSession,
        clock: Callable[[], datetime],
    ) -> None:
        identifier, password = credentials.get("identifier"), credentials.get("password")
        if not isinstance(identifier, str) or not identifier.strip():
            raise AuthExpired("the credentials have no identifier")
        if not isinstance(password, str) or not password:
            raise AuthExpired("the credentials have no password")
        self.channel = channel
        self.http = session
        self.clock = clock
        self.base = channel.base_url.rstrip("/")
        self._identifier = identifier.strip().lstrip("@")
        self._password = password
        self._key = (
            self.base,
            self._identifier.lower(),
            hashlib.sha256(password.encode("utf-8")).hexdigest(),
        )
        self._profiles: dict[str, tuple[str, str]] = {}
        self._profiles_loaded = False

    # ----- HTTP and sessions ----------------------------------------------------------------

    async def _fetch(
        self,
        method: str,
        nsid: str,
        *,
        token: str | None,
        params: Any = None,
        body: dict[str, Any] | None = None,
        chat: bool = False,
    ) -> _Answer:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if chat:
            headers["atproto-proxy"] = CHAT_PROXY
        answer = await exchange(
            self.http,
            method,
            f"{self.base}/xrpc/{nsid}",
            lost=lambda exc: _unavailable(type(exc).__name__, maybe_sent=method == "POST"),
            params=params,
            json=body,
            headers=headers,
        )
        return _Answer(answer.status, answer_json(answer.raw), answer.headers)

    def _check(self, answer: _Answer) -> None:
        """Raise the error that decides what the poller or the delivery loop does next."""
        if 200 <= answer.status < 300:
            return
        if answer.status == 429:
            raise RateLimited(reset_at(answer.headers.get("RateLimit-Reset")), answer.error)
        if answer.status >= 500 or answer.status < 400:
            raise Unavailable(f"HTTP {answer.status} {answer.error}".strip())
        if answer.status == 401 or answer.token_refused:
            raise AuthExpired(answer.message or answer.error)
        raise XrpcRejected(answer.status, answer.error, answer.message)

    def _slot(self) -> _Slot:
        loop = asyncio.get_running_loop()
        slot = _SESSIONS.get(self._key)
        if slot is None or slot.loop is not loop:  # a lock belongs to one event loop
            slot = _SESSIONS[self._key] = _Slot(loop, session=slot.session if slot else None)
        return slot

    def _session_from(self, body: Any, previous: _Session | None = None) -> _Session:
        if not isinstance(body, dict):
            raise Unavailable("the session answer is not JSON")
        access, refresh = body.get("accessJwt"), body.get("refreshJwt")
        did = body.get("did") or (previous.did if previous else None)
        handle = body.get("handle") or (previous.handle if previous else "")
        if not (isinstance(access, str) and isinstance(refresh, str) and isinstance(did, str)):
            raise Unavailable("the session answer lacks its tokens")
        if did != self.channel.account_id:
            raise AuthExpired("the credentials belong to another account than the channel's")
        return _Session(did, str(handle), access, refresh)

    async def _create_session(self) -> _Session:
        answer = await self._fetch(
            "POST",
            "com.atproto.server.createSession",
            token=None,
            body={"identifier": self._identifier, "password": self._password},
        )
        if 400 <= answer.status < 500 and answer.status != 429:
            # Bad password, revoked app password, takedown, 2FA required: a person must act.
            raise AuthExpired(answer.message or answer.error or f"HTTP {answer.status}")
        self._check(answer)
        log.info(
            "bluesky session created",
            extra={"workspace_id": str(self.channel.workspace_id), "platform": "bluesky"},
        )
        return self._session_from(answer.body)

    async def _refreshed(self, stale: _Session) -> _Session | None:
        """The rotated session, or None when the refresh token no longer works."""
        answer = await self._fetch("POST", "com.atproto.server.refreshSession", token=stale.refresh)
        if answer.status in (400, 401):  # ExpiredToken (expired or revoked), InvalidToken
            return None
        self._check(answer)
        return self._session_from(answer.body, stale)

    async def _session(self) -> _Session:
        slot = self._slot()
        if slot.session is not None:
            return slot.session
        async with slot.lock:
            if slot.session is None:
                slot.session = await self._create_session()
            return slot.session

    async def _renew(self, stale: _Session, *, refresh: bool) -> _Session:
        """A working session after ``stale`` was refused: refreshed if possible, else new."""
        slot = self._slot()
        async with slot.lock:
            if slot.session is not None and slot.session.access != stale.access:
                return slot.session  # renewed meanwhile by another call
            renewed = await self._refreshed(stale) if refresh else None
            if renewed is None:
                slot.session = None
                renewed = await self._create_session()
            slot.session = renewed
            return renewed

    async def _xrpc(
        self,
        method: str,
        nsid: str,
        *,
        params: Any = None,
        body: dict[str, Any] | None = None,
        chat: bool = False,
    ) -> _Answer:
        """One call with the session, renewed and retried once if the token is refused."""
        session = await self._session()
        answer = await self._fetch(
            method, nsid, token=session.access, params=params, body=body, chat=chat
        )
        if answer.token_refused or answer.status == 401:
            session = await self._renew(session, refresh=answer.token_refused)
            answer = await self._fetch(
                method, nsid, token=session.access, params=params, body=body, chat=chat
            )
        return answer

    async def _call(
        self,
        method: str,
        nsid: str,
        *,
        params: Any = None,
        body: dict[str, Any] | None = None,
        chat: bool = False,
    ) -> dict[str, Any]:
        answer = await self._xrpc(method, nsid, params=params, body=body, chat=chat)
        self._check(answer)
        return answer.body if isinstance(answer.body, dict) else {}

    # ----- polling --------------------------------------------------------------------------

    async def poll(self, stream: str, cursor: str | None) -> AsyncIterator[Page]:
        if stream == "notifications":
            async for page in self._notifications(cursor):
                yield page
        elif stream == "chat":
            pages = self._chat(cursor) if cursor is not None else self._chat_from_now()
            async for page in pages:
                yield page
        else:
            raise Rejected("unsupported", f"no stream {stream!r} on bluesky")

    async def _notifications(self, saved: str | None) -> AsyncIterator[Page]:
        high: datetime | None = None
        if saved is not None:
            try:
                high = parse_time(saved)
            except ValueError:
                raise CursorRejected("unreadable high-water mark") from None
        floor = high - SCAN_MARGIN if high is not None else None
        page_cursor: str | None = None
        while True:
            params = [("reasons", "mention"), ("reasons", "reply"), ("limit", str(PAGE))]
            if page_cursor:
                params.append(("cursor", page_cursor))
            body = await self._call("GET", "app.bsky.notification.listNotifications", params=params)
            notes = [n for n in body.get("notifications") or [] if isinstance(n, dict)]
            messages = [
                m
                for n in notes
                if (m := notification_message(n, self.channel.key, self.channel.account_id))
            ]
            high = newest_indexed(notes, high)
            next_cursor = body.get("cursor")
            last = (
                floor is None  # a first poll: the newest page only
                or not notes
                or not isinstance(next_cursor, str)
                or not next_cursor  # a missing cursor is the end of the list
                or next_cursor == page_cursor
                or page_is_older(notes, floor)
            )
            if last:
                yield Page(messages, iso(high if high is not None else self.clock()))
                return
            yield Page(messages, None)  # a crash here rescans: never past unstored items
            page_cursor = next_cursor

    async def _get_log(self, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        params = {"cursor": cursor} if cursor else None
        try:
            body = await self._call("GET", "chat.bsky.convo.getLog", params=params, chat=True)
        except XrpcRejected as exc:
            if cursor and exc.status == 400:
                raise CursorRejected(exc.detail) from None
            raise
        logs = [e for e in body.get("logs") or [] if isinstance(e, dict)]
        found = body.get("cursor")
        return logs, found if isinstance(found, str) and found else None

    async def _chat(self, cursor: str) -> AsyncIterator[Page]:
        for _ in range(LOG_PAGES):
            logs, found = await self._get_log(cursor)
            messages = await self._chat_messages(logs)
            if found is None or found == cursor:  # nothing new, or no cursor to go on with
                if messages:
                    yield Page(messages, None)
                return
            yield Page(messages, found)
            if not logs:
                return
            cursor = found

    async def _chat_from_now(self) -> AsyncIterator[Page]:
        recent: deque[dict[str, Any]] = deque(maxlen=BACKFILL_MESSAGES)
        cursor: str | None = None
        for _ in range(LOG_PAGES):
            logs, found = await self._get_log(cursor)
            recent.extend(e for e in logs if creates_message(e))
            moved = found is not None and found != cursor
            cursor = found or cursor
            if not logs or not moved:
                break
        messages = await self._chat_messages(list(recent))
        if messages or cursor is not None:
            yield Page(messages, cursor)

    async def _chat_messages(self, logs: list[dict[str, Any]]) -> list[Incoming]:
        entries = [e for e in logs if creates_message(e)]
        senders = {str(e["message"]["sender"]["did"]) for e in entries}
        if senders - self._profiles.keys():
            await self._learn_profiles()
        return [
            m
            for e in entries
            if (m := chat_message(e, self.channel.key, self.channel.account_id, self._profiles))
        ]

    async def _learn_profiles(self) -> None:
        """Handles of DM senders (the log names DIDs only), from the newest convos, once."""
        if self._profiles_loaded:
            return
        self._profiles_loaded = True
        try:
            body = await self._call(
                "GET", "chat.bsky.convo.listConvos", params={"limit": "100"}, chat=True
            )
        except Rejected:
            return  # handles are a courtesy: the DMs are stored without them
        for convo in body.get("convos") or []:
            for member in (convo.get("members") if isinstance(convo, dict) else None) or []:
                if isinstance(member, dict) and isinstance(member.get("did"), str):
                    self._profiles[member["did"]] = (
                        str(member.get("handle") or ""),
                        str(member.get("displayName") or ""),
                    )

    # ----- replies --------------------------------------------------------------------------

    async def send(self, reply: Reply) -> Sent:
        if reply.kind == "dm":
            return await self._send_message(reply)
        return await self._send_post(reply)

    async def _send_post(self, reply: Reply) -> Sent:
        answered = _as_dict(reply.raw)
        refs = reply_refs(answered, reply.in_reply_to)
        if refs is None:
            raise Rejected("missing_parent", "the answered post's cid is not known")
        near = answered.get("indexedAt") if answered else None
        rkey = record_key(reply.reply_id, maybe_time(near))
        now = self.clock()
        record: dict[str, Any] = {
            "$type": POST,
            "text": reply.text,
            "createdAt": iso(now),
            "reply": refs,
        }
        if facets := link_facets(reply.text):
            record["facets"] = facets
        answer = await self._xrpc(
            "POST",
            "com.atproto.repo.createRecord",
            body={
                "repo": self.channel.account_id,
                "collection": POST,
                "rkey": rkey,
                "record": record,
            },
        )
        # A reused key answers 500 on the real PDS: posted by an attempt that died before
        # recording it? Then that post is this reply; otherwise the error stands.
        collided = answer.status >= 500 or is_record_collision(
            answer.status, answer.error, answer.message
        )
        if collided and (posted := await self._posted(rkey, reply.text)) is not None:
            return Sent(posted, now)
        self._check(answer)
        uri = answer.body.get("uri") if isinstance(answer.body, dict) else None
        return Sent(uri if isinstance(uri, str) else post_uri(self.channel.account_id, rkey), now)

    async def _posted(self, rkey: str, text: str) -> str | None:
        """The URI of the brand's post under ``rkey`` when it holds ``text``
        (``com.atproto.repo.getRecord``; 400 ``RecordNotFound`` when there is none)."""
        answer = await self._xrpc(
            "GET",
            "com.atproto.repo.getRecord",
            params={"repo": self.channel.account_id, "collection": POST, "rkey": rkey},
        )
        if answer.status == 400 and answer.error == "RecordNotFound":
            return None
        self._check(answer)
        body = answer.body if isinstance(answer.body, dict) else {}
        value, uri = body.get("value"), body.get("uri")
        if not isinstance(value, dict) or value.get("text") != text or not isinstance(uri, str):
            return None
        return uri

    async def _convo_id(self, reply: Reply) -> str:
        if reply.thread_id:
            return reply.thread_id
        body = await self._call(
            "GET",
            "chat.bsky.convo.getConvoForMembers",
            params={"members": reply.author_external_id},
            chat=True,
        )
        convo = body.get("convo")
        found = convo.get("id") if isinstance(convo, dict) else None
        if not isinstance(found, str):
            raise Rejected("invalid_convo", "no conversation with this customer")
        return found

    async def _send_message(self, reply: Reply) -> Sent:
        message: dict[str, Any] = {"text": reply.text}
        if facets := link_facets(reply.text):
            message["facets"] = facets
        convo = await self._convo_id(reply)
        try:
            body = await self._call(
                "POST",
                "chat.bsky.convo.sendMessage",
                body={"convoId": convo, "message": message},
                chat=True,
            )
        except Unavailable as exc:
            if not getattr(exc, "maybe_sent", False):
                raise
            # The answer was lost after sending: look before anyone sends it again.
            found = await self._find_message(reply, convo)
            if found is None:
                raise
            return found
        return self._sent_message(body)

    def _sent_message(self, view: Mapping[str, Any]) -> Sent:
        sent_id = view.get("id")
        if not isinstance(sent_id, str):
            raise _unavailable("the chat service answered without a message id", maybe_sent=True)
        return Sent(sent_id, maybe_time(view.get("sentAt")) or self.clock())

    async def find_sent(self, reply: Reply) -> Sent | None:
        """After a crash mid-send: the DM we already sent for this reply, if any.

        Public posts need no search (their record key collides on a resend). For a DM, the
        convo's newest messages are searched back to the answered message for the brand's
        message with the same text; a canned answer sent *before* it does not count.
        """
        if reply.kind != "dm":
            return None
        return await self._find_message(reply, await self._convo_id(reply))

    async def _find_message(self, reply: Reply, convo: str) -> Sent | None:
        cursor: str | None = None
        for _ in range(FIND_SENT_PAGES):
            params = {"convoId": convo, "limit": "50", **({"cursor": cursor} if cursor else {})}
            body = await self._call("GET", "chat.bsky.convo.getMessages", params=params, chat=True)
            found, reached = own_message_in(
                body.get("messages") or [], self.channel.account_id, reply.text, reply.in_reply_to
            )
            if found is not None:
                return self._sent_message(found)
            next_cursor = body.get("cursor")
            if reached or not isinstance(next_cursor, str) or not next_cursor:
                return None
            cursor = next_cursor
        return None


def _as_dict(raw: Any) -> dict[str, Any] | None:
    if isinstance(raw, str):  # JSONB may come back as text, depending on the driver's codecs
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    return raw if isinstance(raw, dict) else None


def _unavailable(detail: str, *, maybe_sent: bool) -> Unavailable:
    """``Unavailable`` saying whether the request may have been acted on (``maybe_sent``):
    the delivery loop then reconciles before sending again. Set as an attribute so it also
    holds where ``Unavailable`` does not declare it."""
    exc = Unavailable(detail)
    setattr(exc, "maybe_sent", maybe_sent)  # noqa: B010
    return exc
