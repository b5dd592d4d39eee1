"""Meta webhook notifications as normalised messages (pure): Page feed, Messenger, Instagram.

One POST carries ``{"object", "entry": [...]}``; each entry is one account (``entry.id``: the
Page id for ``object: page``, the Instagram professional account id for ``object:
instagram``) with ``changes[]`` (field changes: Page ``feed``, IG ``comments``/``mentions``)
or ``messaging[]`` (Messenger and IG DMs). What becomes a message:

- Page ``feed``, ``item: comment``: ``verb: add`` → a ``comment`` (external id = comment id,
  thread id = post id, ``in_reply_to`` = the parent comment for a reply to a comment).
  ``verb: edited`` is read like ``add`` under the same comment id: the first version stored
  wins (the store is insert-only on (channel, external id)), so a redelivered or late edit
  never becomes a second message that triage would take for a follow-up; it does recover a
  comment whose ``add`` was lost. ``verb: remove``, other verbs and other items (posts,
  reactions, shares) are ignored for now.
- Messenger / IG ``messaging[]`` with ``message.mid`` → a ``dm`` threaded by the customer's
  page-scoped id; ``is_deleted`` is ignored; deliveries, reads, reactions, postbacks,
  ``standby[]`` (another app owns the thread) are ignored.
- IG ``comments`` (and ``live_comments``) → a ``comment`` (id under ``id`` or ``comment_id``,
  thread id = media id); IG ``mentions`` → a ``mention`` that carries ids only (no text, no
  author: the author is ``UNKNOWN_AUTHOR``; its id is the comment's, or the media's for a
  caption, so the same comment seen through ``comments`` is not stored twice).
- The account's own words come back too (the Page's comments, ``is_echo`` messages, the IG
  account's replies): they are stored with direction ``out`` (the brand answered), never
  queued.

Text is what ``json.loads`` decodes from Meta's ``\\uXXXX`` escapes (surrogate pairs become one
emoji), NFC-normalised; NUL (which Postgres text cannot hold) is dropped and a lone surrogate
becomes U+FFFD, in the text and in ``raw`` alike, so one odd character never loses a batch.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.inbox.domain.messages import Incoming, normalise_text

UNKNOWN_AUTHOR = "unknown"  # Meta gave no author (IG mentions, a feed comment without "from")
MAX_ID = 512
MAX_RAW_DEPTH = 32
INT64 = 2**63
LATEST = 4_102_444_800  # 2100-01-01: later instants are not real Meta times
MAX_REGAIN = timedelta(hours=24)

_SURROGATE = re.compile("[\ud800-\udfff]")
_NUMBER = re.compile(r"\d+(\.\d+)?")

Reader = Callable[[Any], Incoming]


class Malformed(ValueError):
    """An event that does not have the shape Meta documents (acknowledged, counted, dropped)."""


class Ignored(Exception):
    """A well-formed event that is not a message for the inbox; ``reason`` is a bounded code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Notification:
    """What one webhook POST holds: messages per account id, and what was left out."""

    messages: dict[str, list[Incoming]] = field(default_factory=dict)
    ignored: Counter[str] = field(default_factory=Counter)
    malformed: int = 0

    @property
    def message_count(self) -> int:
        return sum(len(found) for found in self.messages.values())

    @property
    def item_count(self) -> int:
        """What the post held that the inbox keeps: its messages (WhatsApp adds statuses)."""
        return self.message_count

    def outcome(self, stored: int) -> str:
        """The webhook's outcome as counted, given how many items were new (``stored``):
        ``stored``, ``duplicate`` (all known already), ``malformed`` or ``ignored``."""
        if stored:
            return "stored"
        if self.item_count:
            return "duplicate"
        if self.malformed:
            return "malformed"
        return "ignored"


# --------------------------------------------------------------------------------------------
# Values


def clean_text(value: str) -> str:
    """Storable text: no NUL, no lone surrogate (paired ones were joined by the JSON parser)."""
    if value.isascii():
        return value.replace("\x00", "")
    return _SURROGATE.sub("\ufffd", value.replace("\x00", ""))


def clean_raw(value: Any, depth: int = 0) -> Any:
    """The payload as Postgres jsonb and orjson accept it: clean strings, 64-bit integers."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -INT64 <= value < INT64 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= MAX_RAW_DEPTH:
        return None
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_raw(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_raw(v, depth + 1) for v in value]
    return None


def platform_id(value: Any, what: str) -> str:
    """A Graph id: a non-empty string (or, defensively, an integer), never cast to a number."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Malformed(f"{what} is missing or not an id")
    found = str(value)
    if not found or len(found) > MAX_ID or "\x00" in found or not found.isprintable():
        raise Malformed(f"{what} is not a usable id")
    return found


def _optional_id(value: Any, what: str) -> str:
    return "" if value is None or value == "" else platform_id(value, what)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Malformed("text is not a string")
    return normalise_text(clean_text(value))


def _name(value: Any) -> str:
    return normalise_text(clean_text(value))[:256] if isinstance(value, str) else ""


def epoch(value: Any) -> datetime:
    """A Meta time: epoch seconds or milliseconds (both occur: check magnitudes), or ISO 8601."""
    if isinstance(value, bool):
        raise Malformed("time is not a number")
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER.fullmatch(text):
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise Malformed("time is not a date") from None
            if moment.tzinfo is None:
                raise Malformed("time has no zone")
            return moment.astimezone(UTC)
        value = float(text)
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise Malformed("time is not a number")
    seconds = value / 1000 if value > 100_000_000_000 else value
    if seconds >= LATEST:
        raise Malformed("time is out of range")
    return datetime.fromtimestamp(seconds, UTC)


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{what} is not an object")
    return value


# --------------------------------------------------------------------------------------------
# Events


def feed_change(value: Any, page_id: str, entry_time: datetime | None) -> Incoming:
    """A Page ``feed`` change as a comment (or raise :class:`Ignored` / :class:`Malformed`)."""
    value = _dict(value, "feed value")
    if value.get("item") != "comment":
        raise Ignored("feed_not_comment")
    verb = value.get("verb")
    if verb == "remove":
        raise Ignored("feed_remove")
    if verb not in ("add", "edited"):
        raise Ignored("feed_other_verb")
    comment_id = platform_id(value.get("comment_id"), "comment_id")
    post_id = _optional_id(value.get("post_id"), "post_id")
    parent_id = _optional_id(value.get("parent_id"), "parent_id")
    sender = value.get("from")
    if isinstance(sender, dict) and sender.get("id") not in (None, ""):
        author, display = platform_id(sender.get("id"), "from.id"), _name(sender.get("name"))
    else:  # Meta may withhold the commenter: keep the comment, not the person
        author, display = UNKNOWN_AUTHOR, ""
    created = value.get("created_time")
    return Incoming(
        platform="facebook",
        channel="",
        external_id=comment_id,
        kind="comment",
        direction="out" if author == page_id else "in",
        author_external_id=author,
        author_handle="",
        author_display_name=display,
        text=_text(value.get("message")),
        created_at=epoch(created) if created is not None else _required(entry_time),
        in_reply_to=parent_id if parent_id and parent_id != post_id else "",
        thread_id=post_id,
        raw=clean_raw({"field": "feed", "value": value}),
    )


def messaging_event(
    event: Any, account_id: str, platform: str, entry_time: datetime | None
) -> Incoming:
    """A Messenger (``platform="messenger"``) or Instagram DM event as a ``dm``."""
    event = _dict(event, "messaging event")
    message = event.get("message")
    if not isinstance(message, dict):
        for kind in ("delivery", "read", "reaction", "postback", "referral", "optin"):
            if kind in event:
                raise Ignored(f"messaging_{kind}")
        raise Ignored("messaging_other")
    if message.get("is_deleted"):
        raise Ignored("message_deleted")
    mid = platform_id(message.get("mid"), "message.mid")
    sender = platform_id(_dict(event.get("sender"), "sender").get("id"), "sender.id")
    echo = bool(message.get("is_echo")) or sender == account_id
    if echo:
        recipient_of = _dict(event.get("recipient"), "recipient")
        recipient = platform_id(recipient_of.get("id"), "recipient.id")
        customer = recipient
    else:
        customer = sender
    reply_to = message.get("reply_to")
    stamp = event.get("timestamp")
    return Incoming(
        platform=platform,
        channel="",
        external_id=mid,
        kind="dm",
        direction="out" if echo else "in",
        author_external_id=account_id if echo else sender,
        author_handle="",
        author_display_name="",
        text=_text(message.get("text")),
        created_at=epoch(stamp) if stamp is not None else _required(entry_time),
        in_reply_to=_optional_id(reply_to.get("mid"), "reply_to.mid")
        if isinstance(reply_to, dict)
        else "",
        thread_id=customer,
        raw=clean_raw(event),
    )


def ig_comment_change(value: Any, ig_id: str, entry_time: datetime | None) -> Incoming:
    """An Instagram ``comments``/``live_comments`` change (comment id under ``id`` or
    ``comment_id``: both occur in Meta's documents)."""
    value = _dict(value, "comment value")
    comment_id = platform_id(value.get("id") or value.get("comment_id"), "comment id")
    sender = _dict(value.get("from"), "from")
    author = platform_id(sender.get("id"), "from.id")
    media = value.get("media")
    media_id = _optional_id(media.get("id"), "media.id") if isinstance(media, dict) else ""
    stamp = value.get("timestamp")
    return Incoming(
        platform="instagram",
        channel="",
        external_id=comment_id,
        kind="comment",
        direction="out" if author == ig_id else "in",
        author_external_id=author,
        author_handle=_name(sender.get("username")),
        author_display_name="",
        text=_text(value.get("text")),
        created_at=epoch(stamp) if stamp is not None else _required(entry_time),
        in_reply_to=_optional_id(value.get("parent_id"), "parent_id"),
        thread_id=media_id,
        raw=clean_raw({"field": "comments", "value": value}),
    )


def ig_mention_change(value: Any, entry_time: datetime | None) -> Incoming:
    """An Instagram ``mentions`` change: ids only (the text needs a Graph read we lack)."""
    value = _dict(value, "mention value")
    media_id = platform_id(value.get("media_id"), "media_id")
    comment_id = _optional_id(value.get("comment_id"), "comment_id")
    return Incoming(
        platform="instagram",
        channel="",
        external_id=comment_id or media_id,
        kind="mention",
        direction="in",
        author_external_id=UNKNOWN_AUTHOR,
        author_handle="",
        author_display_name="",
        text="",
        created_at=_required(entry_time),
        thread_id=media_id,
        raw=clean_raw({"field": "mentions", "value": value}),
    )


def _required(entry_time: datetime | None) -> datetime:
    if entry_time is None:
        raise Malformed("no time for the event")
    return entry_time


# --------------------------------------------------------------------------------------------
# Notifications


def read_notification(payload: Any) -> Notification:
    """Every message of a parsed notification, grouped by account id; the rest counted."""
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        return Notification(malformed=1)
    object_ = payload.get("object")
    ignored: Counter[str] = Counter()
    if object_ not in ("page", "instagram"):
        ignored["unknown_object"] += len(payload["entry"]) or 1
        return Notification(ignored=ignored)
    messages: dict[str, list[Incoming]] = {}
    malformed = 0
    for entry in payload["entry"]:
        try:
            entry = _dict(entry, "entry")
            account = platform_id(entry.get("id"), "entry.id")
            stamp = entry.get("time")
            entry_time = epoch(stamp) if stamp is not None else None
        except Malformed:
            malformed += 1
            continue
        for event, read in _events(object_, entry, account, entry_time, ignored):
            try:
                message = read(event)
            except Ignored as skip:
                ignored[skip.reason] += 1
            except Malformed:
                malformed += 1
            else:
                messages.setdefault(account, []).append(message)
    return Notification(messages, ignored, malformed)


def _events(
    object_: str,
    entry: dict[str, Any],
    account: str,
    entry_time: datetime | None,
    ignored: Counter[str],
) -> list[tuple[Any, Reader]]:
    """(event, reader) pairs of one entry; unknown fields are counted as ignored."""
    pairs: list[tuple[Any, Reader]] = []
    dm_platform = "messenger" if object_ == "page" else "instagram"
    changes = entry.get("changes")
    for change in changes if isinstance(changes, list) else []:
        field_name = change.get("field") if isinstance(change, dict) else None
        value = change.get("value") if isinstance(change, dict) else None
        if object_ == "page" and field_name == "feed":
            pairs.append((value, lambda v: feed_change(v, account, entry_time)))
        elif object_ == "instagram" and field_name in ("comments", "live_comments"):
            pairs.append((value, lambda v: ig_comment_change(v, account, entry_time)))
        elif object_ == "instagram" and field_name == "mentions":
            pairs.append((value, lambda v: ig_mention_change(v, entry_time)))
        elif field_name is None:
            pairs.append((change, _malformed))
        else:
            ignored["unknown_field"] += 1
    messaging = entry.get("messaging")
    for event in messaging if isinstance(messaging, list) else []:
        pairs.append((event, lambda e: messaging_event(e, account, dm_platform, entry_time)))
    standby = entry.get("standby")
    if isinstance(standby, list) and standby:
        ignored["standby"] += len(standby)
    if "changed_fields" in entry:
        ignored["changed_fields"] += 1
    return pairs


def _malformed(_: Any) -> Incoming:
    raise Malformed("change without a field")


# --------------------------------------------------------------------------------------------
# Graph answers


@dataclass(frozen=True, slots=True)
class GraphError:
    """The documented error body ``{"error": {"message","type","code","error_subcode",...}}``."""

    code: int | None
    subcode: int | None
    message: str
    transient: bool


def read_profile(platform: str, body: Any) -> tuple[str, str]:
    """(display name, handle) from a User Profile API answer: Messenger gives ``name`` (or
    ``first_name`` and ``last_name``), Instagram ``name`` and ``username``; any of them may be
    absent or null. No name at all is :class:`Malformed` (nothing worth caching)."""
    body = _dict(body, "profile")
    name = _name(body.get("name"))
    if not name:
        name = " ".join(
            p for p in (_name(body.get("first_name")), _name(body.get("last_name"))) if p
        )
    handle = _name(body.get("username")).lstrip("@") if platform == "instagram" else ""
    if not (name or handle):
        raise Malformed("the profile has no name")
    return name[:256], handle


def graph_error(body: Any) -> GraphError:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return GraphError(None, None, "", False)

    def number(value: Any) -> int | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str) and (value.isascii() and value.isdigit()):
            return int(value)
        return None

    message = error.get("message")
    return GraphError(
        number(error.get("code")),
        number(error.get("error_subcode")),
        clean_text(message)[:500] if isinstance(message, str) else "",
        error.get("is_transient") is True,
    )


def regain_at(usage_headers: list[str | None], now: datetime) -> datetime | None:
    """When a throttled app may call again, from ``estimated_time_to_regain_access``
    (minutes) in ``X-Business-Use-Case-Usage`` / ``X-Page-Usage``; None when none says."""
    minutes = 0.0
    for header in usage_headers:
        if not header:
            continue
        try:
            parsed = json.loads(header)
        except (ValueError, RecursionError):
            continue
        minutes = max(minutes, _largest_regain(parsed, 0))
    if minutes <= 0:
        return None
    return now + min(MAX_REGAIN, timedelta(minutes=minutes))


def _largest_regain(value: Any, depth: int) -> float:
    if depth > 4:
        return 0.0
    if isinstance(value, list):
        return max((_largest_regain(v, depth + 1) for v in value), default=0.0)
    if not isinstance(value, dict):
        return 0.0
    found = value.get("estimated_time_to_regain_access")
    best = (
        float(found)
        if isinstance(found, int | float) and not isinstance(found, bool) and math.isfinite(found)
        else 0.0
    )
    for nested in value.values():
        if isinstance(nested, dict | list):
            best = max(best, _largest_regain(nested, depth + 1))
    return best
