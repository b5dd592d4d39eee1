"""Which connector speaks for which platform: a plain mapping of connector classes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp

from services.inbox.connectors.base import Channel, Connector, Rejected
from services.inbox.connectors.bluesky import BlueskyConnector
from services.inbox.connectors.mastodon import MastodonConnector
from services.inbox.connectors.meta import MetaConnector
from services.inbox.connectors.threads import ThreadsConnector
from services.inbox.connectors.whatsapp import WhatsAppConnector
from services.inbox.connectors.x import XConnector
from services.inbox.connectors.youtube import YouTubeConnector

ConnectorClass = Callable[
    [Channel, dict[str, Any], aiohttp.ClientSession, Callable[[], datetime]], Connector
]

# Facebook, Instagram and Messenger share Meta's Graph API.
CONNECTORS: dict[str, ConnectorClass] = {
    "mastodon": MastodonConnector,
    "x": XConnector,
    "bluesky": BlueskyConnector,
    "facebook": MetaConnector,
    "instagram": MetaConnector,
    "messenger": MetaConnector,
    "whatsapp": WhatsAppConnector,
    "threads": ThreadsConnector,
    "youtube": YouTubeConnector,
}


def connector_for(
    channel: Channel,
    credentials: dict[str, Any],
    session: aiohttp.ClientSession,
    clock: Callable[[], datetime],
) -> Connector:
    """The channel's connector; ``Rejected("unsupported")`` for a platform without one."""
    try:
        connector_class = CONNECTORS[channel.platform]
    except KeyError:
        raise Rejected("unsupported", f"no connector for {channel.platform}") from None
    return connector_class(channel, credentials, session, clock)
