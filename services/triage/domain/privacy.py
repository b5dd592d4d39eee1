"""Data-protection rules as plain functions: who a request names, and what retention keeps.

A person is named by one or more identities (platform plus platform id, handle, or both):
people use several platforms, and a handle can change while the platform id does not.
"""

from __future__ import annotations

import hashlib
import uuid
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


def counts_for_conversation(direction: str, erased: bool) -> bool:
    """Whether a message triage applies changes its conversation (decision, state, clocks).

    A message the inbox erased before triage applied it (a late retry, a replay) is stored
    as a tombstone. If the person wrote it, there are no words left to decide on and no one
    to answer: it leaves its conversation as it was. If it is the brand's answer, the
    conversation was still answered.
    """
    return direction == "out" or not erased


def erasure_locks(
    applying: Iterable[uuid.UUID], erasing: Iterable[uuid.UUID]
) -> list[tuple[int, bool]]:
    """The per-workspace locks a consumer batch takes, as (key, exclusive), in key order.

    A batch applying the inbox's erasure news holds its workspaces' key alone; batches
    applying messages share it. So a message is applied either before the news (which then
    erases its row) or after it (and sees the erased ids), never beside it. Key order means
    two batches never wait for each other in a circle; two workspaces may share a key.
    """
    locks: dict[int, bool] = {}
    for workspace_id in applying:
        locks.setdefault(_lock_key(workspace_id), False)
    for workspace_id in erasing:
        locks[_lock_key(workspace_id)] = True
    return sorted(locks.items())


def _lock_key(workspace_id: uuid.UUID) -> int:
    """A signed 32-bit key (Postgres advisory locks take two ``int``) from the workspace id."""
    return int.from_bytes(workspace_id.bytes[:4], "big", signed=True)
