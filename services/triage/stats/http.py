"""Numbers a team lead reads: first-response times, SLA attainment, backlog, answers.

Per-agent and per-channel figures live here, in the API, never as metric labels.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from aiohttp import web

from services.infra.http import ENGINE_KEY, Out, invalid_query, model_response, query_integer
from services.infra.platforms import Platform
from services.triage.access.auth import authorised
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
    tagged: int  # conversations it was put on in the period (and still carry it)


class PriorityFirstResponseOut(FirstResponseOut):
    priority: Priority


class StatsOut(Out):
    """A team lead's figures from ``since`` (included) to ``until`` (excluded)."""

    days: int  # the period's length, rounded up to whole days
    since: datetime
    until: datetime
    as_of: datetime
    first_response: FirstResponseOut  # in business time, as the SLA clocks count it
    first_response_per_priority: list[PriorityFirstResponseOut]
    breaches: dict[ClockKind, int]
    backlog: list[BacklogOut]
    answers_per_channel: list[ChannelAnswersOut]
    answers_per_agent: list[AgentAnswersOut]
    per_tag: list[TagFiguresOut]  # every tag of the workspace, by name


MAX_DAYS = 90


def _moment(query: Mapping[str, str], name: str) -> datetime | None:
    """An ISO 8601 date or date-time of the query (UTC when it names no offset)."""
    raw = query.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw) if len(raw) <= 40 else None
    except ValueError:
        moment = None
    if moment is None:
        raise invalid_query(name, "expected an ISO 8601 date or date-time")
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def period(query: Mapping[str, str], now: datetime) -> tuple[datetime, datetime]:
    """The period a lead asks for: ``from``/``to``, or the last ``days`` (7) before ``to``."""
    since, until = _moment(query, "from"), _moment(query, "to") or now
    if since is not None and "days" in query:
        raise invalid_query("days", "give either days or from")
    if since is None:
        since = until - timedelta(days=query_integer(query.get("days", "7"), "days", MAX_DAYS))
    if since >= until:
        raise invalid_query("from", "expected a moment before to")
    if until - since > timedelta(days=MAX_DAYS):
        raise invalid_query("from", f"expected at most {MAX_DAYS} days before to")
    return since, until


async def get_stats(request: web.Request) -> web.Response:
    caller = await authorised(request, "lead", "admin")
    now = datetime.now(UTC)
    since, until = period(request.query, now)
    async with request.app[ENGINE_KEY].connect() as conn:
        stats = await team_stats(conn, caller.workspace_id, since, until, now)
    return model_response(StatsOut, stats)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/stats", get_stats)
