"""Which connector speaks for which platform."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp

from services.inbox.connectors.base import Channel, Connector, Rejected
from services.inbox.connectors.mastodon import MastodonConnector

Factory = Callable[
    [Channel, dict[str, Any], aiohttp.ClientSession, Callable[[], datetime]], Connector
]

CONNECTORS: dict[str, Factory] = {
    "mastodon": MastodonConnector,
}


def connector_for(
    channel: Channel,
    credentials: dict[str, Any],
    session: aiohttp.ClientSession,
    clock: Callable[[], datetime],
) -> Connector:
    factory = CONNECTORS.get(channel.platform)
    if factory is None:
        raise Rejected("unsupported", f"no connector for {channel.platform}")
    return factory(channel, credentials, session, clock)
