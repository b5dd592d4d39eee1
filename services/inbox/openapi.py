"""The inbox API's OpenAPI 3.1 document (served at /openapi.json)."""

from __future__ import annotations

from typing import Any

from services.inbox.channels.http import (
    ChannelIn,
    ChannelOut,
    ChannelsOut,
    TemplatesOut,
)
from services.inbox.ingest.http import PROTOBUF, IngestOut
from services.inbox.ingest.request import BatchIn
from services.inbox.webhooks.http import RECEIVERS
from services.inbox.webhooks.hub import CrcOut, ReceivedOut
from services.infra.openapi import PROBES, Media, Operation, document
from services.infra.platforms import CONNECTED

BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
AUTH = {401: "Missing or unknown inbox token", 403: "A token of another scope"}
CHANNEL: dict[str, dict[str, Any]] = {
    "platform": {"enum": list(CONNECTED)},
    "key": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
}
WEBHOOK: dict[str, dict[str, Any]] = {"platform": {"enum": sorted(RECEIVERS)}}

OPERATIONS = [
    *PROBES,
    Operation(
        "POST",
        "/v1/ingest",
        "Store a batch of normalised messages, once each (JSON in the proto3 mapping, "
        "or binary ecoute.v1.IngestBatch as application/x-protobuf)",
        "ingest",
        body=BatchIn,
        accepts=(Media(PROTOBUF, "A binary ecoute.v1.IngestBatch (proto/ecoute/v1)", BINARY),),
        returns=IngestOut,
        answers_as=(
            Media(PROTOBUF, "A binary ecoute.v1.IngestResult, when Accept names it", BINARY),
        ),
        auth="ingest",
        answers={
            200: "Stored and duplicate items",
            400: "Malformed body",
            **AUTH,
            413: "Body or batch too large",
            415: "Unsupported content type",
            422: "Invalid field",
            503: "Database unavailable",
        },
    ),
    Operation(
        "GET",
        "/v1/channels",
        "The workspace's channels and their health",
        "channels",
        returns=ChannelsOut,
        auth="channels",
        answers={200: "Channels", **AUTH},
    ),
    Operation(
        "PUT",
        "/v1/channels/{platform}/{key}",
        "Connect a platform account (the workspace's own credentials, by reference, at an "
        "API host of the platform)",
        "channels",
        returns=ChannelOut,
        path_params=CHANNEL,
        body=ChannelIn,
        auth="channels",
        answers={
            200: "Saved",
            **AUTH,
            404: "Unknown platform",
            409: "The platform account is connected to another channel already",
            422: "Invalid channel (a base URL that is no API host of the platform, a "
            "credentials reference this workspace does not have)",
        },
    ),
    Operation(
        "GET",
        "/v1/channels/{platform}/{key}/templates",
        "A WhatsApp channel's approved message templates, read from the platform (what an "
        "agent may send outside the 24-hour customer-service window)",
        "channels",
        returns=TemplatesOut,
        path_params=CHANNEL,
        auth="channels",
        answers={
            200: "Approved templates",
            **AUTH,
            404: "No WhatsApp channel of that key in this workspace",
            409: "The platform refused the channel's credentials (re-authorise it)",
            502: "The platform refused the request",
            503: "The platform did not answer",
        },
    ),
    Operation(
        "GET",
        "/webhooks/{platform}",
        "Platform handshakes (X CRC, Meta, WhatsApp and Threads verification)",
        "webhooks",
        returns=CrcOut,
        answers_as=(Media("text/plain", "Meta, WhatsApp, Threads: the hub.challenge, echoed"),),
        path_params=WEBHOOK,
        auth=None,
        answers={
            200: "Handshake answer",
            400: "No crc_token (X)",
            403: "Wrong verify token",
            404: "No such platform",
            503: "Not configured",
        },
    ),
    Operation(
        "POST",
        "/webhooks/{platform}",
        "Platform events, signed over the raw body",
        "webhooks",
        returns=ReceivedOut,
        path_params=WEBHOOK,
        auth=None,
        answers={
            200: "Acknowledged",
            401: "Missing or forged signature",
            404: "No such platform",
            413: "Too large",
            503: "Not configured",
        },
    ),
]

DOCUMENT = document(
    "Écoute inbox — the edge to the platforms",
    "1",
    "Ingest from any producer, connected channels, platform webhooks. Errors are "
    "application/problem+json.",
    OPERATIONS,
)
