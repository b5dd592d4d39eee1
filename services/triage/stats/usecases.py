"""A team lead's figures over the last days, as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.stats import store


async def team_stats(
    conn: AsyncConnection, workspace_id: uuid.UUID, days: int, now: datetime
) -> dict[str, Any]:
    """First-response times, SLA attainment, backlog and answers of the last ``days``."""
    found = await store.figures(conn, workspace_id, now - timedelta(days=days))
    first = found.first_response
    return {
        "days": days,
        "as_of": now,
        "first_response": {
            "answered": first.n,
            "p50_seconds": None if first.p50 is None else round(first.p50),
            "p90_seconds": None if first.p90 is None else round(first.p90),
            "within_target": None if not first.n else round(first.met / first.n, 4),
        },
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
