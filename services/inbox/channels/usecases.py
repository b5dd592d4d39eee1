"""Connecting a channel: only to the workspace's own credentials, at its platform's hosts;
reading what a channel offers (WhatsApp's approved templates)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.inbox.channels import store
from services.inbox.channels.credentials import CredentialStore
from services.inbox.connectors.base import Channel, SpendsQuota
from services.inbox.connectors.registry import connector_for
from services.inbox.connectors.whatsapp import Template, WhatsAppConnector
from services.infra.invalid_field import InvalidField


class InvalidChannel(InvalidField):
    """A channel the client can fix; ``pointer`` names the field of the request."""


async def connect(
    conn: AsyncConnection,
    credentials: CredentialStore,
    workspace_id: uuid.UUID,
    platform: str,
    key: str,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """Create or update the channel. Its base URL must be an API host of the platform and
    its credentials reference one of this workspace's own: another workspace's reference is
    answered exactly as one that exists nowhere."""
    refusal = credentials.hosts.refusal(platform, settings["base_url"])
    if refusal is not None:
        raise InvalidChannel("/base_url", refusal)
    if not credentials.exists(workspace_id, settings["credentials_ref"]):
        raise InvalidChannel("/credentials_ref", "this workspace has no credentials of that name")
    return await store.configure(conn, workspace_id, platform, key, settings)


class NoTemplates(LookupError):
    """No WhatsApp channel of that key in the caller's workspace."""


async def templates(
    conn: AsyncConnection,
    credentials: CredentialStore,
    session: aiohttp.ClientSession,
    workspace_id: uuid.UUID,
    key: str,
) -> list[Template]:
    """The approved message templates of a WhatsApp channel's business account, read from
    the platform (``GET /{waba-id}/message_templates``): what an agent may send outside the
    24-hour customer-service window."""
    row = await store.channel_by_key(conn, workspace_id, "whatsapp", key)
    if row is None:
        raise NoTemplates(key)
    channel = store.describe_channel(row)
    secrets = credentials.for_channel(channel)
    connector = connector_for(channel, secrets, session, lambda: datetime.now(UTC))
    if not isinstance(connector, WhatsAppConnector):
        raise NoTemplates(key)
    return await connector.templates(str(secrets.get("business_account_id") or ""))


async def record_spending(engine: AsyncEngine, channel: Channel, connector: object) -> None:
    """Add what a connector spent of its platform's daily quota to the channel's count."""
    if not isinstance(connector, SpendsQuota):
        return
    day, units = connector.quota_spent()
    if units:
        async with engine.begin() as conn:
            await store.spend_quota(conn, channel, day, units)
