"""The periodic jobs' statements on a workspace large enough for the planner to choose: with
nothing due they read nothing of it, and the gauges read what they count (the waiting
conversations, the running clocks), never the history beside it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.triage.sla import store as sla
from services.triage.stats import store as stats
from tests.support.world import make_workspace

CONVERSATIONS, RUNNING = 20_000, 3_000
NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
SEED = [
    """
    INSERT INTO triage.conversations (workspace_id, id, platform, channel, kind, status,
        needs_answer, priority, intent, reasons, waiting_since, last_inbound_at, updated_at,
        sla_rank, sla_due_at)
    SELECT :ws, g, 'x', 'support', 'public', CASE WHEN g <= :running THEN 'open' ELSE 'resolved'
           END, g <= :running, 1 + g % 4, 'problem', '{}', CAST(:now AS timestamptz),
           CAST(:now AS timestamptz), CAST(:now AS timestamptz), 0,
           CAST(:now AS timestamptz) + interval '2 hours'
    FROM generate_series(1, :n) AS g
    """,
    """
    INSERT INTO triage.sla_clocks (workspace_id, conversation_id, kind, priority,
        target_seconds, started_at, stopped_at, outcome, due_at, next_transition_at)
    SELECT :ws, g, 'first_response', 1 + g % 4, 7200, CAST(:now AS timestamptz),
           CASE WHEN g > :running THEN CAST(:now AS timestamptz) END,
           CASE WHEN g > :running THEN 'met' END,
           CAST(:now AS timestamptz) + interval '2 hours',
           CASE WHEN g <= :running THEN CAST(:now AS timestamptz) + interval '1 hour' END
    FROM generate_series(1, :n) AS g
    """,
]


async def plan_of(engine: AsyncEngine, statement: TextClause, **params: object) -> str:
    async with engine.connect() as conn:
        explain = text("EXPLAIN (ANALYZE) " + statement.text)
        return "\n".join((await conn.execute(explain, params)).scalars())


async def test_periodic_jobs_read_what_is_due_and_gauges_what_they_count(
    engine: AsyncEngine, database_url: str
) -> None:
    ws = (await make_workspace(database_url)).id
    async with engine.begin() as conn:
        for statement in SEED:
            params = {"ws": ws, "n": CONVERSATIONS, "running": RUNNING, "now": NOW}
            await conn.execute(text(statement), params)
    async with engine.connect() as conn:
        await conn.execute(text("COMMIT"))
        await conn.execute(text("VACUUM (ANALYZE) triage.conversations, triage.sla_clocks"))

    # The SLA scheduler with nothing due for an hour: its sleep, its turn, its claim.
    assert "sla_clocks_due" in await plan_of(engine, sla._NEXT)
    for statement, params in (
        (sla._NEXT_WORKSPACE, {"now": NOW, "after": uuid.UUID(int=0)}),
        (sla._DUE_CONVERSATIONS, {"ws": ws, "now": NOW, "limit": 500}),
    ):
        plan = await plan_of(engine, statement, **params)
        assert "Seq Scan" not in plan, plan
        assert " rows=0 loops=1)" in plan.splitlines()[0], plan

    # The gauges: the running clocks of 20,000 (3,000), the waiting conversations (3,000).
    clocks = await plan_of(engine, stats.RUNNING_CLOCKS)
    assert "sla_clocks_running_by_state" in clocks, clocks
    assert "Seq Scan on sla_clocks" not in clocks, clocks
    waiting = await plan_of(engine, stats.QUEUE_BY_PRIORITY)
    assert " on conversations_queue" in waiting or "using conversations_queue" in waiting, waiting
    assert "Seq Scan on conversations" not in waiting, waiting
    async with engine.connect() as conn:
        counted = await stats.running_clocks(conn)
    assert sum(r.n for r in counted) == RUNNING
