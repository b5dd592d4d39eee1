"""The periodic jobs on a large workspace with nothing to do: each must cost its work, not
the workspace's size.

One workspace holds 650,000 conversations (100,000 open with a running SLA clock, 550,000
resolved with stopped ones), all active within the retention period, and no incident
signal. A retention tick (``RetentionJob.run_once``: every workspace's idle conversations,
of which there are none) is timed ``--ticks`` times: ``retention_tick_ms`` (median) and
``retention_tick_max_ms``. The other periodic jobs' statements (SLA scheduler, incident
detector, gauges) are timed on the same tables by ``EXPLAIN (ANALYZE, TIMING OFF)``, best
of five: ``periodic_statement_ms``, with the most rows a node of each plan produced
(``periodic_statement_rows``). The scheduler and the detector read what is due; the gauges
read the open conversations and the running clocks (what they count), not the history.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import record, scratch_database
from services.infra.db import create_engine
from services.triage.access.store import create_workspace
from services.triage.incidents import store as incidents
from services.triage.privacy.retention import RetentionJob
from services.triage.routing import store as routing
from services.triage.sla import store as sla
from services.triage.stats import store as stats

SEED = [
    """
    INSERT INTO triage.conversations (workspace_id, id, platform, channel, kind, status,
        needs_answer, priority, intent, reasons, waiting_since, last_inbound_at,
        last_outbound_at, updated_at, sla_rank, sla_due_at, language)
    SELECT :ws, g, (ARRAY['x','mastodon','bluesky','facebook'])[1 + g % 4], 'bench', 'public',
           CASE WHEN g <= :open THEN 'open' ELSE 'resolved' END, g <= :open, 1 + g % 4,
           'problem', ARRAY['reports a problem'], now() - make_interval(secs => g % 86400),
           now() - make_interval(secs => g % 86400), now() - make_interval(secs => g % 3600),
           now() - make_interval(secs => g % 3600), 0,
           now() + make_interval(secs => 3600 + g % 7200), (ARRAY['fr','en'])[1 + g % 2]
    FROM generate_series(1, :n) AS g
    """,
    """
    INSERT INTO triage.sla_clocks (workspace_id, conversation_id, kind, priority,
        target_seconds, started_at, stopped_at, outcome, due_at, next_transition_at)
    SELECT :ws, g, 'first_response', 1 + g % 4, 7200, now() - interval '10 minutes',
           CASE WHEN g > :open THEN now() END, CASE WHEN g > :open THEN 'met' END,
           now() + make_interval(secs => 3600 + g % 7200),
           CASE WHEN g <= :open THEN now() + make_interval(secs => 3600 + g % 7200) END
    FROM generate_series(1, :n) AS g
    """,
]


async def seed(url: str, conversations: int, open_ones: int) -> uuid.UUID:
    engine = create_engine(url, 1, command_timeout=None)  # a bulk load takes minutes
    async with engine.begin() as conn:
        ws = await create_workspace(conn, "bench", uuid.uuid4())
        for statement in SEED:
            await conn.execute(text(statement), {"ws": ws, "n": conversations, "open": open_ones})
    async with engine.connect() as conn:
        await conn.execute(text("COMMIT"))
        for table in ("conversations", "sla_clocks"):
            await conn.execute(text(f"VACUUM (ANALYZE) triage.{table}"))
    await engine.dispose()
    return ws


async def retention_ticks(engine: AsyncEngine, ticks: int) -> list[float]:
    """Milliseconds of each retention tick (90 days kept: nothing is that idle)."""
    job = RetentionJob(engine, default_days=90)
    taken = []
    for _ in range(ticks):
        started = time.perf_counter()
        purged = await job.run_once()
        taken.append((time.perf_counter() - started) * 1000)
        if purged:
            raise SystemExit(f"the retention tick purged {purged} conversations")
    return taken


_ACTUAL = re.compile(r"actual rows=(\d+) loops=(\d+)")


def periodic_statements(ws: uuid.UUID, now: datetime) -> dict[str, tuple[TextClause, Any]]:
    """The periodic jobs' statements as they run when nothing is due."""
    return {
        "sla_next_transition": (sla._NEXT, {}),
        "sla_next_workspace_due": (sla._NEXT_WORKSPACE, {"now": now, "after": uuid.UUID(int=0)}),
        "sla_due_conversations": (
            sla._DUE_CONVERSATIONS,
            {"ws": ws, "now": now, "limit": 500},
        ),
        "detector_active_workspaces": (
            incidents.ACTIVE_WORKSPACES,
            {"since": now - timedelta(minutes=30)},
        ),
        "gauge_queue_by_priority": (stats.QUEUE_BY_PRIORITY, {}),
        "gauge_running_clocks": (stats.RUNNING_CLOCKS, {}),
        "gauge_open_incidents": (stats.OPEN_INCIDENTS, {}),
        "gauge_load_by_claims": (routing.LOAD_BY_CLAIMS, {"now": now}),
    }


async def explain(engine: AsyncEngine, ws: uuid.UUID) -> dict[str, dict[str, float]]:
    """Server time (best of five) and the most rows any plan node produced, per statement."""
    now = datetime.now(UTC)
    found: dict[str, dict[str, float]] = {}
    async with engine.connect() as conn:
        for name, (statement, params) in periodic_statements(ws, now).items():
            best, rows = float("inf"), 0
            for _ in range(5):
                explained = text("EXPLAIN (ANALYZE, TIMING OFF) " + statement.text)
                plan = (await conn.execute(explained, params)).scalars().all()
                best = min(best, float(plan[-1].split(":")[1].split()[0]))
                rows = max(int(r) * int(n) for line in plan for r, n in _ACTUAL.findall(line))
            found[name] = {"ms": round(best, 3), "rows": rows}
        await conn.rollback()
    return found


async def measure(url: str, ws: uuid.UUID, ticks: int) -> dict[str, Any]:
    engine = create_engine(url, 2)
    try:
        ticks_ms = sorted(await retention_ticks(engine, ticks))
        statements = await explain(engine, ws)
    finally:
        await engine.dispose()
    return {
        "retention_tick_ms": round(statistics.median(ticks_ms), 2),
        "retention_tick_max_ms": round(ticks_ms[-1], 2),
        "periodic_statement_ms": {k: v["ms"] for k, v in statements.items()},
        "periodic_statement_rows": {k: int(v["rows"]) for k, v in statements.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=650_000)
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--ticks", type=int, default=20)
    args = parser.parse_args()
    url = scratch_database("ecoute_bench_retention")
    ws = asyncio.run(seed(url, args.conversations, args.open))
    figures = {
        "retention_conversations": args.conversations,
        **asyncio.run(measure(url, ws, args.ticks)),
        "retention_load_average_1m": round(os.getloadavg()[0], 2),
    }
    record(figures)
    print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
