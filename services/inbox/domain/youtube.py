"""YouTube comments as messages, the poll's cursor and the daily quota: pure rules.

A comment thread is a conversation: its top-level comment is a ``comment`` and each reply a
``reply`` threaded on the top-level comment's id (YouTube replies are one level deep). The
brand's own comments (its channel id as ``authorChannelId``) are outbound. A comment YouTube
holds for review (``heldForReview``) or suspects of spam (``likelySpam``) is ``held`` (the
contract's flag), its status kept in ``raw["moderationStatus"]``.

Quota (docs/platforms/youtube.md, "Quota"): a project gets 10,000 units a day by default,
reset at midnight Pacific time; a list costs 1, an insert or a moderation 50. Polling stops at
``POLL_SHARE`` of the day's units so that replies and moderation still have theirs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.inbox.domain.messages import Incoming, normalise_text

PACIFIC = ZoneInfo("America/Los_Angeles")
DAILY_QUOTA = 10_000
COST = {"list": 1, "insert": 50, "moderate": 50}
POLL_SHARE = 0.8  # polls stop here; the rest of the day's units is kept for replies
HELD = ("heldForReview", "likelySpam")


def parse_time(value: str) -> datetime:
    """YouTube's RFC 3339 times (``2024-05-13T09:58:00Z``, with or without fractions)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def comment_message(
    comment: dict[str, Any], channel: str, brand_channel_id: str, status: str = ""
) -> Incoming:
    """One ``youtube#comment`` resource as a message (``status``: the moderation status the
    list asked for, when the resource itself does not carry it)."""
    snippet = comment["snippet"]
    author = snippet.get("authorChannelId") or {}
    author_id = str(author.get("value") or "") if isinstance(author, dict) else ""
    parent = str(snippet.get("parentId") or "")
    name = str(snippet.get("authorDisplayName") or "")
    raw = dict(snippet)
    raw["moderationStatus"] = str(snippet.get("moderationStatus") or status or "published")
    return Incoming(
        platform="youtube",
        channel=channel,
        external_id=str(comment["id"]),
        kind="reply" if parent else "comment",
        direction="out" if author_id and author_id == brand_channel_id else "in",
        author_external_id=author_id,
        # YouTube names commenters by their @handle now; an older channel's name is no handle.
        author_handle=name[1:] if name.startswith("@") else "",
        author_display_name=name,
        text=normalise_text(str(snippet.get("textOriginal") or snippet.get("textDisplay") or "")),
        created_at=parse_time(str(snippet["publishedAt"])),
        in_reply_to=parent,
        thread_id=parent or str(comment["id"]),
        raw=raw,
        held=raw["moderationStatus"] in HELD,
    )


@dataclass(frozen=True, slots=True)
class Walk:
    """Where a poll of one stream stands. ``since``: every comment published before it is
    stored. A walk from the newest page down to ``since`` may span polls and restarts:
    ``page`` is the next page's token and ``top`` the newest time the walk saw, which becomes
    ``since`` once the walk reaches it (so nothing is lost while pages are still to read)."""

    since: str = ""
    top: str = ""
    page: str = ""

    def encode(self) -> str:
        return json.dumps(
            {k: v for k, v in (("s", self.since), ("t", self.top), ("p", self.page)) if v}
        )

    @classmethod
    def decode(cls, cursor: str | None) -> Walk:
        try:
            data = json.loads(cursor or "{}")
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        return cls(*(str(data.get(k) or "") for k in ("s", "t", "p")))


def newer(message: Incoming, since: str) -> bool:
    """Published at or after ``since`` (ties are read again: the store drops repeats)."""
    return not since or message.created_at >= parse_time(since)


def quota_day(now: datetime) -> str:
    """The quota's day: YouTube resets every project's units at midnight Pacific time."""
    return now.astimezone(PACIFIC).date().isoformat()


def quota_resets_at(now: datetime) -> datetime:
    """The next midnight Pacific time, when a spent quota comes back."""
    local = now.astimezone(PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=PACIFIC)
    return midnight


def units_used(saved: str | None, now: datetime) -> int:
    """Units spent today according to the channel's ``quota`` record (``day:units``)."""
    day, _, units = (saved or "").partition(":")
    if day != quota_day(now) or not units.isdigit():
        return 0
    return int(units)


def may_spend(used: int, action: str, daily: int) -> bool:
    """Whether ``action`` fits in the day's units; polls (``list``) keep to their share."""
    budget = int(daily * POLL_SHARE) if action == "list" else daily
    return used + COST[action] <= budget
