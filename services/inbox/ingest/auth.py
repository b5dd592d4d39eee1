"""Which workspace an ingest token belongs to; wrong tokens are rate-limited per client address
and per token, after the lookup, so a valid token never waits."""

from __future__ import annotations

import uuid

from aiohttp import web

from services.inbox.ingest.store import workspace_of_ingest_token
from services.infra.auth import bearer_token
from services.infra.auth_failures import wrong_token
from services.infra.http import ENGINE_KEY, ProblemError


def ingest_token(request: web.Request) -> str:
    """The bearer token, or 401 when there is none."""
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise ProblemError(401, "Unauthorized", "Send the ingest token as 'Bearer <token>'.")
    return token


async def workspace_of(request: web.Request, token: str) -> uuid.UUID:
    """The token's workspace; 401 if unknown or revoked, 429 after too many wrong ones."""
    async with request.app[ENGINE_KEY].connect() as conn:
        workspace = await workspace_of_ingest_token(conn, token)
        await conn.rollback()
    if workspace is None:
        raise wrong_token(request, token, "Unknown or revoked ingest token.")
    return workspace
