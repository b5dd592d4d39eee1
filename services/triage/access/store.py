"""SQL of workspaces, users and tokens. Every statement names the workspace."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.auth import token_digest


async def create_workspace(
    conn: AsyncConnection, name: str, workspace_id: uuid.UUID | None = None
) -> uuid.UUID:
    workspace_id = workspace_id or uuid.uuid4()
    await conn.execute(
        text(
            "INSERT INTO triage.workspaces (id, name) VALUES (:id, :name) "
            "ON CONFLICT (id) DO NOTHING"
        ),
        {"id": workspace_id, "name": name},
    )
    return workspace_id


async def create_user(
    conn: AsyncConnection, workspace_id: uuid.UUID, email: str, display_name: str, role: str
) -> uuid.UUID:
    """Create the user, or return the existing one with that e-mail in the workspace."""
    row = (
        await conn.execute(
            text(
                """
        INSERT INTO triage.users (workspace_id, id, email, display_name, role)
        VALUES (:ws, :id, :email, :name, :role)
        ON CONFLICT (workspace_id, lower(email)) DO UPDATE SET role = EXCLUDED.role
        RETURNING id
        """
            ),
            {
                "ws": workspace_id,
                "id": uuid.uuid4(),
                "email": email,
                "name": display_name,
                "role": role,
            },
        )
    ).one()
    return uuid.UUID(str(row.id))


async def create_api_token(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, token: str, name: str
) -> None:
    await conn.execute(
        text(
            "INSERT INTO triage.api_tokens (digest, workspace_id, user_id, name) "
            "VALUES (:digest, :ws, :user, :name) ON CONFLICT (digest) DO NOTHING"
        ),
        {"digest": token_digest(token), "ws": workspace_id, "user": user_id, "name": name},
    )
