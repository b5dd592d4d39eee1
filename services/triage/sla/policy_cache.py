"""Each workspace's SLA policy, cached a few seconds: the queue reads it on every request.

A PUT of the policy on this process forgets the entry at once; other replicas see the change
within ``POLICY_CACHE_SECONDS``.
"""

from __future__ import annotations

import uuid

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.ttl_cache import TtlCache
from services.triage.domain.sla import Policy
from services.triage.sla.store import load_policies

POLICY_CACHE_KEY = web.AppKey("policy_cache", TtlCache)
POLICY_CACHE_SECONDS = 10.0


async def cached_policy(
    app: web.Application, conn: AsyncConnection, workspace_id: uuid.UUID
) -> Policy:
    """The workspace's SLA policy, re-read at most every 10 s (a PUT here forgets it)."""
    cache = app[POLICY_CACHE_KEY]
    policy: Policy | None = cache.get(workspace_id)
    if policy is None:
        policy = (await load_policies(conn, [workspace_id]))[workspace_id]
        cache.put(workspace_id, policy)
    return policy
