"""Mastodon payloads as normalised messages, and its paging and rate-limit headers (pure)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from services.inbox.domain.html_text import html_to_text
from services.inbox.domain.messages import Incoming, normalise_text


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def status_message(status: dict[str, Any], channel: str, brand_account_id: str) -> Incoming:
    """A status that mentions the brand (or a DM to it) as an ``Incoming`` message.

    The status id is the de-duplication key (notification ids only drive the cursor); a
    ``direct`` status is a DM, threaded per customer.
    """
    account = status["account"]
    direct = status.get("visibility") == "direct"
    own = str(account["id"]) == brand_account_id
    in_reply_to = status.get("in_reply_to_id") or ""
    kind = "dm" if direct else ("reply" if in_reply_to else "mention")
    return Incoming(
        platform="mastodon",
        channel=channel,
        external_id=str(status["id"]),
        kind=kind,
        direction="out" if own else "in",
        author_external_id=str(account["id"]),
        author_handle=str(account.get("acct") or account.get("username") or ""),
        author_display_name=str(account.get("display_name") or ""),
        text=normalise_text(html_to_text(str(status.get("content") or ""))),
        created_at=parse_time(str(status["created_at"])),
        in_reply_to=str(in_reply_to),
        thread_id="",
        lang=str(status.get("language") or ""),
        raw=status,
    )


_LINK = re.compile(r'<([^>]+)>;\s*rel="([^"]+)"')


def link_params(header: str | None) -> dict[str, str]:
    """``rel`` → URL from a ``Link`` header (absent on an empty page)."""
    return {rel: url for url, rel in _LINK.findall(header or "")}


def reset_at(value: str | None, now: datetime) -> datetime | None:
    """``X-RateLimit-Reset``: an ISO 8601 time on Mastodon, epoch seconds on some forks."""
    if not value:
        return None
    value = value.strip()
    try:
        if re.fullmatch(r"\d+(\.\d+)?", value):
            return datetime.fromtimestamp(float(value), UTC)
        return parse_time(value)
    except ValueError:
        return None


def id_key(value: str) -> tuple[int, str]:
    """Order opaque ids: numeric ones by value (vanilla Mastodon), others as text."""
    return (int(value), "") if (value.isascii() and value.isdigit()) else (-1, value)
