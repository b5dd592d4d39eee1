"""Citus readiness: what would stop distributing the tenant tables by workspace fails here.

Citus enforces a primary key or a unique constraint only when it holds the distribution
column, and locks rows (``FOR UPDATE``) only in a query routed to one shard; a statement
without the workspace goes to every shard. So:

- every table of the ``inbox``, ``triage`` and ``events`` schemas, once migrated, has its
  distribution column (``workspace_id``) in its primary key and in every unique constraint or
  index, unless it is listed below as a reference or local table, with why;
- every SQL statement of the services (each ``text(...)`` of a store module or of the event
  transport, read from the source) that touches a tenant table pins one workspace (a
  ``workspace_id = :parameter`` predicate, or an INSERT of a ``workspace_id`` column into a
  single tenant table), unless it is listed below with why.

A new table, key, index or statement that breaks this fails the test with its name.
"""

from __future__ import annotations

import ast
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ("inbox", "triage", "events")

# Tables that are not distributed by workspace_id, and why.
NOT_BY_WORKSPACE = {
    "events.subscription": "reference table: which consumer hears which topic, read by every "
    "publish on every node",
    "triage.credential_directory": "reference table: digest -> workspace of sessions, API "
    "tokens, links and pending sign-ins; a request brings only its secret (migration t0021)",
    "inbox.token_directory": "reference table: digest -> workspace of ingest tokens (i0008)",
    "triage.login_attempts": "local table on the coordinator: sign-in rate limits by address, "
    "before any workspace is known",
}
# Tables distributed by another column than workspace_id.
DISTRIBUTED_BY = {"triage.workspaces": "id"}
# Unique indexes without the distribution column, and why (each one a remaining obstacle).
UNIQUE_WITHOUT_WORKSPACE = {
    "inbox.channels_account": "PLAN: a platform account belongs to one channel in the whole "
    "installation (webhooks are routed by account); on Citus this moves to a reference table "
    "(platform, account_id) -> workspace, written when a channel is connected",
}

Key = tuple[str, str, bool, list[str]]
"""A unique index: its table, its name, whether it is the primary key, its columns."""

_SCHEMA_KEYS = """
SELECT n.nspname || '.' || t.relname AS tbl, i.relname AS name, x.indisprimary AS primary,
       array(SELECT a.attname FROM pg_attribute a
             WHERE a.attrelid = t.oid AND a.attnum = ANY(x.indkey)) AS columns
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE x.indisunique AND n.nspname = ANY($1::text[])
"""
_TABLES = """
SELECT n.nspname || '.' || c.relname AS tbl,
       EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND x.indisprimary) AS has_pk
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY($1::text[])
"""


def key_obstacles(tables: dict[str, bool], keys: list[Key]) -> list[str]:
    """What would stop Citus distributing the tables by workspace: a table without a primary
    key, a primary key or unique index without the distribution column."""
    found = [
        f"{t}: no primary key"
        for t, has_pk in tables.items()
        if not has_pk and t not in NOT_BY_WORKSPACE
    ]
    for table, name, primary, columns in keys:
        if table in NOT_BY_WORKSPACE:
            continue
        column = DISTRIBUTED_BY.get(table, "workspace_id")
        schema = table.split(".")[0]
        if column not in columns and f"{schema}.{name}" not in UNIQUE_WITHOUT_WORKSPACE:
            kind = "primary key" if primary else "unique index"
            found.append(f"{table}: {kind} {name} ({', '.join(columns)}) lacks {column}")
    return sorted(found)


async def _catalog(database_url: str) -> tuple[dict[str, bool], list[Key]]:
    """The tables of the tenant schemas (with whether each has a primary key), and their
    unique keys (table, index, primary or not, columns)."""
    conn = await asyncpg.connect(database_url)
    try:
        tables = {r["tbl"]: r["has_pk"] for r in await conn.fetch(_TABLES, list(SCHEMAS))}
        keys = [
            (r["tbl"], r["name"], r["primary"], list(r["columns"]))
            for r in await conn.fetch(_SCHEMA_KEYS, list(SCHEMAS))
        ]
    finally:
        await conn.close()
    return tables, keys


async def test_every_tenant_key_holds_the_workspace(database_url: str) -> None:
    tables, keys = await _catalog(database_url)
    assert {"events.outbox", "triage.sessions", "inbox.ingest_tokens"} <= set(tables)
    assert key_obstacles(tables, keys) == []
    assert set(NOT_BY_WORKSPACE) | set(DISTRIBUTED_BY) <= set(tables), "stale allow-list"


async def test_a_key_without_the_workspace_is_an_obstacle(database_url: str) -> None:
    """The schema check can fail: a digest-only key, as sessions had before t0021, is caught."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("ALTER TABLE triage.sessions DROP CONSTRAINT sessions_pkey")
        await conn.execute("ALTER TABLE triage.sessions ADD PRIMARY KEY (digest)")
        await conn.execute("CREATE TABLE triage.obstacle (id bigint)")
    finally:
        await conn.close()
    tables, keys = await _catalog(database_url)
    assert key_obstacles(tables, keys) == [
        "triage.obstacle: no primary key",
        "triage.sessions: primary key sessions_pkey (digest) lacks workspace_id",
    ]


# ---- statements ------------------------------------------------------------------------

# Statements on tenant tables that do not pin one workspace, by (module, where), and why.
# "read" ones lock nothing: Citus runs them on every shard in parallel (multi-shard SELECT),
# which is fine off the request path. "PLAN" ones are obstacles still to remove.
CROSS_WORKSPACE = {
    ("services/infra/events.py", "_NEXT_WORKSPACE"): "read: the next workspace with events "
    "(Rotation); the claim that follows names it",
    ("services/infra/events.py", "_PUBLISH"): "insert of each event with its workspace_id; "
    "the subscription join is a reference table",
    ("services/infra/events.py", "backlog"): "read: events waiting per consumer, for metrics",
    ("services/triage/sla/store.py", "_NEXT_WORKSPACE"): "read: the next workspace with a due "
    "clock (Rotation)",
    ("services/triage/sla/store.py", "_NEXT"): "read: the earliest transition of any clock, "
    "for the scheduler's sleep",
    ("services/inbox/delivery/store.py", "_NEXT_WORKSPACE"): "read: the next workspace with a "
    "due reply (Rotation)",
    ("services/inbox/delivery/store.py", "_NEXT_WORKSPACE_MODERATING"): "read: the next "
    "workspace with a due moderation (Rotation)",
    ("services/triage/rules/store.py", "_SEEN_BEFORE"): "read: the intake batch's authors "
    "(one workspace per batch since the Rotation)",
    ("services/triage/rules/store.py", "_tag_names"): "read: the tags a batch's rules name",
    ("services/triage/rules/store.py", "enabled_rules"): "read: the rules of a batch's "
    "workspaces (one since the Rotation)",
    ("services/triage/rules/store.py", "in_open_incident"): "read: a batch's incident members",
    ("services/triage/rules/store.py", "set_routes"): "PLAN: the intake batch (as "
    "_LOCK_CONVERSATIONS)",
    ("services/triage/tags/store.py", "put_tags_by_rules"): "PLAN: the intake batch (as "
    "_LOCK_CONVERSATIONS)",
    ("services/inbox/channels/store.py", "next_workspace_due"): "read: the next workspace with "
    "a due channel (Rotation)",
    ("services/inbox/channels/store.py", "seconds_to_next_poll"): "read: the poller's sleep",
    ("services/inbox/channels/store.py", "count_by_health"): "read: a gauge",
    ("services/inbox/channels/store.py", "channels_of_account"): "read, but on every webhook: "
    "PLAN: the account directory of inbox.channels_account routes it",
    ("services/triage/access/store.py", "find_login"): "read, but on every sign-in (an e-mail "
    "may be in several workspaces): PLAN: an e-mail directory, or the workspace in the form",
    ("services/triage/access/store.py", "lock_secrets_after"): "PLAN: the operator's two-factor "
    "key rotation locks secrets across workspaces in key order; walk one workspace at a time",
    ("services/triage/desk/store.py", "_LOCK_CONVERSATIONS"): "PLAN: the intake batch; the "
    "consumer now claims one workspace per batch (Rotation), so the arrays hold one workspace: "
    "pass it as a scalar to route the lock",
    ("services/triage/desk/store.py", "_UPDATE_CONVERSATIONS"): "PLAN: the intake batch (as "
    "_LOCK_CONVERSATIONS)",
    ("services/triage/sla/store.py", "lock_running"): "PLAN: the intake batch's clocks (as "
    "_LOCK_CONVERSATIONS)",
    ("services/triage/sla/store.py", "_UPDATE"): "PLAN: the intake batch's clocks",
    ("services/triage/sla/store.py", "_QUEUE_ORDER"): "PLAN: the intake batch's queue order",
    ("services/triage/sla/store.py", "load_policies"): "read: the policies of a batch's "
    "workspaces (one since the Rotation)",
    ("services/triage/intake/store.py", "_LAST_BRAND_MESSAGES"): "read: a batch's threads",
    ("services/triage/privacy/store.py", "erased_among"): "read: a batch's erased messages",
    ("services/triage/privacy/store.py", "retention_settings"): "read: the retention job's list "
    "of workspaces; each purge then names its workspace",
    ("services/triage/incidents/store.py", "ACTIVE_WORKSPACES"): "read: the detector's list of "
    "workspaces to examine, each then one at a time",
    ("services/triage/incidents/store.py", "prune_signals"): "periodic multi-shard DELETE by "
    "age (Citus runs it on every shard); a partition drop once partitioned",
    ("services/triage/news/store.py", "purge"): "periodic multi-shard DELETE by age, as "
    "prune_signals",
    ("services/triage/routing/store.py", "auto_assigning"): "read: the router's list of "
    "workspaces, each then routed alone",
    ("services/triage/routing/store.py", "LOAD_BY_CLAIMS"): "read: a gauge",
    ("services/triage/stats/store.py", "RUNNING_CLOCKS"): "read: a gauge",
    ("services/triage/stats/store.py", "OPEN_INCIDENTS"): "read: a gauge",
    ("services/triage/stats/store.py", "QUEUE_BY_PRIORITY"): "read: a gauge",
    ("services/triage/stats/store.py", "oldest_workspaces"): "read: a gauge's workspace labels",
}


@dataclass(frozen=True)
class Statement:
    module: str
    where: str  # the constant or function that holds it
    sql: str


def _string(node: ast.AST, constants: dict[str, str]) -> str:
    """The SQL text a node builds, with unknown interpolations as ``{?}``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            _string(v.value, constants)
            if isinstance(v, ast.FormattedValue)
            else _string(v, constants)
            for v in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _string(node.left, constants) + _string(node.right, constants)
    if isinstance(node, ast.Name):
        return constants.get(node.id, "{?}")
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    ):
        return _string(node.func.value, constants)
    return "{?}"


# services.infra.db's helpers that run a statement given as a string (conn, sql, params).
RUNNERS = frozenset({"first_row", "returns_row", "all_rows", "scalar_one", "row_count"})


def statements_of(path: Path, source: str) -> list[Statement]:
    """Every ``text(...)`` of a module, and every statement handed to one of
    ``services.infra.db``'s runners, named by the constant or function holding it."""
    tree = ast.parse(source)
    constants: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                value = _string(node.value, constants)
                if value != "{?}":
                    constants[target.id] = value
    found: list[Statement] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            here = where
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                here = child.name
            elif isinstance(child, ast.Assign) and isinstance(child.targets[0], ast.Name):
                here = child.targets[0].id if where == "<module>" else where
            if isinstance(child, ast.Call):
                name = getattr(child.func, "id", None) or getattr(child.func, "attr", None)
                if name == "text":
                    found.append(Statement(str(path), here, _string(child.args[0], constants)))
                elif name in RUNNERS and len(child.args) >= 2:
                    # services.infra.db's runners take the statement's text as a string.
                    found.append(Statement(str(path), here, _string(child.args[1], constants)))
            visit(child, here)

    visit(tree, "<module>")
    return found


_TABLE = re.compile(r"\b(inbox|triage|events)\.([a-z_]+)\b")
_PINNED = re.compile(r"\bworkspace_id\s*=\s*(CAST\(\s*)?:\w+|\bw\.id\s*=\s*:\w+|\bid\s*=\s*:ws\b")
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(\w+\.\w+)\s*\(([^)]*)\)", re.IGNORECASE)


def obstacle(sql: str) -> str | None:
    """Why a statement would go to every shard (or lock rows there), or None if it pins one
    workspace (or touches no tenant table)."""
    tables = {f"{s}.{t}" for s, t in _TABLE.findall(sql)} - set(NOT_BY_WORKSPACE)
    if not tables or _PINNED.search(sql):
        return None
    insert = _INSERT.match(sql)
    if insert and tables == {insert.group(1)}:
        column = DISTRIBUTED_BY.get(insert.group(1), "workspace_id")
        if re.search(rf"\b{column}\b", insert.group(2)):
            return None
    return f"no workspace predicate on {', '.join(sorted(tables))}"


def service_statements() -> list[Statement]:
    modules = [*sorted((ROOT / "services").rglob("store.py")), ROOT / "services/infra/events.py"]
    return [
        replace_path(s)
        for path in modules
        for s in statements_of(path, path.read_text(encoding="utf-8"))
    ]


def replace_path(statement: Statement) -> Statement:
    relative = str(Path(statement.module).relative_to(ROOT))
    return Statement(relative, statement.where, statement.sql)


def statement_obstacles(statements: list[Statement]) -> list[str]:
    found = []
    for s in statements:
        why = obstacle(s.sql)
        if why and (s.module, s.where) not in CROSS_WORKSPACE:
            found.append(f"{s.module}:{s.where}: {why}")
    return sorted(set(found))


def test_every_statement_on_a_tenant_table_names_the_workspace() -> None:
    statements = service_statements()
    assert len(statements) > 250  # the extraction finds the stores' statements
    assert statement_obstacles(statements) == []
    where = {(s.module, s.where) for s in statements}
    assert set(CROSS_WORKSPACE) <= where, "stale allow-list entries"


@pytest.mark.parametrize(
    ("sql", "blocked"),
    [
        ("UPDATE triage.sessions SET last_seen_at = :now WHERE digest = :d", True),
        (
            "SELECT id FROM events.outbox WHERE consumer = :c ORDER BY id FOR UPDATE SKIP LOCKED",
            True,
        ),
        (
            "UPDATE triage.sessions SET last_seen_at = :now "
            "WHERE workspace_id = :ws AND digest = :d",
            False,
        ),
        ("INSERT INTO triage.tags (workspace_id, name) VALUES (:ws, :name)", False),
        ("SELECT workspace_id FROM triage.credential_directory WHERE digest = :d", False),
        (
            "INSERT INTO triage.notes (workspace_id, id) SELECT workspace_id, id "
            "FROM triage.conversations",
            True,
        ),
    ],
)
def test_a_statement_without_the_workspace_is_an_obstacle(sql: str, blocked: bool) -> None:
    assert (obstacle(sql) is not None) == blocked


def test_an_obstacle_added_to_a_store_module_fails(tmp_path: Path) -> None:
    source = (
        "from sqlalchemy import text\n"
        "_TOUCH = text('UPDATE triage.sessions SET last_seen_at = now() WHERE digest = :d')\n"
        "async def revoke(conn):\n"
        "    await conn.execute(text(f'UPDATE triage.api_tokens SET revoked_at = now() {X}'))\n"
        "async def find(conn, email):\n"
        "    return await all_rows(conn, 'SELECT id FROM triage.users WHERE email = :e', {})\n"
    )
    module = tmp_path / "store.py"
    found = statement_obstacles(statements_of(module, source))
    assert found == [
        f"{module}:_TOUCH: no workspace predicate on triage.sessions",
        f"{module}:find: no workspace predicate on triage.users",
        f"{module}:revoke: no workspace predicate on triage.api_tokens",
    ]


# ---- credentials handed out before the migration ----------------------------------------


async def test_cookies_and_tokens_issued_before_the_migration_keep_working(
    pg_server: str,
) -> None:
    """The directory is filled from existing rows: a session cookie, an API token and an
    ingest token issued under the digest-only keys still authenticate after t0021/i0008."""
    import asyncio
    from datetime import UTC, datetime, timedelta

    from services.inbox.ingest.store import holder_of_token
    from services.infra.auth import token_digest
    from services.infra.db import create_engine
    from services.infra.migrate import upgrade
    from services.triage.access.store import token_owner, touch_session
    from tools.embedded_pg import ensure_database, with_database

    name = f"m_{uuid.uuid4().hex[:12]}"
    url = await ensure_database(pg_server, name)
    ws, user, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
    try:
        await asyncio.to_thread(upgrade, url, "t0015")
        await asyncio.to_thread(upgrade, url, "i0004")
        conn = await asyncpg.connect(url)
        await conn.execute("INSERT INTO triage.workspaces (id, name) VALUES ($1, 'w')", ws)
        await conn.execute(
            "INSERT INTO triage.users (workspace_id, id, email, role) "
            "VALUES ($1, $2, 'a@example.org', 'agent')",
            ws,
            user,
        )
        await conn.execute(
            "INSERT INTO triage.sessions (digest, workspace_id, user_id, csrf_digest, "
            "created_at, last_seen_at, expires_at, method, user_agent) "
            "VALUES ($1, $2, $3, $4, $5, $5, $6, 'password', '')",
            token_digest("old-cookie"),
            ws,
            user,
            token_digest("csrf"),
            now,
            now + timedelta(hours=8),
        )
        await conn.execute(
            "INSERT INTO triage.api_tokens (digest, workspace_id, user_id) VALUES ($1, $2, $3)",
            token_digest("eca_old"),
            ws,
            user,
        )
        await conn.execute(
            "INSERT INTO inbox.ingest_tokens (digest, workspace_id) VALUES ($1, $2)",
            token_digest("eci_old"),
            ws,
        )
        await conn.close()
        await asyncio.to_thread(upgrade, url, "heads")
        engine = create_engine(url, 1)
        async with engine.begin() as db:
            session = await touch_session(db, "old-cookie", now, now - timedelta(hours=1))
            owner = await token_owner(db, "eca_old")
            holder = await holder_of_token(db, "eci_old")
            unknown = await touch_session(db, "never-issued", now, now - timedelta(hours=1))
        await engine.dispose()
        assert session is not None and (session.workspace_id, session.user_id) == (ws, user)
        assert owner is not None and owner.workspace_id == ws
        assert holder == (ws, "ingest")
        assert unknown is None
    finally:
        conn = await asyncpg.connect(with_database(pg_server, "postgres"))
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await conn.close()
