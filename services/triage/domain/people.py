"""Who a person is across platforms, as plain values: the identity a panel is opened for, the
ones agents linked to it, and how a conversation is summed up in the person's history."""

from __future__ import annotations

from dataclasses import dataclass

from services.triage.domain.privacy import normal_handle

FIRST_LINE = 120
NOBODY = frozenset({"", "unknown"})
"""Author ids that name no one: none, or the inbox's placeholder when a platform withholds the
author (Meta's Instagram mentions, a feed comment without ``from``): all such messages share
it, so it must never gather them into one "person"."""


@dataclass(frozen=True, slots=True)
class PersonKey:
    """One platform identity: the platform, the author's platform id and/or their handle
    (handles compare as ``normal_handle`` does: no case, no ``@``)."""

    platform: str
    author_id: str = ""
    handle: str = ""

    @classmethod
    def of(cls, platform: str, author_id: str = "", handle: str = "") -> PersonKey:
        return cls(platform, author_id.strip(), normal_handle(handle))

    @property
    def someone(self) -> bool:
        """Whether the identity names an account (not the placeholder of a withheld author)."""
        return self.author_id not in NOBODY or bool(self.handle)

    def same_as(self, other: PersonKey) -> bool:
        """Whether both name the same account (by id, or by handle when an id is missing)."""
        if self.platform != other.platform:
            return False
        if self.author_id and other.author_id:
            return self.author_id == other.author_id
        return bool(self.handle) and self.handle == other.handle

    def as_dict(self) -> dict[str, str]:
        return {"platform": self.platform, "author_id": self.author_id, "handle": self.handle}


def first_line(text: str, limit: int = FIRST_LINE) -> str:
    """The start of a message as a history list shows it: its first line, cut at a word."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"
