"""Which workspace an inbox token belongs to; wrong tokens are rate-limited per client
address and per token, after the lookup, so a valid token never waits.

A token has one scope: ``ingest`` (a producer sends messages) or ``channels`` (a workspace
admin connects platform accounts, which decides where the workspace's credentials go). A
valid token of the other scope is refused with 403, and is no failed guess.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from services.inbox.ingest.store import holder_of_token
from services.infra.auth import bearer_token
from services.infra.auth_failures import wrong_token
from services.infra.http import ENGINE_KEY, ProblemError


def ingest_token(request: web.Request) -> str:
    """The bearer token, or 401 when there is none."""
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise ProblemError(401, "Unauthorized", "Send the inbox token as 'Bearer <token>'.")
    return token


async def workspace_of(request: web.Request, token: str, scope: str = "ingest") -> uuid.UUID:
    """The token's workspace; 401 if unknown or revoked, 403 if its scope is not ``scope``,
    429 after too many wrong ones (from this address, or this token)."""
    async with request.app[ENGINE_KEY].connect() as conn:
        holder = await holder_of_token(conn, token)
        await conn.rollback()
    if holder is None:
        raise wrong_token(request, token, "Unknown or revoked inbox token.")
    workspace, granted = holder
    if granted != scope:
        raise ProblemError(
            403,
            "Forbidden",
            f"This token has the {granted!r} scope; this needs a {scope!r} token "
            f"(python -m services.inbox create-token --scope {scope}).",
        )
    return workspace
