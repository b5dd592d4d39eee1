"""The platforms Écoute speaks to, read from the contract (``Platform`` in
proto/ecoute/v1/message.proto) so the two services and external producers share one list."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ecoute.v1 import message_pb2

_PREFIX = "PLATFORM_"

PLATFORMS: tuple[str, ...] = tuple(
    name.removeprefix(_PREFIX).lower()
    for name, number in message_pb2.Platform.items()
    if number != message_pb2.PLATFORM_UNSPECIFIED
)
"""Every value ``NormalizedMessage.platform`` may take, in the contract's order."""

CONNECTED: tuple[str, ...] = tuple(p for p in PLATFORMS if p != "other")
"""The platforms with a connector (``other`` is a generic producer's messages)."""

if TYPE_CHECKING:  # a type checker needs literal values; pydantic reads the tuples
    Platform = str
    ConnectedPlatform = str
else:
    Platform = Literal[PLATFORMS]
    """A platform's name as pydantic models read and document it: an enum of ``PLATFORMS``
    (a value outside it is a 422 naming the field)."""
    ConnectedPlatform = Literal[CONNECTED]

MODERATION_ACTIONS: tuple[str, ...] = ("hide", "unhide", "delete")
"""What a lead may do to a customer's comment on the platform itself."""

MODERATION: dict[str, tuple[str, ...]] = {
    "facebook": MODERATION_ACTIONS,
    "instagram": MODERATION_ACTIONS,
    "threads": ("hide", "unhide"),  # Threads deletes only the brand's own posts
    "youtube": MODERATION_ACTIONS,
}
"""The moderation actions each platform's connector carries out (the inbox's ``Moderates``)."""

MODERATED_KINDS: tuple[str, ...] = ("comment", "reply")
"""The kinds of message a moderation action applies to: comments, never DMs or mentions."""

NO_MODERATION: dict[str, str] = {
    "x": "Écoute cannot hide or delete replies on X: the connector does not offer it.",
    "mastodon": "Mastodon lets an account hide or delete only its own posts, not a "
    "customer's reply.",
    "bluesky": "Écoute cannot hide or delete replies on Bluesky: the connector does not offer it.",
    "messenger": "Messenger conversations are private: there is nothing to hide.",
    "whatsapp": "WhatsApp conversations are private: there is nothing to hide.",
    "other": "Messages from a generic producer cannot be moderated from Écoute.",
}
"""Why a platform has no moderation action, as a channel's capabilities say it."""
