"""SQL of a workspace's webhook: its URL and signing secret."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.db import first_row


async def set_webhook(
    conn: AsyncConnection, workspace_id: uuid.UUID, url: str, secret: str
) -> None:
    await conn.execute(
        text(
            """
            INSERT INTO triage.webhooks (workspace_id, url, secret) VALUES (:ws, :url, :secret)
            ON CONFLICT (workspace_id) DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret
            """
        ),
        {"ws": workspace_id, "url": url, "secret": secret},
    )


async def webhook(conn: AsyncConnection, workspace_id: uuid.UUID) -> tuple[str, str] | None:
    """The workspace's (url, secret), or None when it has no webhook."""
    row = await first_row(
        conn,
        "SELECT url, secret FROM triage.webhooks WHERE workspace_id = :ws",
        {"ws": workspace_id},
    )
    return (row.url, row.secret) if row else None
