"""Numbers a team lead reads: first-response times, SLA attainment, backlog, answers.

Per-agent and per-channel figures live here, in the API, never as metric labels.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiohttp import web

from services.infra.http import ENGINE_KEY, Out, ProblemError, model_response
from services.infra.platforms import Platform
from services.triage.access.auth import authenticate, require_role
from services.triage.domain.conversation import Priority
from services.triage.domain.sla import ClockKind
from services.triage.stats.usecases import team_stats


class FirstResponseOut(Out):
    answered: int
    p50_seconds: int | None
    p90_seconds: int | None
    within_target: float | None  # the share answered within target, 0 to 1


class BacklogOut(Out):
    priority: Priority
    conversations: int
    oldest_waiting_seconds: int | None


class ChannelAnswersOut(Out):
    platform: Platform
    channel: str
    answers: int


class AgentAnswersOut(Out):
    user_id: uuid.UUID
    name: str
    answers: int


class TagFiguresOut(Out):
    id: int
    name: str
    colour: str
    waiting: int  # open conversations carrying it that need an answer now
    tagged: int  # conversations it was put on over the period (and still carry it)


class StatsOut(Out):
    """A team lead's figures over the last ``days``."""

    days: int
    as_of: datetime
    first_response: FirstResponseOut
    breaches: dict[ClockKind, int]
    backlog: list[BacklogOut]
    answers_per_channel: list[ChannelAnswersOut]
    answers_per_agent: list[AgentAnswersOut]
    per_tag: list[TagFiguresOut]  # every tag of the workspace, by name


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
    return model_response(StatsOut, stats)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/stats", get_stats)
