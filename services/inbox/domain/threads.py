"""Threads media objects and webhook notifications as normalised messages (pure).

The Threads API (``graph.threads.net``) describes a post, a reply and a mention alike as a
*media object*: ``id``, ``text``, ``username``, ``timestamp`` (``2024-08-07T10:33:16+0000``),
and for a reply ``replied_to.id`` and ``root_post.id`` (the post that started the
conversation). It gives no user id for other people, only the ``username``: the author's id
here is that username (the Threads user id of the brand is the channel's account id).

- A reply in the brand's conversation (the ``replies`` stream or webhook field) is a
  ``reply`` answering ``replied_to.id``. A brand post gathers replies from many people, so the
  post is not the conversation: a top-level reply (``replied_to`` is the root post) starts its
  own, and a nested reply joins the one of what it answers (``threading.py``). The brand's own
  replies are stored ``out`` (never queued): ``is_reply_owned_by_me`` says so where the API
  gives it; in a webhook, a reply written by the owner of its root post, the brand.
- A mention (the ``mentions`` stream or webhook field) is a ``mention``, threaded the same way
  (a post that is no reply starts its own conversation). The same post seen as a reply and as a
  mention is stored once (its id is the de-duplication key).

A webhook POST carries one event: ``{"app_id", "topic", "target_id", "time", "values":
{"value": <media object>, "field": "replies" | "mentions"}}``. It goes to the channel of the
brand's Threads user id: a reply's ``root_post.owner_id`` (replies come for the subscribed
user's own posts), else ``target_id`` (a mention may sit in anyone's conversation). Other
fields (``publish``, ``delete``) are acknowledged and ignored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from services.inbox.domain.messages import Incoming, normalise_text
from services.inbox.domain.meta import (
    Malformed,
    Notification,
    clean_raw,
    clean_text,
    epoch,
    platform_id,
)

PLATFORM = "threads"
STREAM_KINDS = {"replies": "reply", "mentions": "mention"}


def _nested_id(item: dict[str, Any], key: str) -> str:
    nested = item.get(key)
    if not isinstance(nested, dict) or nested.get("id") in (None, ""):
        return ""
    return platform_id(nested.get("id"), f"{key}.id")


def media_message(item: Any, kind: str, brand_id: str, channel: str = "") -> Incoming:
    """A Threads media object (a reply to the brand's post, or a mention) as a message of
    ``channel`` ('': a webhook's, placed per channel by the hub); ``brand_id`` is the
    channel's Threads user id."""
    if not isinstance(item, dict):
        raise Malformed("media object is not an object")
    media_id = platform_id(item.get("id"), "id")
    username = item.get("username")
    if not isinstance(username, str) or not username:
        raise Malformed("username is missing")
    text = item.get("text")
    if text is not None and not isinstance(text, str):
        raise Malformed("text is not a string")
    replied_to, root = _nested_id(item, "replied_to"), _nested_id(item, "root_post")
    handle = normalise_text(clean_text(username))[:256]
    root_post: dict[str, Any] = item["root_post"] if root else {}
    owner_writes = root_post.get("owner_id") == brand_id and root_post.get("username") == username
    brands = item.get("is_reply_owned_by_me") is True or owner_writes
    return Incoming(
        platform=PLATFORM,
        channel=channel,
        external_id=media_id,
        kind=kind,
        direction="out" if brands else "in",
        author_external_id=handle,
        author_handle=handle,
        author_display_name="",
        text=normalise_text(clean_text(text or "")),
        created_at=epoch(item.get("timestamp")),
        in_reply_to=replied_to,
        thread_id=media_id if not replied_to or replied_to == root else "",
        raw=clean_raw(item),
    )


def published_at(item: Any) -> datetime | None:
    """A media object's ``timestamp``; None when it has none readable."""
    if not isinstance(item, dict):
        return None
    try:
        return epoch(item.get("timestamp"))
    except Malformed:
        return None


def newest(items: Iterable[Any], previous: datetime | None) -> datetime | None:
    """The high-water mark after seeing ``items``: it never moves backwards."""
    mark = previous
    for item in items:
        when = published_at(item)
        if when is not None and (mark is None or when > mark):
            mark = when
    return mark


def all_older(items: list[Any], floor: datetime) -> bool:
    """Every item of a newest-first page was published before ``floor``: stop paging. An
    item without a readable time keeps the scan going."""
    for item in items:
        when = published_at(item)
        if when is None or when >= floor:
            return False
    return True


def same_words(left: str, right: str) -> bool:
    """Whether a post Threads shows carries the text we sent (normalised, trimmed)."""
    return normalise_text(clean_text(left)).strip() == normalise_text(clean_text(right)).strip()


def read_notification(payload: Any) -> Notification:
    """The messages of one Threads webhook POST, by the Threads user it is for."""
    if not isinstance(payload, dict):
        return Notification(malformed=1)
    values = payload.get("values")
    if not isinstance(values, dict):
        return Notification(malformed=1)
    kind = STREAM_KINDS.get(str(values.get("field")))
    if kind is None:
        return Notification(ignored=Counter({f"field_{values.get('field')}"[:40]: 1}))
    try:
        owner = _owner(values.get("value")) if kind == "reply" else None
        target = platform_id(owner or payload.get("target_id"), "target_id")
        message = media_message(values.get("value"), kind, target)
    except (Malformed, LookupError, TypeError):
        return Notification(malformed=1)
    return Notification(messages={target: [message]})


def _owner(value: Any) -> Any:
    """Whose post a reply answers (``root_post.owner_id``): Threads sends ``replies`` for the
    subscribed user's own posts, so this names the brand even where ``target_id`` would not."""
    root = value.get("root_post") if isinstance(value, dict) else None
    return root.get("owner_id") if isinstance(root, dict) else None
