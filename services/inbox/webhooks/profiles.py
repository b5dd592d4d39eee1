"""Names for Messenger and Instagram customers: their webhooks carry ids only.

Before a webhook's messages are stored, each author of an inbound Messenger or Instagram DM
is given the name Meta's User Profile API returns, asked once per person and cached on the
author (``inbox.authors``) until it is ``refresh`` old. A cached name is written into the
message too, so the normalised message triage reads always carries it. A lookup that fails
(no permission, throttled, Meta down, slow) stores the message without a name, never later and
never not at all: the next message of that person asks again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from services.inbox.channels.credentials import CredentialStore
from services.inbox.channels.store import describe_channel
from services.inbox.connectors.base import (
    MALFORMED,
    Channel,
    ConnectorError,
    LooksUpPeople,
    failure_reason,
)
from services.inbox.connectors.registry import connector_for
from services.inbox.domain.messages import Incoming
from services.inbox.domain.meta import UNKNOWN_AUTHOR
from services.inbox.ingest import store as ingest_store

log = logging.getLogger("ecoute.inbox.webhooks.profiles")

PLATFORMS = frozenset({"messenger", "instagram"})
MAX_LOOKUPS = 20  # per webhook: a flood of new people waits for their next message
Names = dict[str, tuple[str, str]]  # external id → (handle, display name)


def nameless_authors(messages: Sequence[Incoming]) -> list[str]:
    """The authors of inbound DMs that came without a name, once each, in order."""
    wanted = [
        m.author_external_id
        for m in messages
        if m.platform in PLATFORMS
        and m.direction == "in"
        and not m.author_display_name
        and m.author_external_id not in ("", UNKNOWN_AUTHOR)
    ]
    return list(dict.fromkeys(wanted))


def named(messages: Sequence[Incoming], names: Names) -> list[Incoming]:
    """The messages with the names found for their authors (others unchanged)."""
    out = []
    for m in messages:
        found = names.get(m.author_external_id) if m.direction == "in" else None
        if found is None or m.author_display_name:
            out.append(m)
            continue
        handle, display_name = found
        out.append(
            replace(m, author_handle=m.author_handle or handle, author_display_name=display_name)
        )
    return out


@dataclass
class ProfileLookup:
    """Looks up and caches names through the channel's connector (Meta's User Profile API)."""

    engine: AsyncEngine
    credentials: CredentialStore
    session: aiohttp.ClientSession
    refresh: timedelta
    clock: Callable[[], datetime]

    async def names(self, channel_row: Any, messages: Sequence[Incoming]) -> tuple[Names, Names]:
        """(names to write into the messages, names newly looked up to cache)."""
        ids = nameless_authors([m for m in messages if m.platform == channel_row.platform])
        if not ids or self.refresh <= timedelta(0):
            return {}, {}
        async with self.engine.connect() as conn:
            known = await ingest_store.known_profiles(
                conn,
                channel_row.workspace_id,
                channel_row.platform,
                ids,
                self.clock() - self.refresh,
            )
        use: Names = {k: (h, d) for k, (h, d, _) in known.items() if d or h}
        stale = [i for i in ids if not known.get(i, ("", "", False))[2]][:MAX_LOOKUPS]
        if not stale:
            return use, {}
        channel = describe_channel(channel_row)
        found = await self._look_up(channel, stale)
        return {**use, **found}, found

    async def _look_up(self, channel: Channel, ids: list[str]) -> Names:
        try:
            connector = connector_for(
                channel, self.credentials.for_channel(channel), self.session, self.clock
            )
        except ConnectorError:  # no credentials for it: the channel's health says so elsewhere
            return {}
        if not isinstance(connector, LooksUpPeople):
            return {}
        answers = await asyncio.gather(*(connector.profile(i) for i in ids), return_exceptions=True)
        found: Names = {}
        for person, answer in zip(ids, answers, strict=True):
            if isinstance(answer, BaseException):
                self._failed(channel.workspace_id, channel.platform, answer)
                continue
            found[person] = (answer.handle, answer.display_name)
        return found

    def _failed(self, workspace_id: uuid.UUID, platform: str, exc: BaseException) -> None:
        if not isinstance(exc, (ConnectorError, aiohttp.ClientError, TimeoutError, *MALFORMED)):
            raise exc
        reason = getattr(exc, "reason", None) or type(exc).__name__
        log.warning(
            "profile lookup failed",
            extra={
                "workspace_id": str(workspace_id),
                "platform": platform,
                "reason": reason if isinstance(exc, ConnectorError) else failure_reason(exc),
            },
        )
