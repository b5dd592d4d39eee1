"""Numbers a team lead reads: first-response times, SLA attainment, backlog, answers.

Per-agent and per-channel figures live here, in the API, never as metric labels.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import text

from services.infra.http import ENGINE_KEY, ProblemError, json_response
from services.triage.access.auth import authenticate, require_role

_FIRST_RESPONSE = text(
    """
    SELECT count(*) AS n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY elapsed_seconds) AS p50,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY elapsed_seconds) AS p90,
           count(*) FILTER (WHERE outcome = 'met') AS met
    FROM triage.sla_clocks
    WHERE workspace_id = :ws AND kind = 'first_response' AND outcome IN ('met', 'missed')
      AND stopped_at >= :since
    """
)
_BACKLOG = text(
    """
    SELECT priority, count(*) AS n, min(waiting_since) AS oldest
    FROM triage.conversations
    WHERE workspace_id = :ws AND status = 'open' AND needs_answer
    GROUP BY priority ORDER BY priority
    """
)
_PER_CHANNEL = text(
    """
    SELECT c.platform, c.channel, count(*) AS n
    FROM triage.replies AS r
    JOIN triage.conversations AS c ON c.workspace_id = r.workspace_id AND c.id = r.conversation_id
    WHERE r.workspace_id = :ws AND r.state = 'delivered' AND r.created_at >= :since
    GROUP BY 1, 2 ORDER BY 3 DESC
    """
)
_PER_AGENT = text(
    """
    SELECT u.id, u.display_name, u.email, count(*) AS n
    FROM triage.replies AS r
    JOIN triage.users AS u ON u.workspace_id = r.workspace_id AND u.id = r.author_id
    WHERE r.workspace_id = :ws AND r.state = 'delivered' AND r.created_at >= :since
    GROUP BY 1, 2, 3 ORDER BY 4 DESC
    """
)
_BREACHES = text(
    """
    SELECT c.kind, count(*) AS n FROM triage.sla_clock_log AS l
    JOIN triage.sla_clocks AS c ON c.workspace_id = l.workspace_id AND c.id = l.clock_id
    WHERE l.workspace_id = :ws AND l.change = 'breached' AND l.at >= :since
    GROUP BY 1
    """
)


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
    params: dict[str, Any] = {"ws": caller.workspace_id, "since": now - timedelta(days=int(raw))}
    async with request.app[ENGINE_KEY].connect() as conn:
        first = (await conn.execute(_FIRST_RESPONSE, params)).one()
        backlog = (await conn.execute(_BACKLOG, params)).all()
        channels = (await conn.execute(_PER_CHANNEL, params)).all()
        agents = (await conn.execute(_PER_AGENT, params)).all()
        breaches = (await conn.execute(_BREACHES, params)).all()
    return json_response(
        {
            "days": int(raw),
            "as_of": now,
            "first_response": {
                "answered": first.n,
                "p50_seconds": None if first.p50 is None else round(first.p50),
                "p90_seconds": None if first.p90 is None else round(first.p90),
                "within_target": None if not first.n else round(first.met / first.n, 4),
            },
            "breaches": {r.kind: r.n for r in breaches},
            "backlog": [
                {
                    "priority": f"P{r.priority}",
                    "conversations": r.n,
                    "oldest_waiting_seconds": int((now - r.oldest).total_seconds())
                    if r.oldest
                    else None,
                }
                for r in backlog
            ],
            "answers_per_channel": [
                {"platform": r.platform, "channel": r.channel, "answers": r.n} for r in channels
            ],
            "answers_per_agent": [
                {"user_id": r.id, "name": r.display_name or r.email, "answers": r.n} for r in agents
            ],
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/stats", get_stats)
