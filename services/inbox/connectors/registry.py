"""Which connector speaks for which platform (imported when first needed)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp

from services.inbox.connectors.base import Channel, Connector, Rejected

Factory = Callable[
    [Channel, dict[str, Any], aiohttp.ClientSession, Callable[[], datetime]], Connector
]

# platform -> "module:ClassName"; Facebook, Instagram and Messenger share Meta's Graph API.
CONNECTORS: dict[str, str] = {
    "mastodon": "services.inbox.connectors.mastodon:MastodonConnector",
    "x": "services.inbox.connectors.x:XConnector",
    "bluesky": "services.inbox.connectors.bluesky:BlueskyConnector",
    "facebook": "services.inbox.connectors.meta:MetaConnector",
    "instagram": "services.inbox.connectors.meta:MetaConnector",
    "messenger": "services.inbox.connectors.meta:MetaConnector",
}


def factory_for(platform: str) -> Factory:
    target = CONNECTORS.get(platform)
    if target is None:
        raise Rejected("unsupported", f"no connector for {platform}")
    module, _, name = target.partition(":")
    try:
        found: Factory = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise Rejected("unsupported", f"the {platform} connector is not available") from None
    return found


def connector_for(
    channel: Channel,
    credentials: dict[str, Any],
    session: aiohttp.ClientSession,
    clock: Callable[[], datetime],
) -> Connector:
    return factory_for(channel.platform)(channel, credentials, session, clock)
