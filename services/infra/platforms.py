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
