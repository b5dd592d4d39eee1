"""Meta (Facebook Page comments, Messenger, Instagram): replies through the Graph API.

Meta only pushes: messages arrive through ``/webhooks/meta`` (``webhooks/http_meta.py``), so this
connector has no streams and the poller does nothing with it; create these channels with
``"polling": false``. A channel's ``account_id`` is the Page id (``facebook``: feed comments;
``messenger``: DMs) or the Instagram professional account id (``instagram``: comments,
mentions, DMs); its credentials are ``{"page_access_token": ...}``, sent as a Bearer header
(never in a URL).

Replies:
- a Facebook comment: ``POST /{version}/{comment-id}/comments {"message"}`` → ``{"id"}``;
- an Instagram comment: ``POST /{version}/{ig-comment-id}/replies {"message"}`` → ``{"id"}``;
- a Messenger DM: ``POST /{version}/{page-id}/messages`` with ``recipient.id`` = the
  customer's page-scoped id, ``messaging_type: RESPONSE`` and ``message.text`` →
  ``{"recipient_id", "message_id"}``. The Page id rather than ``me``, so a token for another
  Page fails instead of writing from the wrong Page;
- a private reply to a Facebook or Instagram comment (``Reply.private``): ``POST
  /{version}/{page-id}/messages`` (Instagram: ``me``, the linked Page, as for its DMs) with
  ``recipient.comment_id`` and ``message.text``: a message to the commenter, one per comment,
  within 7 days of it. Past 7 days Meta answers its window error (``window_closed``), a second
  one code 10900 "Activity already replied to" (``duplicate``), each with a detail that says so;
- an Instagram DM: the same body on ``POST /{version}/me/messages``: with a Page token,
  Instagram messaging goes through the Page linked to the account (the channel knows the
  Instagram id, not that Page's); ``/{ig-id}/messages`` is for Instagram Login tokens only.
  Instagram takes at most 1,000 bytes of text (Messenger 2,000 characters).
Moderation (``Moderates``), on comments only (docs/platforms/meta.md, "Moderation"):
- a Facebook comment: ``POST /{version}/{comment-id} {"is_hidden": true|false}`` and
  ``DELETE /{version}/{comment-id}``, each answering ``{"success": true}``;
- an Instagram comment: ``POST /{version}/{ig-comment-id} {"hide": true|false}`` and
  ``DELETE /{version}/{ig-comment-id}``, the same answer.
These are repeatable, so an answer lost after sending is ``Unavailable(maybe_sent=True)``
(made again), unlike a reply; a comment Meta no longer knows (code 100, subcode 33) is
``Rejected("not_found")``.

Instagram mentions carry no text or author, and platforms.md documents no reply for them:
replying is ``Rejected("unsupported")``.

Graph errors: code 190 (or 102) → ``AuthExpired``; throttling (4, 17, 32, 341, 613, 80000-80014)
→ ``RateLimited`` until ``estimated_time_to_regain_access`` of the usage headers, else the
delivery loop's back-off; outside the 24-hour window (subcode 2018278, or code 10 with Meta's
window text) → ``Rejected("window_closed")``; 506 → ``Rejected("duplicate")``; 5xx and the
transient codes 1 and 2 → ``Unavailable``; any other 4xx → ``Rejected("rejected")``.

Names (the User Profile APIs): a Messenger webhook carries only the customer's page-scoped id,
an Instagram DM only the Instagram-scoped id. ``profile`` asks ``GET /{version}/{PSID}?fields=
name,first_name,last_name`` (Messenger) or ``GET /{version}/{IGSID}?fields=name,username``
(Instagram) with the Page token; the same error rules apply (a refusal is ``Rejected``; a lost
answer changes nothing on Meta's side, so it is ``Unavailable``).

Meta has no idempotency key and platforms.md documents no read endpoint to find a reply
already made, so there is no ``find_sent``: an interrupted send is failed as
``unknown_outcome`` by the delivery loop rather than risk a double post. For the same reason a
request that may have reached Meta but got no answer (connection dropped, read timeout) is
``Rejected("unknown_outcome")``, not retried; only a connection never made is ``Unavailable``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp

from services.inbox.connectors.base import (
    AuthExpired,
    BearerConnector,
    ConnectorError,
    Moderation,
    Profile,
    PushOnly,
    RateLimited,
    Rejected,
    Reply,
    Sent,
    Unavailable,
    answer_json,
    exchange,
)
from services.inbox.domain.meta import graph_error, read_profile, regain_at

GRAPH_VERSION = "v21.0"
AUTH_CODES = frozenset({102, 190})
THROTTLE_CODES = frozenset({4, 17, 32, 341, 613, *range(80000, 80015)})
TRANSIENT_CODES = frozenset({1, 2})
WINDOW_SUBCODE = 2018278
DUPLICATE_CODE = 506
ALREADY_REPLIED_CODE = 10900  # a second private reply to one comment
PRIVATE_WINDOW_CLOSED = "a private reply is possible only within 7 days of the comment"
PRIVATE_ALREADY_SENT = "this comment already got its one private reply"
MISSING_CODE, MISSING_SUBCODE = 100, 33  # "Object with ID ... does not exist"
USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-Page-Usage", "X-App-Usage")
_GRAPH_ID = re.compile(r"[A-Za-z0-9_]{1,256}")
TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)
PROFILE_TIMEOUT = aiohttp.ClientTimeout(total=5, connect=3)  # a webhook waits on it
# Nothing reached Meta: no connection, or none within the connect timeout.
NEVER_REACHED_META = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
PROFILE_FIELDS = {
    "messenger": "name,first_name,last_name",
    "instagram": "name,username",
}


class MetaConnector(PushOnly, BearerConnector):
    bearer_credential = "page_access_token"

    async def send(self, reply: Reply) -> Sent:
        platform = self.channel.platform
        if reply.private:
            return await self._private_reply(reply)
        if platform == "messenger" or (platform == "instagram" and reply.kind == "dm"):
            return await self._message(reply)
        if platform in ("facebook", "instagram") and reply.kind in ("comment", "reply"):
            edge = "comments" if platform == "facebook" else "replies"
            target = graph_id(reply.in_reply_to, "the comment answered")
            body = await self._post(f"/{GRAPH_VERSION}/{target}/{edge}", {"message": reply.text})
            return Sent(answer_id(body, "id"), self.clock())
        raise Rejected("unsupported", f"no {platform} reply to a {reply.kind}")

    async def moderate(self, request: Moderation) -> None:
        """Hide, show again or delete a customer's comment (see the module's docstring)."""
        platform = self.channel.platform
        if platform not in ("facebook", "instagram") or request.kind not in ("comment", "reply"):
            raise Rejected("unsupported", f"no {request.action} of a {platform} {request.kind}")
        path = f"/{GRAPH_VERSION}/{graph_id(request.comment_id, 'the comment')}"
        if request.action == "delete":
            body = await self._call("DELETE", path, None, repeatable=True)
        elif request.action in ("hide", "unhide"):
            key = "is_hidden" if platform == "facebook" else "hide"
            payload = {key: request.action == "hide"}
            body = await self._call("POST", path, payload, repeatable=True)
        else:
            raise Rejected("unsupported", f"no moderation action {request.action!r}")
        if not (isinstance(body, dict) and body.get("success") is True):
            raise Rejected("rejected", "Meta did not confirm the change")

    async def _message(self, reply: Reply) -> Sent:
        recipient = graph_id(reply.thread_id or reply.author_external_id, "the recipient")
        body = await self._post(
            f"/{GRAPH_VERSION}/{self._messages_account()}/messages",
            {
                "recipient": {"id": recipient},
                "messaging_type": "RESPONSE",
                "message": {"text": reply.text},
            },
        )
        return Sent(answer_id(body, "message_id"), self.clock())

    def _messages_account(self) -> str:
        """Who sends through the Send API: the Page; for Instagram ``me``, the Page linked
        to the account (with a Page token)."""
        if self.channel.platform == "instagram":
            return "me"
        return graph_id(self.channel.account_id, "the channel's account")

    async def _private_reply(self, reply: Reply) -> Sent:
        """Meta's private reply: a message to the person who wrote the comment answered."""
        platform = self.channel.platform
        if platform not in ("facebook", "instagram") or reply.kind not in ("comment", "reply"):
            raise Rejected("unsupported", f"no private reply to a {platform} {reply.kind}")
        comment = graph_id(reply.in_reply_to, "the comment answered")
        payload = {"recipient": {"comment_id": comment}, "message": {"text": reply.text}}
        try:
            body = await self._post(
                f"/{GRAPH_VERSION}/{self._messages_account()}/messages", payload
            )
        except Rejected as refused:
            if refused.reason == "window_closed":
                raise Rejected(
                    "window_closed", f"{PRIVATE_WINDOW_CLOSED}: {refused.detail}"
                ) from None
            raise
        return Sent(answer_id(body, "message_id"), self.clock())

    async def profile(self, user_id: str) -> Profile:
        """The name of a person who wrote to the Page (Messenger) or the IG account."""
        fields = PROFILE_FIELDS.get(self.channel.platform)
        if fields is None:
            raise Rejected("unsupported", f"no profile lookup on {self.channel.platform}")
        person = graph_id(user_id, "the person")
        answer = await graph_request(
            self.session,
            "GET",
            f"{self.base}/{GRAPH_VERSION}/{person}",
            None,
            self.headers,
            lambda exc: Unavailable(type(exc).__name__),  # a read: nothing changed on Meta
            limits=PROFILE_TIMEOUT,
            params={"fields": fields},
        )
        display_name, handle = read_profile(self.channel.platform, self._answer(*answer))
        return Profile(display_name, handle)

    async def _post(self, path: str, payload: dict[str, Any]) -> Any:
        return await self._call("POST", path, payload)

    async def _call(
        self, method: str, path: str, payload: dict[str, Any] | None, *, repeatable: bool = False
    ) -> Any:
        """One Graph write; ``repeatable``: a lost answer may be followed by the same call."""

        def lost(exc: BaseException) -> ConnectorError:
            if repeatable:
                return Unavailable(type(exc).__name__, maybe_sent=True)
            detail = f"no answer from Meta ({type(exc).__name__}); the reply may have been posted"
            return Rejected("unknown_outcome", detail)

        answer = await graph_request(
            self.session, method, self.base + path, payload, self.headers, lost
        )
        return self._answer(*answer)

    def _answer(self, status: int, usage: list[str | None], raw: bytes) -> Any:
        return graph_answer(status, usage, raw, self.clock())


def graph_answer(status: int, usage: list[str | None], raw: bytes, now: datetime) -> Any:
    """The body of a 2xx Graph answer; otherwise the error its code means (module doc).
    Threads speaks the same Graph errors (``connectors/threads.py``)."""
    body = answer_json(raw)
    if 200 <= status < 300:
        return body
    error = graph_error(body)
    detail = error.message or f"HTTP {status}"
    code = error.code
    if code in AUTH_CODES or status == 401:
        raise AuthExpired(detail)
    if code in THROTTLE_CODES or status == 429:
        raise RateLimited(regain_at(usage, now), detail)
    if error.subcode == WINDOW_SUBCODE or (
        code == 10 and "outside of allowed window" in error.message
    ):
        raise Rejected("window_closed", detail)
    if code == DUPLICATE_CODE:
        raise Rejected("duplicate", detail)
    if code == ALREADY_REPLIED_CODE:
        raise Rejected("duplicate", f"{PRIVATE_ALREADY_SENT}: {detail}")
    if code == MISSING_CODE and error.subcode == MISSING_SUBCODE:
        raise Rejected("not_found", detail)
    if status >= 500 or code in TRANSIENT_CODES or error.transient:
        raise Unavailable(detail)
    raise Rejected("rejected", detail)


async def graph_request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    payload: dict[str, Any] | None,
    headers: dict[str, str],
    lost: Callable[[BaseException], ConnectorError],
    *,
    limits: aiohttp.ClientTimeout = TIMEOUT,
    params: dict[str, str] | None = None,
) -> tuple[int, list[str | None], bytes]:
    """One Graph API call (Pages, Instagram, WhatsApp): its status, usage headers and body.
    A connection never made is ``Unavailable``; an answer lost after the request may have
    reached Meta is whatever ``lost`` says (each product knows what a resend would do)."""
    answer = await exchange(
        session,
        method,
        url,
        lost=lost,
        never_sent=NEVER_REACHED_META,
        limits=limits,
        json=payload,
        params=params,
        headers=headers,
    )
    return answer.status, [answer.headers.get(name) for name in USAGE_HEADERS], answer.raw


def graph_id(value: str, what: str) -> str:
    """Ids go into URL paths: only what Graph ids are made of."""
    if not _GRAPH_ID.fullmatch(value or ""):
        raise Rejected("rejected", f"{what} is not a Graph id")
    return value


def answer_id(body: Any, key: str) -> str:
    found = body.get(key) if isinstance(body, dict) else None
    if isinstance(found, int | str) and not isinstance(found, bool) and str(found):
        return str(found)
    raise Rejected("unknown_outcome", f"Meta accepted the reply but sent no {key}")
