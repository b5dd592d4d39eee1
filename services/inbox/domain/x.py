"""X payloads as normalised messages, and its ids, error bodies and rate-limit header (pure).

Three shapes arrive (platforms.md §1):

- API v2 posts (``GET /2/users/:id/mentions``) with their authors in ``includes.users``;
- API v2 DM events (``GET /2/dm_events``);
- Account Activity (AAA) webhook payloads, which carry v1.1 objects: ``tweet_create_events``
  (``id_str``, ``extended_tweet.full_text``), ``direct_message_events`` (``message_create``),
  each for one subscribed user (``for_user_id``).

Rules kept by every shape:

- the post or DM event id is the de-duplication key, so the same message polled, pushed and
  replayed lands once per channel;
- a message whose author (or DM sender) is the brand's own account is ``direction="out"``;
- post text is the full text (``note_tweet.text`` / ``extended_tweet.full_text`` for long
  posts), with the three HTML entities X escapes in post text (``&amp; &lt; &gt;``) restored;
- a pure repost (retweet) is not a message to the brand and yields ``None``; a quote is kept;
- an edit arrives as a new post with a new id and ``edit_history_tweet_ids`` (oldest first).
  It is stored as its own message, beside the version already stored, so an agent sees what
  the person first wrote and what they changed; the earlier ids are kept in
  ``raw["previous_version_ids"]``. Nothing is overwritten or deleted.

A payload missing what a message needs raises :class:`Malformed`; callers skip that item and
count it, so one odd post never blocks a channel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.inbox.domain.messages import Incoming, normalise_text

PLATFORM = "x"
_ID = re.compile(r"^[0-9]{1,19}$")
_URL = re.compile(r"https?://\S+")
_SPACE = re.compile(r"\s+")
# AAA keys that describe the payload rather than carry events.
_AAA_CONTEXT = frozenset({"for_user_id", "user_has_blocked", "is_blocked_by", "users", "apps"})


class Malformed(ValueError):
    """The payload lacks something a message needs (the text is never put in the error)."""


def id_key(value: str) -> int:
    """X ids are numeric strings (snowflakes) that grow with time: order them as numbers."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise Malformed("an id is not a numeric string")
    return int(value)


def parse_time(value: object) -> datetime:
    """API v2 times: RFC 3339 (``2024-05-13T10:30:00.000Z``)."""
    if not isinstance(value, str):
        raise Malformed("created_at is missing")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise Malformed("created_at is not RFC 3339") from None


def parse_v1_time(value: object) -> datetime:
    """v1.1 times (``Mon May 19 14:01:46 +0000 2025``) or epoch milliseconds as a string."""
    if isinstance(value, str) and (value.isascii() and value.isdigit()):
        try:
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise Malformed("the time is out of range") from None
    if isinstance(value, str):
        try:
            return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
        except ValueError:
            pass
    raise Malformed("the time is missing or unreadable")


def reset_at(value: str | None) -> datetime | None:
    """``x-rate-limit-reset``: Unix epoch seconds when the window resets."""
    if not value or not (value.strip().isascii() and value.strip().isdigit()):
        return None
    try:
        return datetime.fromtimestamp(int(value.strip()), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def post_text(text: str) -> str:
    """Post text as written: X escapes ``&``, ``<`` and ``>`` as HTML entities [V-3p]."""
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return normalise_text(text)


def same_text(posted: str, wanted: str) -> bool:
    """Whether a text read back from X is the one we sent.

    X rewrites links (t.co) and escapes ``& < >``; links and runs of blanks are compared
    loosely, every other character exactly.
    """

    def loose(text: str) -> str:
        return _SPACE.sub(" ", _URL.sub("<link>", post_text(text))).strip()

    return loose(posted) == loose(wanted)


def dm_conversation_id(a: str, b: str) -> str:
    """A 1:1 DM conversation id: ``"{smaller}-{larger}"`` [V]."""
    low, high = sorted((a, b), key=id_key)
    return f"{low}-{high}"


def other_participant(conversation_id: str, own_id: str) -> str | None:
    """The person the brand talks to in a 1:1 conversation (None for group conversations)."""
    parts = conversation_id.split("-")
    if len(parts) != 2 or not all(_ID.fullmatch(p) for p in parts) or own_id not in parts:
        return None
    return parts[1] if parts[0] == own_id else parts[0]


def users_by_id(includes: object) -> dict[str, dict[str, Any]]:
    """``includes.users`` of a v2 answer, by id (authors may be missing: deleted, suspended)."""
    users = includes.get("users") if isinstance(includes, dict) else None
    if not isinstance(users, list):
        return {}
    return {str(u["id"]): u for u in users if isinstance(u, dict) and "id" in u}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _lang(value: object) -> str:
    lang = _str(value)
    return "" if lang == "und" else lang


def tweet_message(
    tweet: Mapping[str, Any],
    users: Mapping[str, Mapping[str, Any]],
    channel: str,
    brand_account_id: str,
) -> Incoming | None:
    """A v2 post (a mention of the brand, or the brand's own post) as an ``Incoming``."""
    if not isinstance(tweet, Mapping):
        raise Malformed("a post is not an object")
    post_id = _str(tweet.get("id"))
    id_key(post_id)
    author_id = _str(tweet.get("author_id"))
    id_key(author_id)
    refs = tweet.get("referenced_tweets") or []
    if not isinstance(refs, list):
        raise Malformed("referenced_tweets is not a list")
    by_type = {r.get("type"): _str(r.get("id")) for r in refs if isinstance(r, dict)}
    if "retweeted" in by_type:
        return None
    note = tweet.get("note_tweet")
    text = note.get("text") if isinstance(note, dict) else None
    if not isinstance(text, str):
        text = tweet.get("text")
    if not isinstance(text, str):
        raise Malformed("a post has no text")
    in_reply_to = by_type.get("replied_to", "")
    author = users.get(author_id, {})
    return Incoming(
        platform=PLATFORM,
        channel=channel,
        external_id=post_id,
        kind="reply" if in_reply_to else "mention",
        direction="out" if author_id == brand_account_id else "in",
        author_external_id=author_id,
        author_handle=_str(author.get("username")),
        author_display_name=_str(author.get("name")),
        text=post_text(text),
        created_at=parse_time(tweet.get("created_at")),
        in_reply_to=in_reply_to,
        thread_id=_str(tweet.get("conversation_id")),
        lang=_lang(tweet.get("lang")),
        raw=_with_history(dict(tweet), post_id, tweet.get("edit_history_tweet_ids")),
    )


def _with_history(raw: dict[str, Any], post_id: str, history: object) -> dict[str, Any]:
    if isinstance(history, list):
        previous = [str(i) for i in history if str(i) != post_id]
        if previous:
            raw["previous_version_ids"] = previous
    return raw


def dm_event_message(
    event: Mapping[str, Any],
    users: Mapping[str, Mapping[str, Any]],
    channel: str,
    brand_account_id: str,
) -> Incoming | None:
    """A v2 DM event; only ``MessageCreate`` is a message (joins and leaves yield None)."""
    if not isinstance(event, Mapping):
        raise Malformed("a DM event is not an object")
    if event.get("event_type") != "MessageCreate":
        return None
    event_id = _str(event.get("id"))
    id_key(event_id)
    sender_id = _str(event.get("sender_id"))
    id_key(sender_id)
    conversation = _str(event.get("dm_conversation_id"))
    if not conversation:
        raise Malformed("a DM event has no dm_conversation_id")
    sender = users.get(sender_id, {})
    return Incoming(
        platform=PLATFORM,
        channel=channel,
        external_id=event_id,
        kind="dm",
        direction="out" if sender_id == brand_account_id else "in",
        author_external_id=sender_id,
        author_handle=_str(sender.get("username")),
        author_display_name=_str(sender.get("name")),
        text=normalise_text(_str(event.get("text"))),
        created_at=parse_time(event.get("created_at")),
        thread_id=conversation,
        raw=dict(event),
    )


# -- Account Activity (webhooks) ---------------------------------------------------------------


@dataclass
class Activity:
    """What one AAA payload holds for the subscribed user ``account_id``."""

    account_id: str
    messages: list[Incoming] = field(default_factory=list)
    malformed: int = 0  # events that could not be read (skipped)
    ignored: int = 0  # events that are not messages: reposts, typing, follows, unknown kinds
    deleted: int = 0  # tweet_delete_events (not acted on yet)


def account_activity(payload: object, channel: str) -> Activity:
    """The messages of one AAA webhook payload, normalised for ``for_user_id``.

    Raises :class:`Malformed` when the payload is not an object, or carries message events
    without a valid ``for_user_id``. A payload with no message events (``user_event``,
    favourites, follows …) is all ``ignored``.
    """
    if not isinstance(payload, dict):
        raise Malformed("the payload is not a JSON object")
    tweets = payload.get("tweet_create_events")
    dms = payload.get("direct_message_events")
    account = payload.get("for_user_id")
    carries_messages = tweets is not None or dms is not None
    if carries_messages and not (isinstance(account, str) and _ID.fullmatch(account)):
        raise Malformed("for_user_id is missing or not an id")
    activity = Activity(account if isinstance(account, str) else "")
    users = payload.get("users")
    users = users if isinstance(users, dict) else {}
    for key, value in payload.items():
        if key in _AAA_CONTEXT:
            continue
        if key not in ("tweet_create_events", "direct_message_events"):
            count = len(value) if isinstance(value, list) else 1
            if key == "tweet_delete_events":
                activity.deleted += count
            else:
                activity.ignored += count
            continue
        if not isinstance(value, list):
            activity.malformed += 1
            continue
        for event in value:
            try:
                message = (
                    v1_tweet_message(event, channel, activity.account_id)
                    if key == "tweet_create_events"
                    else v1_dm_message(event, users, channel, activity.account_id)
                )
            except Malformed:
                activity.malformed += 1
                continue
            if message is None:
                activity.ignored += 1
            else:
                activity.messages.append(message)
    return activity


def v1_tweet_message(tweet: Any, channel: str, brand_account_id: str) -> Incoming | None:
    """A v1.1 post from ``tweet_create_events``.

    v1.1 objects carry no ``conversation_id``: the thread id stays empty, so threading joins
    the stored parent's conversation, else the post it answers (see ``domain/threading``).
    """
    if not isinstance(tweet, dict):
        raise Malformed("a post is not an object")
    if tweet.get("retweeted_status") is not None:
        return None
    post_id = _v1_id(tweet, "id")
    user = tweet.get("user")
    if not isinstance(user, dict):
        raise Malformed("a post has no user")
    author_id = _v1_id(user, "id")
    extended = tweet.get("extended_tweet")
    text = extended.get("full_text") if isinstance(extended, dict) else None
    if not isinstance(text, str):
        text = tweet.get("full_text", tweet.get("text"))
    if not isinstance(text, str):
        raise Malformed("a post has no text")
    in_reply_to = _str(tweet.get("in_reply_to_status_id_str"))
    if in_reply_to:
        id_key(in_reply_to)
    moment = tweet.get("timestamp_ms") or tweet.get("created_at")
    return Incoming(
        platform=PLATFORM,
        channel=channel,
        external_id=post_id,
        kind="reply" if in_reply_to else "mention",
        direction="out" if author_id == brand_account_id else "in",
        author_external_id=author_id,
        author_handle=_str(user.get("screen_name")),
        author_display_name=_str(user.get("name")),
        text=post_text(text),
        created_at=parse_v1_time(moment),
        in_reply_to=in_reply_to,
        lang=_lang(tweet.get("lang")),
        raw=dict(tweet),
    )


def v1_dm_message(
    event: Any, users: Mapping[str, Any], channel: str, brand_account_id: str
) -> Incoming | None:
    """A v1.1 ``message_create`` DM event; threaded like the v2 one (``{low}-{high}``)."""
    if not isinstance(event, dict):
        raise Malformed("a DM event is not an object")
    if event.get("type") != "message_create":
        return None
    event_id = _str(event.get("id"))
    id_key(event_id)
    create = event.get("message_create")
    target = create.get("target") if isinstance(create, dict) else None
    if not isinstance(create, dict) or not isinstance(target, dict):
        raise Malformed("a DM event has no message_create.target")
    sender_id = _str(create.get("sender_id"))
    recipient_id = _str(target.get("recipient_id"))
    data = create.get("message_data")
    data = data if isinstance(data, dict) else {}
    sender = users.get(sender_id)
    sender = sender if isinstance(sender, dict) else {}
    return Incoming(
        platform=PLATFORM,
        channel=channel,
        external_id=event_id,
        kind="dm",
        direction="out" if sender_id == brand_account_id else "in",
        author_external_id=sender_id,
        author_handle=_str(sender.get("screen_name")),
        author_display_name=_str(sender.get("name")),
        text=normalise_text(_str(data.get("text"))),
        created_at=parse_v1_time(event.get("created_timestamp")),
        thread_id=dm_conversation_id(sender_id, recipient_id),
        raw=dict(event),
    )


def _v1_id(obj: Mapping[str, Any], key: str) -> str:
    """v1.1 ids: ``id_str`` (the numeric ``id`` loses precision in float parsers)."""
    value = obj.get(f"{key}_str")
    if not isinstance(value, str):
        number = obj.get(key)
        value = str(number) if isinstance(number, int) and not isinstance(number, bool) else ""
    id_key(value)
    return value


# -- Error bodies --------------------------------------------------------------------------------


def problem_detail(body: object) -> str:
    """The platform's own words from a problem body (v2 problem, or v1.1 ``errors``)."""
    if not isinstance(body, dict):
        return ""
    detail = body.get("detail") or body.get("title")
    if isinstance(detail, str):
        return detail
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return _str(errors[0].get("message"))
    return ""


def problem_kind(body: object) -> str:
    """The last segment of a problem ``type`` URI (``about:blank`` gives ``""``)."""
    kind = _str(body.get("type")) if isinstance(body, dict) else ""
    return kind.rsplit("/", 1)[-1] if "/problems/" in kind else ""


def is_duplicate_content(body: object) -> bool:
    """The 403 X answers when the account already posted this exact text [V-3p]."""
    return "duplicate content" in problem_detail(body).lower()


def names_parameter(body: object, parameter: str) -> bool:
    """Whether an invalid-request problem blames ``parameter`` (e.g. ``pagination_token``)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return False
    return any(
        isinstance(e, dict)
        and isinstance(e.get("parameters"), dict)
        and parameter in e["parameters"]
        for e in errors
    )
