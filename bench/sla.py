"""SLA transition lag with 100,000 running clocks: how late at-risk and breach events come.

Most clocks fall due in hours; ``--due`` of them cross a threshold at spread instants over
the next ``--window`` seconds. One scheduler (as in a triage process) raises them; the lag
is raised_at minus the instant the threshold was crossed. Writes ``sla_transition_lag_p50_s``,
``sla_transition_lag_p99_s`` and ``sla_running_clocks`` to bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import uuid

from sqlalchemy import text

from bench.common import percentile, report, scratch_database
from services.infra.db import create_engine
from services.triage.sla.scheduler import SlaScheduler, Transition

SEED = text(
    """
    WITH ws AS (INSERT INTO triage.workspaces (id, name) VALUES (:ws, 'bench') RETURNING id)
    INSERT INTO triage.conversations (workspace_id, id, platform, channel, kind, needs_answer,
                                      priority, waiting_since)
    SELECT CAST(:ws AS uuid), g, 'x', 'bench', 'public', true, 1, now()
    FROM generate_series(1, :n) AS g
    """
)
# P1 first response: 1,800 s target, at risk at 1,350 s. Clock g < :due crosses at-risk at
# now + 5 s + g * window / due; the others started recently and cross in hours.
CLOCKS = text(
    """
    INSERT INTO triage.sla_clocks (workspace_id, conversation_id, kind, priority, target_seconds,
                                   started_at, state, due_at, next_transition_at)
    SELECT CAST(:ws AS uuid), g, 'first_response', 1, 1800, s.started, 'ok',
           s.started + interval '1800 seconds', s.started + interval '1350 seconds'
    FROM generate_series(1, :n) AS g,
         LATERAL (SELECT CASE WHEN g <= :due
                  THEN now() - interval '1350 seconds'
                       + make_interval(secs => 5 + g * CAST(:window AS float8)
                                                       / CAST(:due AS float8))
                  ELSE now() - make_interval(secs => (g % 1200)) END AS started) AS s
    """
)


async def run(url: str, clocks: int, due: int, window: float) -> dict[str, float]:
    engine = create_engine(url, 4)
    workspace = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(SEED, {"ws": workspace, "n": clocks})
        await conn.execute(CLOCKS, {"ws": workspace, "n": clocks, "due": due, "window": window})
        await conn.execute(text("ANALYZE triage.sla_clocks"))
    raised: list[Transition] = []
    scheduler = SlaScheduler(engine, url, on_transition=raised.append)
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    deadline = asyncio.get_running_loop().time() + window + 20
    while len(raised) < due and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.5)
    stop.set()
    await task
    async with engine.connect() as conn:
        running = (
            await conn.execute(
                text("SELECT count(*) FROM triage.sla_clocks WHERE stopped_at IS NULL")
            )
        ).scalar_one()
    await engine.dispose()
    lags = sorted((t.raised_at - t.crossed_at).total_seconds() for t in raised)
    if len(lags) < due:
        raise SystemExit(f"only {len(lags)} of {due} transitions were raised")
    return {
        "sla_running_clocks": running,
        "sla_transitions_measured": len(lags),
        "sla_transition_lag_p50_s": round(statistics.median(lags), 3),
        "sla_transition_lag_p99_s": round(percentile(lags, 0.99), 3),
        "sla_transition_lag_max_s": round(lags[-1], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clocks", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=2_000)
    parser.add_argument("--window", type=float, default=60.0)
    args = parser.parse_args()
    url = scratch_database("ecoute_bench_sla")
    figures = asyncio.run(run(url, args.clocks, args.due, args.window))
    report(figures)


if __name__ == "__main__":
    main()
