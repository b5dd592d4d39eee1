"""The agents' API: ``GET /v1/queue``."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from services.infra.http import ENGINE_KEY, ProblemError, json_response
from services.triage.clocks import load_policies
from services.triage.http_auth import authenticate
from services.triage.store import queue

MAX_LIMIT = 500


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ProblemError(
            422,
            "Invalid query",
            f"limit must be an integer from 1 to {MAX_LIMIT}.",
            errors=[{"pointer": "/query/limit", "detail": f"expected 1..{MAX_LIMIT}"}],
        )
    return int(raw)


async def get_queue(request: web.Request) -> web.Response:
    """Open conversations needing an answer, highest priority then longest waiting first."""
    limit = _limit(request)
    caller = await authenticate(request)
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].connect() as conn:
        policy = (await load_policies(conn, [caller.workspace_id]))[caller.workspace_id]
        items = await queue(conn, caller.workspace_id, limit, now, policy.calendar)
    return json_response({"items": items, "count": len(items), "as_of": now})
