"""Every SQL statement of the stats area: a team lead's figures and the metrics' gauges.

The figures name the workspace; the gauges count over every workspace (they carry no
workspace label).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

# --- A team lead's figures (``GET /v1/stats``) ------------------------------------------

# One row for the whole period (priority NULL), then one per priority.
_FIRST_RESPONSE = text(
    """
    SELECT priority, count(*) AS n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY elapsed_seconds) AS p50,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY elapsed_seconds) AS p90,
           count(*) FILTER (WHERE outcome = 'met') AS met
    FROM triage.sla_clocks
    WHERE workspace_id = :ws AND kind = 'first_response' AND outcome IN ('met', 'missed')
      AND stopped_at >= :since AND stopped_at < :until
    GROUP BY GROUPING SETS ((), (priority)) ORDER BY priority NULLS FIRST
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
    WHERE r.workspace_id = :ws AND r.state = 'delivered'
      AND r.created_at >= :since AND r.created_at < :until
    GROUP BY 1, 2 ORDER BY 3 DESC
    """
)
_PER_AGENT = text(
    """
    SELECT u.id, u.display_name, u.email, count(*) AS n
    FROM triage.replies AS r
    JOIN triage.users AS u ON u.workspace_id = r.workspace_id AND u.id = r.author_id
    WHERE r.workspace_id = :ws AND r.state = 'delivered'
      AND r.created_at >= :since AND r.created_at < :until
    GROUP BY 1, 2, 3 ORDER BY 4 DESC
    """
)
_BREACHES = text(
    """
    SELECT c.kind, count(*) AS n FROM triage.sla_clock_log AS l
    JOIN triage.sla_clocks AS c ON c.workspace_id = l.workspace_id AND c.id = l.clock_id
    WHERE l.workspace_id = :ws AND l.change = 'breached' AND l.at >= :since AND l.at < :until
    GROUP BY 1
    """
)

_PER_TAG = text(  # every tag, with the conversations it tags waiting now and tagged lately
    """
    SELECT t.id, t.name, t.colour,
           count(c.id) FILTER (WHERE c.status = 'open' AND c.needs_answer) AS waiting,
           count(ct.conversation_id)
               FILTER (WHERE ct.tagged_at >= :since AND ct.tagged_at < :until) AS tagged
    FROM triage.tags AS t
    LEFT JOIN triage.conversation_tags AS ct
      ON ct.workspace_id = t.workspace_id AND ct.tag_id = t.id
    LEFT JOIN triage.conversations AS c
      ON c.workspace_id = ct.workspace_id AND c.id = ct.conversation_id
    WHERE t.workspace_id = :ws
    GROUP BY t.id, t.name, t.colour ORDER BY lower(t.name), t.id
    """
)


@dataclass(frozen=True, slots=True)
class Figures:
    """The rows of each figure of one workspace over a period."""

    first_response: Row[Any]  # n, p50, p90, met
    first_response_by_priority: Sequence[Row[Any]]  # priority, n, p50, p90, met
    backlog: Sequence[Row[Any]]  # priority, n, oldest
    channels: Sequence[Row[Any]]  # platform, channel, n
    agents: Sequence[Row[Any]]  # id, display_name, email, n
    breaches: Sequence[Row[Any]]  # kind, n
    tags: Sequence[Row[Any]]  # id, name, colour, waiting, tagged


async def figures(
    conn: AsyncConnection, workspace_id: uuid.UUID, since: datetime, until: datetime
) -> Figures:
    """The figures of ``since`` (included) to ``until`` (excluded); the backlog is now's."""
    params: dict[str, Any] = {"ws": workspace_id, "since": since, "until": until}
    overall, *by_priority = (await conn.execute(_FIRST_RESPONSE, params)).all()
    return Figures(
        first_response=overall,
        first_response_by_priority=by_priority,
        backlog=(await conn.execute(_BACKLOG, params)).all(),
        channels=(await conn.execute(_PER_CHANNEL, params)).all(),
        agents=(await conn.execute(_PER_AGENT, params)).all(),
        breaches=(await conn.execute(_BREACHES, params)).all(),
        tags=(await conn.execute(_PER_TAG, params)).all(),
    )


# --- The gauges (every workspace) -------------------------------------------------------


RUNNING_CLOCKS = text(
    """
    SELECT kind, priority,
           CASE WHEN paused_since IS NOT NULL THEN 'paused' ELSE state END AS state,
           count(*) AS n
    FROM triage.sla_clocks WHERE stopped_at IS NULL
    GROUP BY 1, 2, 3
    """
)


async def running_clocks(conn: AsyncConnection) -> Sequence[Row[Any]]:
    """Running clocks counted by kind, priority and state (paused counts as a state)."""
    return (await conn.execute(RUNNING_CLOCKS)).all()


OPEN_INCIDENTS = text(
    "SELECT kind, count(*) AS n FROM triage.incidents WHERE status = 'open' GROUP BY kind"
)


async def open_incidents(conn: AsyncConnection) -> dict[str, int]:
    """Open incidents by kind."""
    return {r.kind: r.n for r in await conn.execute(OPEN_INCIDENTS)}


QUEUE_BY_PRIORITY = text(
    """
    SELECT priority, count(*) AS n, min(waiting_since) AS oldest
    FROM triage.conversations
    WHERE status = 'open' AND needs_answer GROUP BY priority
    """
)


async def queue_by_priority(conn: AsyncConnection) -> Sequence[Row[Any]]:
    """Open conversations waiting for an answer: how many and since when, by priority."""
    return (await conn.execute(QUEUE_BY_PRIORITY)).all()


async def oldest_workspaces(conn: AsyncConnection, limit: int) -> list[tuple[uuid.UUID, str]]:
    """The oldest workspaces' ids and names, oldest first: the brand label's order."""
    rows = await conn.execute(
        text("SELECT id, name FROM triage.workspaces ORDER BY created_at, id LIMIT :n"),
        {"n": limit},
    )
    return [(r.id, r.name) for r in rows]
