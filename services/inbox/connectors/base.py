"""What every connector offers, and the errors that decide what happens next."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

import aiohttp

from services.inbox.domain.messages import Incoming
from services.infra.db import describe_error

log = logging.getLogger("ecoute.inbox.connectors")


@dataclass(frozen=True, slots=True)
class Channel:
    """A connected account: where to reach it and which credentials (by reference) to use."""

    workspace_id: uuid.UUID
    id: int
    platform: str
    key: str
    account_id: str
    base_url: str
    credentials_ref: str
    poll_seconds: int
    cursor: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Page:
    """Messages to store, and the cursor to save with them (None: keep the old one)."""

    messages: list[Incoming]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class Reply:
    """An agent's answer to deliver, with what the platform needs to thread it."""

    reply_id: uuid.UUID
    text: str
    kind: str  # the kind of the message answered: mention, dm, comment, reply
    in_reply_to: str  # the platform id of the message answered
    author_external_id: str  # the customer
    author_handle: str
    thread_id: str
    raw: dict[str, Any] | None
    # WhatsApp: the approved template ({"name", "language"}) to send instead of the text.
    template: dict[str, str] | None = None
    # Facebook/Instagram comments: Meta's private reply (a message to the commenter).
    private: bool = False


@dataclass(frozen=True, slots=True)
class Sent:
    platform_message_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Moderation:
    """A lead's moderation of a customer's comment, carried out on the platform itself."""

    action_id: uuid.UUID  # the idempotency key: one request, one outcome
    action: str  # hide, unhide or delete
    comment_id: str  # the platform's id of the comment
    kind: str  # the kind of the message: only comments and replies can be moderated


class ConnectorError(Exception):
    """Base of the errors below; ``detail`` is the platform's own words (never logged)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(type(self).__name__)
        self.detail = detail


class RateLimited(ConnectorError):
    def __init__(self, retry_at: datetime | None, detail: str = "") -> None:
        super().__init__(detail)
        self.retry_at = retry_at


class QuotaSpent(RateLimited):
    """The platform's daily quota is spent (or nearly, as the connector keeps a share for
    replies): nothing more until ``retry_at``, and the channel's health says why."""


class AuthExpired(ConnectorError):
    """The credentials no longer work: a person must re-authorise the channel."""


class Unavailable(ConnectorError):
    """5xx, timeouts, network errors: try again later.

    ``maybe_sent``: the request may have reached the platform and been acted on (the answer
    was lost: a timeout or a dropped connection after sending). A delivery then reconciles
    before sending again. A 5xx answer or a refused connection is not ``maybe_sent``.
    """

    def __init__(self, detail: str = "", *, maybe_sent: bool = False) -> None:
        super().__init__(detail)
        self.maybe_sent = maybe_sent


class Rejected(ConnectorError):
    """The platform refuses this request for good (4xx); ``reason`` is a bounded code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail)
        self.reason = reason


class CursorRejected(ConnectorError):
    """The platform no longer knows our cursor: recover from the newest items, no gap."""


# What may be said of an error a connector did not expect (its text may quote the platform's
# answer or a secret, so only one of these bounded names is kept, in health and metrics).
ERROR_REASONS = ("malformed_answer", "http_error", "timeout", "connector_error")
MALFORMED = (ValueError, TypeError, LookupError, AttributeError, ArithmeticError, RecursionError)


def failure_reason(exc: BaseException) -> str:
    """One of ``ERROR_REASONS`` for an exception that escaped a connector: a platform answer
    of an unexpected shape (a list for an object, a missing key, HTML) is ``malformed_answer``."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientError):
        return "http_error"
    if isinstance(exc, MALFORMED):
        return "malformed_answer"
    return "connector_error"


def log_unforeseen(exc: BaseException, doing: str, channel: Channel, reason: str) -> None:
    """One warning per error no connector rule foresaw: its reason, type and frames (which
    say where to fix it) and, for a database error, its SQLSTATE; never its text."""
    log.warning(
        "%s failed: %s",
        doing,
        reason,
        exc_info=exc,
        extra={
            "workspace_id": str(channel.workspace_id),
            "platform": channel.platform,
            "reason": reason,
            **describe_error(exc),
        },
    )


TIMEOUT = aiohttp.ClientTimeout(total=20)
NEVER_SENT: tuple[type[BaseException], ...] = (aiohttp.ClientConnectorError,)


@dataclass(frozen=True, slots=True)
class Answer:
    """A platform's answer, whatever its status: the connector decides what it means."""

    status: int
    headers: Mapping[str, str]
    raw: bytes


async def exchange(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    lost: Callable[[BaseException], ConnectorError],
    never_sent: tuple[type[BaseException], ...] = NEVER_SENT,
    limits: aiohttp.ClientTimeout = TIMEOUT,
    **request: Any,
) -> Answer:
    """One request to a platform (``request``: params, json, data, headers), redirects refused.

    A request that never left (``never_sent``: a connection refused) is ``Unavailable``;
    one whose answer was lost after it may have reached the platform (a timeout, a dropped
    connection) is whatever ``lost`` says: each connector knows what a resend would do.
    """
    try:
        async with session.request(
            method, url, timeout=limits, allow_redirects=False, **request
        ) as response:
            return Answer(response.status, response.headers, await response.read())
    except never_sent as exc:
        raise Unavailable(type(exc).__name__) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise lost(exc) from None


def answer_json(raw: bytes) -> Any:
    """A platform's answer as JSON; None when it is empty or no JSON at all (an HTML error
    page from a proxy, a body cut short, nesting deeper than the parser goes), so that the
    status decides what happens."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def readable(
    channel: Channel, items: Any, normalise: Callable[[Any], Incoming | None]
) -> list[Incoming]:
    """The items of a platform's list that ``normalise`` can read (None: not a message); an
    unreadable one (a key missing, a value of the wrong type) is skipped and counted in the
    log, without its text, rather than failing the items around it."""
    messages: list[Incoming] = []
    skipped = 0
    for item in items if isinstance(items, list) else []:
        try:
            message = normalise(item)
        except MALFORMED:
            skipped += 1
            continue
        if message is not None:
            messages.append(message)
    if skipped:
        log.warning(
            "unreadable items skipped",
            extra={
                "workspace_id": str(channel.workspace_id),
                "platform": channel.platform,
                "skipped": skipped,
            },
        )
    return messages


class Connector(Protocol):
    streams: tuple[str, ...]

    def poll(self, stream: str, cursor: str | None) -> AsyncIterator[Page]:
        """Pages in an order where saving each page's cursor never skips a message."""
        ...

    async def send(self, reply: Reply) -> Sent: ...


@dataclass(frozen=True, slots=True)
class Profile:
    """What a platform says of a person who wrote to the brand: the name to show agents."""

    display_name: str
    handle: str = ""


@runtime_checkable
class LooksUpPeople(Protocol):
    """The optional part of a connector whose platform sends ids without names (Messenger,
    Instagram DMs): the person's profile, asked once and cached by the inbox."""

    async def profile(self, user_id: str) -> Profile:
        """The person's name; a ``ConnectorError`` when the platform will not say."""
        ...


@runtime_checkable
class Reconciles(Protocol):
    """The optional part of a connector: finding the post an interrupted send made.

    The delivery loop asks a connector that has it before sending a reply again; without
    it, only a platform that dedupes resends by itself is tried again.
    """

    async def find_sent(self, reply: Reply) -> Sent | None:
        """The post an earlier attempt made for ``reply``, if it landed (None: send it)."""
        ...


@runtime_checkable
class Moderates(Protocol):
    """The optional part of a connector that hides, shows again or deletes a comment
    (``services.infra.platforms.MODERATION`` says which platforms have it).

    Each action is repeatable: hiding a hidden comment changes nothing, so an attempt whose
    answer was lost is simply made again; a comment already gone is ``Rejected("not_found")``.
    """

    async def moderate(self, request: Moderation) -> None: ...


@runtime_checkable
class SpendsQuota(Protocol):
    """The optional part of a connector whose platform counts units a day (YouTube): what
    this connector spent, which its caller adds to the channel's count once it is done."""

    def quota_spent(self) -> tuple[str, int]:
        """The quota's day and the units spent on it by this connector."""
        ...


class BearerConnector:
    """The set-up shared by connectors that call their platform with one bearer token."""

    bearer_credential: ClassVar[str]  # the credential that holds the token

    def __init__(
        self,
        channel: Channel,
        credentials: dict[str, Any],
        session: aiohttp.ClientSession,
        clock: Callable[[], datetime],
    ) -> None:
        token = credentials.get(self.bearer_credential)
        if not isinstance(token, str) or not token:
            raise AuthExpired(f"the credentials have no {self.bearer_credential}")
        self.channel = channel
        self.session = session
        self.clock = clock
        self.base = channel.base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}


class PushOnly:
    """A connector whose platform pushes everything through webhooks (Meta, WhatsApp): no
    streams, so the poller never calls ``poll``; create its channels with polling off."""

    streams: tuple[str, ...] = ()

    async def poll(self, stream: str, cursor: str | None) -> AsyncIterator[Page]:
        pages: tuple[Page, ...] = ()
        for page in pages:
            yield page
