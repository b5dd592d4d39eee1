"""Numbers a team lead reads: first-response times, SLA attainment, backlog, answers.

Per-agent and per-channel figures live here, in the API, never as metric labels.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from services.infra.http import ENGINE_KEY, ProblemError, json_response
from services.triage.access.auth import authenticate, require_role
from services.triage.stats.usecases import team_stats


async def get_stats(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "lead", "admin")
    raw = request.query.get("days", "7")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or not 1 <= int(raw) <= 90:
        raise ProblemError(
            422,
            "Invalid query",
            "days must be an integer from 1 to 90.",
            errors=[{"pointer": "/query/days", "detail": "expected 1..90"}],
        )
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].connect() as conn:
        stats = await team_stats(conn, caller.workspace_id, int(raw), now)
    return json_response(stats)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/stats", get_stats)
