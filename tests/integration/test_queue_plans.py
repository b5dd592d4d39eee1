"""The queue's plans on a workspace large enough for the planner to choose: every filter
reads its page through an index in the queue's order (no walk over the open
conversations), and Postgres keeps one plan per filter combination instead of planning
each call again."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.triage.desk.store import queue, queue_statement
from services.triage.domain.calendar import Calendar
from tests.support.world import make_workspace

OPEN = 20_000
NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
SEED = [
    """
    INSERT INTO triage.conversations (workspace_id, id, platform, channel, kind, status,
        needs_answer, priority, intent, reasons, waiting_since, last_inbound_at,
        last_message_id, sla_rank, sla_due_at, language, assignee_id, claim_expires_at)
    SELECT :ws, g, (ARRAY['x','mastodon','bluesky','facebook'])[1 + g % 4],
           'support-' || (g % 20), 'public', 'open', true, 1 + g % 4,
           (ARRAY['problem','question','complaint'])[1 + g % 3], ARRAY['reports a problem'],
           CAST(:now AS timestamptz) - make_interval(secs => g), CAST(:now AS timestamptz), g,
           g % 3, CAST(:now AS timestamptz) + make_interval(secs => g % 7200 - 1800),
           (ARRAY['fr','en'])[1 + g % 2], CASE WHEN g % 500 = 0 THEN CAST(:agent AS uuid) END,
           CASE WHEN g % 500 = 0 THEN CAST(:now AS timestamptz) + interval '1h' END
    FROM generate_series(1, :n) AS g
    """,
    # An incident of the 200 latest conversations and a tag on 300: messages, members, links.
    """
    INSERT INTO triage.messages (workspace_id, id, conversation_id, direction, kind,
        author_handle, text, created_at, received_at)
    SELECT :ws, g, g, 'in', 'mention', 'c' || g, 'no signal since noon', :now, :now
    FROM generate_series(:n - 199, :n) AS g
    """,
    """
    INSERT INTO triage.incidents (workspace_id, id, kind, label, first_seen, opened_at,
        last_seen) OVERRIDING SYSTEM VALUE
    VALUES (:ws, 7, 'customer', 'no signal', :now, :now, :now)
    """,
    """
    INSERT INTO triage.incident_members (workspace_id, incident_id, message_id,
        conversation_id, author, platform, language, at)
    SELECT :ws, 7, g, g, 'c' || g, 'x', 'en', :now FROM generate_series(:n - 199, :n) AS g
    """,
    "INSERT INTO triage.tags (workspace_id, id, name, colour) VALUES (:ws, 9, 'vip', 'red')",
    """
    INSERT INTO triage.conversation_tags (workspace_id, conversation_id, tag_id)
    SELECT :ws, g * 60, 9 FROM generate_series(1, 300) AS g
    """,
]
FILTERS: dict[str, tuple[dict[str, Any], str]] = {
    "none": ({}, "conversations_queue_due"),
    "language": ({"language": "fr"}, "conversations_queue_by_language"),
    "language nobody writes": ({"language": "other"}, "conversations_queue_by_language"),
    "platform": ({"platform": "bluesky"}, "conversations_queue_by_platform"),
    "platform with nothing": ({"platform": "whatsapp"}, "conversations_queue_by_platform"),
    "channel": ({"channel": "support-3"}, "conversations_queue_by_channel"),
    "intent": ({"intent": "question"}, "conversations_queue_by_intent"),
    "state": ({"rank": 2}, "conversations_queue_by_sla_rank"),
    "priority": ({"priority": 3}, "conversations_queue_by_priority"),
    "mine": ({"mine": "agent"}, "conversations_holder"),
    "unassigned": ({"unassigned": True}, "conversations_queue_due"),
    "incident": ({"incident": 7}, "conversations_pkey"),
    "tag": ({"tag": 9}, "conversations_pkey"),
}
# What a page may read of the 20,000 open conversations: itself, the 40 held ones the
# unassigned view walks past, an incident's or a tag's own conversations.
MOST_READ = 400
_READ = re.compile(r" on conversations c\w* .*actual time=\S+ rows=(\d+) loops=(\d+)")


def conversations_read(plan: str) -> int:
    """Rows of triage.conversations the plan's nodes returned, over all their loops."""
    return sum(int(rows) * int(loops) for rows, loops in _READ.findall(plan))


async def seeded(engine: AsyncEngine, database_url: str) -> tuple[uuid.UUID, uuid.UUID]:
    ws = await make_workspace(database_url)
    async with engine.begin() as conn:
        agent = (
            await conn.execute(
                text("SELECT id FROM triage.users WHERE workspace_id = :ws"), {"ws": ws.id}
            )
        ).scalar_one()
        for statement in SEED:
            await conn.execute(
                text(statement), {"ws": ws.id, "n": OPEN, "now": NOW, "agent": agent}
            )
    async with engine.connect() as conn:
        await conn.execute(text("COMMIT"))
        await conn.execute(text("VACUUM (ANALYZE) triage.conversations"))
        await conn.execute(text("ANALYZE"))
    return ws.id, agent


def parameters(ws: uuid.UUID, agent: uuid.UUID, given: dict[str, Any]) -> dict[str, Any]:
    values = {k: agent if v == "agent" else v for k, v in given.items() if k != "unassigned"}
    return {"ws": ws, "now": NOW, "limit": 50, **values}


async def generic_plan(
    conn: AsyncConnection, engine: AsyncEngine, given: dict[str, Any], params: dict[str, Any]
) -> str:
    """The plan Postgres keeps for the statement after its first calls (its generic plan:
    parameters unknown), with what it did on this call."""
    compiled = queue_statement(frozenset(given)).compile(dialect=engine.dialect)
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    values = ", ".join(
        "'" + str(params[name]).replace("'", "''") + "'" for name in compiled.positiontup or ()
    )
    await raw.execute("SET plan_cache_mode = force_generic_plan")
    await raw.execute(f"PREPARE kept AS {compiled}")
    try:
        rows = await raw.fetch(f"EXPLAIN (ANALYZE) EXECUTE kept({values})")
    finally:
        await raw.execute("DEALLOCATE kept")
        await raw.execute("RESET plan_cache_mode")
    return "\n".join(r[0] for r in rows)


async def test_every_queue_filter_reads_its_page_through_an_index(
    engine: AsyncEngine, database_url: str
) -> None:
    ws, agent = await seeded(engine, database_url)
    async with engine.connect() as conn:
        for name, (given, index) in FILTERS.items():
            params = parameters(ws, agent, given)
            statement = queue_statement(frozenset(given))
            explain = text("EXPLAIN (ANALYZE) " + statement.text)
            custom = "\n".join((await conn.execute(explain, params)).scalars())
            kept = await generic_plan(conn, engine, given, params)
            for plan in (custom, kept):
                assert "Seq Scan on conversations" not in plan, f"{name}:\n{plan}"
                assert f"using {index} on" in plan, f"{name}:\n{plan}"
                assert conversations_read(plan) <= MOST_READ, f"{name}:\n{plan}"


async def test_the_queue_keeps_one_plan_per_filter_combination(
    engine: AsyncEngine, database_url: str
) -> None:
    """Past its first five calls on a connection, each statement runs its kept (generic)
    plan: no planning on the desk's hottest read."""
    ws, agent = await seeded(engine, database_url)
    calendar = Calendar()
    async with engine.connect() as conn:
        for name, (given, _index) in FILTERS.items():
            filters = parameters(ws, agent, given)
            filters = {k: v for k, v in filters.items() if k not in ("ws", "now", "limit")}
            if given.get("unassigned"):
                filters["unassigned"] = True
            pages = [await queue(conn, ws, 50, NOW, calendar, filters) for _ in range(8)]
            # The first calls' plans and the kept one answer the same page, of what the
            # filter matches: none, the agent's 40 held conversations, or a full page.
            size = 0 if "nothing" in name or "nobody" in name else 40 if name == "mine" else 50
            assert [len(page) for page in pages] == [size] * 8, name
        kept = (
            await conn.execute(
                text(
                    "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
                    "WHERE statement LIKE '%ORDER BY (page.priority <> 1)%'"
                )
            )
        ).all()
    kept = [r for r in kept if "pg_prepared_statements" not in r.statement]
    assert len(kept) == len({frozenset(g) for g, _ in FILTERS.values()})
    assert all(row.generic_plans >= 3 for row in kept), [
        (r.generic_plans, r.custom_plans) for r in kept
    ]
