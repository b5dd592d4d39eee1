"""One turn of a loop over due rows (replies, moderations, channels to poll): the rows of
one workspace claimed in one transaction, then handled concurrently outside it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.infra.worker import Rotation

T = TypeVar("T")


async def claim_and_handle(
    engine: AsyncEngine,
    rotation: Rotation,
    next_workspace: Callable[[AsyncConnection, uuid.UUID], Awaitable[uuid.UUID | None]],
    claim: Callable[[AsyncConnection, uuid.UUID], Awaitable[list[T]]],
    handle: Callable[[T], Awaitable[object]],
) -> int:
    """Claim the due rows of the next workspace that has some (``rotation``: workspaces take
    turns) and handle them concurrently; how many were claimed. Finding the workspace is a
    read on its own connection (it locks nothing); the claim is one transaction, over before
    any row is handled, so no lock is held across a platform's answer."""

    async def next_after(after: uuid.UUID) -> uuid.UUID | None:
        async with engine.connect() as conn:
            return await next_workspace(conn, after)

    async def claim_in(workspace_id: uuid.UUID) -> list[T]:
        async with engine.begin() as conn:
            return await claim(conn, workspace_id)

    claimed = await rotation.turn(next_after, claim_in) or []
    await asyncio.gather(*(handle(row) for row in claimed))
    return len(claimed)
