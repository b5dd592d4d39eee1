"""A team lead's figures over a period, as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.stats import store

DAY = timedelta(days=1)


def _first_response(row: Any) -> dict[str, Any]:
    """Counts and business-time percentiles of first responses, as the API shows them."""
    return {
        "answered": row.n,
        "p50_seconds": None if row.p50 is None else round(row.p50),
        "p90_seconds": None if row.p90 is None else round(row.p90),
        "within_target": None if not row.n else round(row.met / row.n, 4),
    }


async def team_stats(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    since: datetime,
    until: datetime,
    now: datetime,
) -> dict[str, Any]:
    """First-response times, SLA attainment, breaches and answers of ``since`` to ``until``."""
    found = await store.figures(conn, workspace_id, since, until)
    return {
        "days": -(-(until - since) // DAY),
        "since": since,
        "until": until,
        "as_of": now,
        "first_response": _first_response(found.first_response),
        "first_response_per_priority": [
            {"priority": f"P{r.priority}", **_first_response(r)}
            for r in found.first_response_by_priority
        ],
        "breaches": {r.kind: r.n for r in found.breaches},
        "backlog": [
            {
                "priority": f"P{r.priority}",
                "conversations": r.n,
                "oldest_waiting_seconds": int((now - r.oldest).total_seconds())
                if r.oldest
                else None,
            }
            for r in found.backlog
        ],
        "answers_per_channel": [
            {"platform": r.platform, "channel": r.channel, "answers": r.n} for r in found.channels
        ],
        "answers_per_agent": [
            {"user_id": r.id, "name": r.display_name or r.email, "answers": r.n}
            for r in found.agents
        ],
        "per_tag": [
            dict(r._mapping)  # id, name, colour, waiting, tagged
            for r in found.tags
        ],
    }
