"""Connecting a channel: only to the workspace's own credentials, at its platform's hosts."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.inbox.channels import store
from services.inbox.channels.credentials import CredentialStore


class InvalidChannel(ValueError):
    """A channel the client can fix; ``pointer`` names the field of the request."""

    def __init__(self, pointer: str, detail: str) -> None:
        super().__init__(f"{pointer}: {detail}")
        self.pointer = pointer
        self.detail = detail


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
