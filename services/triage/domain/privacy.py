"""Data-protection rules as plain functions: who a request names, and what retention keeps.

A person is named by one or more identities (platform plus platform id, handle, or both):
people use several platforms, and a handle can change while the platform id does not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True, order=True)
class Identity:
    """One way a person appears: ``author_id`` (platform id) and/or ``handle``."""

    platform: str
    author_id: str = ""
    handle: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"platform": self.platform, "author_id": self.author_id, "handle": self.handle}


def normal_handle(handle: str) -> str:
    """Handles compare without case and without a leading ``@`` (``@Marie`` is ``marie``)."""
    return handle.strip().lstrip("@").lower()


def normalise(identities: Iterable[Identity]) -> tuple[Identity, ...]:
    """The same person named twice, in any order or case, is one sorted set of identities."""
    return tuple(
        sorted(
            {
                Identity(i.platform, i.author_id.strip(), normal_handle(i.handle))
                for i in identities
                if i.author_id.strip() or normal_handle(i.handle)
            }
        )
    )


def identities_digest(identities: tuple[Identity, ...]) -> bytes:
    """A key for "the same request again": equal for equal normalised identity sets."""
    joined = "\x1e".join(f"{i.platform}\x1f{i.author_id}\x1f{i.handle}" for i in identities)
    return hashlib.sha256(joined.encode()).digest()


def effective_retention_days(workspace_days: int | None, has_setting: bool, default: int) -> int:
    """Days of inactivity after which a conversation is purged; 0 means keep forever.

    A workspace's own setting wins (``None`` there means "keep forever"); without one the
    deployment's default applies.
    """
    if has_setting:
        return workspace_days or 0
    return max(0, default)


def purge_before(now: datetime, days: int) -> datetime | None:
    """Conversations whose last activity is before this instant are purged (None: never)."""
    if days <= 0:
        return None
    return now - timedelta(days=days)
