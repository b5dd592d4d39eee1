"""The normalised message as the inbox core sees it, and the rules that hold for any source."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

KINDS = ("mention", "dm", "comment", "reply")
DIRECTIONS = ("in", "out")


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message as a producer sent it, already validated field by field."""

    platform: str
    channel: str
    external_id: str
    kind: str
    direction: str
    author_external_id: str
    author_handle: str
    author_display_name: str
    text: str
    created_at: datetime
    in_reply_to: str = ""
    thread_id: str = ""
    lang: str = ""
    raw: dict[str, Any] | None = None
    held: bool = False  # the platform holds it back from the public (YouTube's review)


def normalise_text(text: str) -> str:
    """NFC, so the same words typed on two devices compare and search alike."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def first_occurrences(messages: list[Incoming]) -> tuple[list[int], list[int]]:
    """Indexes of the first copy of each (platform, channel, external id), and of the repeats.

    A producer that sends the same message twice in one batch gets it stored once.
    """
    seen: set[tuple[str, str, str]] = set()
    first: list[int] = []
    repeats: list[int] = []
    for index, message in enumerate(messages):
        key = (message.platform, message.channel, message.external_id)
        if key in seen:
            repeats.append(index)
        else:
            seen.add(key)
            first.append(index)
    return first, repeats
