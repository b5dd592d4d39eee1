"""X (API v2): mentions caught up with ``since_id``, DMs newest-first to the last one seen.

Credentials: ``{"bearer_token": …}``, an OAuth 2.0 user-context token (DM lookup and posting
refuse app-only tokens). The channel's ``account_id`` is the brand's user id.

Mentions. The first poll takes the newest page only (no history crawl). Later polls ask for
``since_id=<cursor>`` and follow ``meta.next_token`` keeping the same ``since_id``; pages come
newest first, so every page but the last is stored with ``cursor=None`` and the last one
carries ``meta.newest_id`` of the first page: a crash or a rate limit half-way keeps the old
cursor and the next poll reads the same range again (duplicates cost nothing). Some mentions
show up on X after newer ones were served (platforms.md §1.2, IEKit#307), and ``since_id``
then hides them for good; so every poll also re-reads the last ``OVERLAP`` (10 minutes) by
``start_time`` — a separate request, as ``since_id`` takes precedence over ``start_time`` —
and relies on the unique index to drop what is already stored. A time window (rather than
keeping ``since_id`` a few ids back) catches a late post whatever the number of posts after
it, and does not use the ``since_id`` path that missed it; it costs one request per poll
(mentions allow 300 per 15 minutes per user).

DMs. ``GET /2/dm_events`` has no ``since_id``: pages are read newest first until one holds an
event at or below the cursor (the newest event id seen), which ends the walk; the cursor is
saved with the last page. The brand's own DMs are kept (``direction="out"``). DM lookups allow
only 15 requests per 15 minutes per user: poll X channels no more than once a minute.

Replies. A public reply is ``POST /2/tweets`` with ``reply.in_reply_to_tweet_id``; a DM reply
is ``POST /2/dm_conversations/with/{participant}/messages``. X has no idempotency key, so a
reply whose first attempt may have landed (a crash mid-send: the delivery loop calls
:meth:`XConnector.find_sent`; or a lost answer: 5xx or a broken connection after the request
was written) is reconciled, never blindly re-sent:

- public replies: platforms.md documents no endpoint that lists the brand's own posts, but X
  refuses a second post with the same text (403 "duplicate content"). The reply is posted
  again; 201 means the first attempt never landed, and a 403 duplicate means it did: the
  reply is recorded as delivered under ``unconfirmed:<reply id>`` (X does not tell the id of
  the earlier post). A 403 duplicate on a first attempt is ``Rejected("duplicate")``: the
  same text was posted before, for another reason, and nothing was sent now. Residual risk:
  after a crash, an identical text posted earlier on purpose (a canned answer) is taken as
  this reply; agents' replies are personal, so this is rare, and it never double-posts.
- DMs: X does not refuse duplicate DMs, but DM events can be read
  (``GET /2/dm_conversations/with/{participant}/dm_events``, platforms.md §1.3): a brand DM in
  that conversation with the same text and an id above the message answered is the earlier
  attempt. When that lookup itself fails, the outcome stays unknown and the reply fails as
  ``unknown_outcome`` for a person to check, rather than risk a double DM.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, timedelta
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
from services.inbox.domain.messages import Incoming
from services.inbox.domain.x import (
    Malformed,
    dm_event_message,
    id_key,
    is_duplicate_content,
    names_parameter,
    other_participant,
    parse_time,
    problem_detail,
    problem_kind,
    reset_at,
    same_text,
    tweet_message,
    users_by_id,
)

PAGE = 100
OVERLAP = timedelta(minutes=10)
TWEET_FIELDS = (
    "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,lang,entities,"
    "note_tweet,edit_history_tweet_ids"
)
# Only values both docs.x.com and X's OpenAPI list for dm_event.fields: the OpenAPI has sender_id
# as an expansion only, and the expansion puts sender_id in each event (fundamentals/expansions).
DM_FIELDS = "id,text,event_type,dm_conversation_id,created_at"
MENTION_PARAMS = (
    ("max_results", str(PAGE)),
    ("tweet.fields", TWEET_FIELDS),
    ("expansions", "author_id"),
    ("user.fields", "username,name"),
)
DM_PARAMS = (
    ("max_results", str(PAGE)),
    ("dm_event.fields", DM_FIELDS),
    ("event_types", "MessageCreate"),
    ("expansions", "sender_id"),
    ("user.fields", "username,name"),
)
# Problem types meaning "these credentials cannot do this": a person must re-authorise.
AUTH_PROBLEMS = frozenset({"unsupported-authentication", "oauth1-permissions"})
UNCONFIRMED = "unconfirmed:"

Params = Sequence[tuple[str, str]]


class _Uncertain(Unavailable):
    """A write whose answer was lost (5xx, broken connection): it may have landed."""


class _Duplicate(Rejected):
    """403 "duplicate content": the account already posted this exact text."""


class XConnector(BearerConnector):
    streams: tuple[str, ...] = ("mentions", "dms")
    bearer_credential = "bearer_token"

    # -- HTTP ------------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, *, params: Params = (), body: dict[str, Any] | None = None
    ) -> Any:
        """The JSON answer of a 2xx; the errors of base.py otherwise."""
        write = method != "GET"
        exchanged = await exchange(
            self.session,
            method,
            self.base + path,
            lost=lambda exc: (_Uncertain if write else Unavailable)(type(exc).__name__),
            params=list(params),
            json=body,
            headers=self.headers,
        )
        status, headers = exchanged.status, exchanged.headers
        answer = answer_json(exchanged.raw)
        detail = problem_detail(answer)
        if status == 401 or (status == 403 and problem_kind(answer) in AUTH_PROBLEMS):
            raise AuthExpired(detail)
        if status == 429:
            raise RateLimited(reset_at(headers.get("x-rate-limit-reset")), detail)
        if status >= 500:
            raise (_Uncertain if write else Unavailable)(f"HTTP {status}")
        if status == 403 and is_duplicate_content(answer):
            raise _Duplicate("duplicate", detail)
        if status == 400 and names_parameter(answer, "pagination_token"):
            raise CursorRejected(detail)
        if status >= 400:
            reason = {403: "forbidden", 404: "not_found"}.get(status, "rejected")
            raise Rejected(reason, detail or f"HTTP {status}")
        if not isinstance(answer, dict):
            raise Unavailable(f"HTTP {status} without a JSON object")
        return answer

    # -- polling ---------------------------------------------------------------------------

    async def poll(self, stream: str, cursor: str | None) -> AsyncIterator[Page]:
        if stream == "mentions":
            pages = self._mentions(cursor)
        elif stream == "dms":
            pages = self._dms(cursor)
        else:
            raise Rejected("unsupported", f"no stream {stream!r}")
        async for page in pages:
            yield page

    async def _mentions(self, cursor: str | None) -> AsyncIterator[Page]:
        path = f"/2/users/{self.channel.account_id}/mentions"
        if cursor is None:
            body = await self._call("GET", path, params=MENTION_PARAMS)
            newest = _newest(body, "data")
            if newest is not None:
                yield Page(self._posts(body), newest)
            return
        if not (cursor.isascii() and cursor.isdigit()):
            raise CursorRejected("the saved since_id is not a post id")
        since = (*MENTION_PARAMS, ("since_id", cursor))
        newest = None
        token: str | None = None
        while True:
            body = await self._call("GET", path, params=_with_token(since, token))
            newest = newest or _newest(body, "data")
            token = _next_token(body)
            if token is not None:
                yield Page(self._posts(body), None)
                continue
            advanced = newest is not None and id_key(newest) > id_key(cursor)
            messages = self._posts(body)
            if messages or advanced:
                yield Page(messages, newest if advanced else None)
            break
        # The overlap window: late mentions that since_id no longer shows.
        start = (self.clock() - OVERLAP).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        window = (*MENTION_PARAMS, ("start_time", start))
        token = None
        while True:
            body = await self._call("GET", path, params=_with_token(window, token))
            messages = self._posts(body)
            if messages:
                yield Page(messages, None)
            token = _next_token(body)
            if token is None:
                return

    async def _dms(self, cursor: str | None) -> AsyncIterator[Page]:
        if cursor is not None and not (cursor.isascii() and cursor.isdigit()):
            raise CursorRejected("the saved DM event id is not an id")
        seen = int(cursor) if cursor is not None else None
        newest: int | None = None
        token: str | None = None
        while True:
            body = await self._call("GET", "/2/dm_events", params=_with_token(DM_PARAMS, token))
            events = [e for e in body.get("data") or [] if isinstance(e, dict)]
            ids = [int(e["id"]) for e in events if _above(e.get("id"), -1)]
            if ids and newest is None:
                newest = max(ids)
            reached = seen is None or any(i <= seen for i in ids)
            fresh = [e for e in events if seen is None or _above(e.get("id"), seen)]
            messages = self._dm_messages(fresh, body.get("includes"))
            token = _next_token(body)
            if reached or token is None:
                advanced = newest is not None and (seen is None or newest > seen)
                if messages or advanced:
                    yield Page(messages, str(newest) if advanced else None)
                return
            yield Page(messages, None)

    def _posts(self, body: dict[str, Any]) -> list[Incoming]:
        users = users_by_id(body.get("includes"))
        return readable(
            self.channel,
            body.get("data") or [],
            lambda t: tweet_message(t, users, self.channel.key, self.channel.account_id),
        )

    def _dm_messages(self, events: list[dict[str, Any]], includes: object) -> list[Incoming]:
        users = users_by_id(includes)
        return readable(
            self.channel,
            events,
            lambda e: dm_event_message(e, users, self.channel.key, self.channel.account_id),
        )

    # -- replies ---------------------------------------------------------------------------

    async def send(self, reply: Reply) -> Sent:
        if reply.kind == "dm":
            return await self._send_dm(reply)
        return await self._post_reply(reply, maybe_posted=False)

    async def find_sent(self, reply: Reply) -> Sent | None:
        """Called for a reply interrupted mid-send: the earlier attempt's post, if it landed.

        For a public reply this *is* the resend: X's duplicate-content check tells whether the
        first attempt landed (see the module docstring), so it never posts twice. For a DM the
        conversation is read back; None lets the delivery loop send it.
        """
        if reply.kind == "dm":
            return await self._find_dm(reply)
        return await self._post_reply(reply, maybe_posted=True)

    async def _post_reply(self, reply: Reply, *, maybe_posted: bool) -> Sent:
        body = {"text": reply.text, "reply": {"in_reply_to_tweet_id": reply.in_reply_to}}
        try:
            answer = await self._call("POST", "/2/tweets", body=body)
        except _Duplicate as exc:
            if maybe_posted:
                return Sent(UNCONFIRMED + str(reply.reply_id), self.clock())
            raise Rejected("duplicate", exc.detail) from None
        except _Uncertain:
            if maybe_posted:
                raise Unavailable("the reply's outcome is still unknown") from None
            # The answer was lost: post again and let the duplicate check tell.
            return await self._post_reply(reply, maybe_posted=True)
        return Sent(_data_str(answer, "id", reply), self.clock())

    def _participant(self, reply: Reply) -> str:
        found = other_participant(reply.thread_id, self.channel.account_id)
        participant = found or reply.author_external_id
        if (
            not (participant.isascii() and participant.isdigit())
            or participant == self.channel.account_id
        ):
            raise Rejected("rejected", "no one to send this DM to")
        return participant

    async def _send_dm(self, reply: Reply) -> Sent:
        participant = self._participant(reply)
        try:
            answer = await self._call(
                "POST",
                f"/2/dm_conversations/with/{participant}/messages",
                body={"text": reply.text},
            )
        except _Uncertain:
            found = await self._find_dm(reply)
            if found is None:  # it did not land: sending again is safe
                raise Unavailable("the DM was not sent") from None
            return found
        return Sent(_data_str(answer, "dm_event_id", reply), self.clock())

    async def _find_dm(self, reply: Reply) -> Sent | None:
        """The brand's DM with this text sent after the message answered, if any."""
        participant = self._participant(reply)
        after = (
            int(reply.in_reply_to)
            if (reply.in_reply_to.isascii() and reply.in_reply_to.isdigit())
            else 0
        )
        try:
            body = await self._call(
                "GET", f"/2/dm_conversations/with/{participant}/dm_events", params=DM_PARAMS
            )
        except (RateLimited, Unavailable, Rejected) as exc:
            raise Rejected(
                "unknown_outcome",
                f"interrupted while sending a DM and could not check it ({type(exc).__name__})",
            ) from None
        for event in body.get("data") or []:
            if (
                isinstance(event, dict)
                and event.get("sender_id") == self.channel.account_id
                and _above(event.get("id"), after)
                and same_text(str(event.get("text") or ""), reply.text)
            ):
                created = event.get("created_at")
                try:
                    at = parse_time(created)
                except Malformed:
                    at = self.clock()
                return Sent(str(event["id"]), at)
        return None


def _with_token(params: Params, token: str | None) -> Params:
    return (*params, ("pagination_token", token)) if token else params


def _next_token(body: dict[str, Any]) -> str | None:
    meta = body.get("meta")
    token = meta.get("next_token") if isinstance(meta, dict) else None
    return token if isinstance(token, str) and token else None


def _newest(body: dict[str, Any], key: str) -> str | None:
    """``meta.newest_id``, else the largest id served (pages may come out of order)."""
    meta = body.get("meta")
    newest = meta.get("newest_id") if isinstance(meta, dict) else None
    ids = [str(t.get("id")) for t in body.get(key) or [] if isinstance(t, dict)]
    candidates = [i for i in (newest, *ids) if isinstance(i, str) and (i.isascii() and i.isdigit())]
    return max(candidates, key=int) if candidates else None


def _above(value: object, floor: int) -> bool:
    return isinstance(value, str) and (value.isascii() and value.isdigit()) and int(value) > floor


def _data_str(answer: dict[str, Any], key: str, reply: Reply) -> str:
    """The new post's id; a 2xx without one still means it was posted (never post again)."""
    data = answer.get("data")
    value = data.get(key) if isinstance(data, dict) else None
    if isinstance(value, str) and (value.isascii() and value.isdigit()):
        return value
    return UNCONFIRMED + str(reply.reply_id)
