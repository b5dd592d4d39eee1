"""Import rules: the decisions stay pure, the shared package stays free of domain logic."""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_FILES = sorted((ROOT / "services").glob("*/domain/*.py"))
IO_PACKAGES = {
    "aiohttp",
    "sqlalchemy",
    "asyncpg",
    "prometheus_client",
    "alembic",
    "requests",
    "httpx",
    "socket",
    "subprocess",
}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_there_is_domain_code_to_check() -> None:
    names = {p.parent.parent.name for p in DOMAIN_FILES}
    assert {"inbox", "triage"} <= names


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_code_does_no_io(path: Path) -> None:
    assert imported_roots(path) & IO_PACKAGES == set()


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_code_never_reads_the_clock(path: Path) -> None:
    """``now`` is an argument of every decision, so tests can pass awkward instants."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert calls & CLOCK_CALLS == set()


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "services" / "infra").rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_shared_infrastructure_knows_no_service(path: Path) -> None:
    roots = {m for m in _modules(path) if m.startswith("services.")}
    assert not {m for m in roots if m.split(".")[1] in {"inbox", "triage"}}


def _modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize(("service", "other"), [("inbox", "triage"), ("triage", "inbox")])
def test_services_do_not_import_each_other(service: str, other: str) -> None:
    """They talk through events and proto/ contracts only."""
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "services" / service).rglob("*.py")
        if any(m.startswith(f"services.{other}") for m in _modules(p))
    ]
    assert offenders == []


# --- The layout: SQL in stores, areas in one order, a pure domain -------------------------

SQL_NAMES = {"text", "select", "insert", "update", "delete", "literal_column", "table"}
# Where SQL may live besides an area's store.py: migrations, and the shared event transport,
# engine and probes (infrastructure with no domain in it).
SQL_ALLOWED = ("services/infra/", "/migrations/", "services/infra/alembic/")

# Each area may import only the areas after it (and itself). The composition roots (app.py,
# __main__.py, openapi.py, and triage's metrics.py) wire every area and are exempt.
LAYERS: dict[str, tuple[frozenset[str], ...]] = {
    # training is offline code that reads the domain only. Routing sits on top: it reads
    # the desk's claims, the SLA queue order and the team, and nothing but the composition
    # roots imports it. Rules run in the intake and write through tags (and the events
    # transport for webhooks), so they sit with incidents, below the desk.
    "triage": (
        frozenset({"routing"}),
        frozenset({"training"}),
        frozenset({"intake"}),
        frozenset({"desk"}),
        frozenset({"incidents", "rules"}),
        frozenset(
            {"sla", "privacy", "search", "stats", "tags", "webhooks", "composer", "moderation"}
        ),
        frozenset({"people"}),  # below privacy: an erasure forgets the person's links and notes
        frozenset({"access"}),
        frozenset({"news", "settings"}),
        frozenset({"domain"}),
    ),
    # The consumer drives replies and erasures; delivery and the platforms' webhooks read the
    # channels, which poll through ingest; the connectors speak to the platforms.
    "inbox": (
        frozenset({"consumer"}),
        frozenset({"delivery", "privacy", "webhooks"}),
        frozenset({"channels"}),
        frozenset({"ingest"}),
        frozenset({"events", "metrics", "settings"}),
        frozenset({"connectors"}),
        frozenset({"domain"}),
    ),
}
COMPOSITION: dict[str, frozenset[str]] = {
    "triage": frozenset(
        {"app", "__main__", "openapi", "metrics", "__init__", "migrations", "model", "ui"}
    ),
    "inbox": frozenset({"app", "__main__", "openapi", "__init__", "migrations"}),
}


def sql_calls(source: str) -> list[str]:
    """Names of SQLAlchemy statement builders a module imports (``text``, ``select``…)."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("sqlalchemy", "sqlalchemy.sql"):
            found += [a.name for a in node.names if a.name in SQL_NAMES]
        elif isinstance(node, ast.Attribute) and node.attr in SQL_NAMES:
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("sa", "sqlalchemy"):
                found.append(node.attr)
    return found


def _service_modules() -> list[Path]:
    return sorted(
        p
        for service in ("inbox", "triage")
        for p in (ROOT / "services" / service).rglob("*.py")
        if not any(part in str(p) for part in SQL_ALLOWED)
    )


@pytest.mark.parametrize("path", _service_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_sql_lives_only_in_stores(path: Path) -> None:
    """A newcomer finds every statement of an area in its store.py."""
    if path.name != "store.py":
        assert sql_calls(path.read_text(encoding="utf-8")) == []


def test_the_sql_rule_catches_a_statement_outside_a_store() -> None:
    assert sql_calls("from sqlalchemy import text\nq = text('SELECT 1')\n") == ["text"]
    assert sql_calls("import sqlalchemy as sa\nq = sa.select(1)\n") == ["select"]
    assert sql_calls("from sqlalchemy.ext.asyncio import AsyncConnection\n") == []


def area_of(path: Path, service: str = "triage") -> str:
    """The area a module belongs to: its folder, or its name at the service's top level."""
    parts = path.relative_to(ROOT / "services" / service).with_suffix("").parts
    return parts[0]


def imported_areas(source: str, own_package: str, service: str = "triage") -> set[str]:
    """Areas of ``service`` a module imports, absolute or relative (``from ..desk import x``)."""
    prefix = f"services.{service}"
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = own_package.split(".")[: len(own_package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names = [module] if module != prefix else [f"{prefix}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found |= {n.split(".")[2] for n in names if n.startswith(f"{prefix}.")}
    return found


def layer_violations(area: str, imported: set[str], service: str = "triage") -> set[str]:
    """Areas imported against the declared order (an area may import only later layers)."""
    rank = {a: i for i, layer in enumerate(LAYERS[service]) for a in layer}
    composition = COMPOSITION[service]
    if area in composition:
        return set()
    return {
        other
        for other in imported - {area}
        if other not in composition and (other not in rank or rank[other] <= rank[area])
    }


LAYERED_MODULES = [
    (service, path)
    for service in LAYERS
    for path in sorted((ROOT / "services" / service).rglob("*.py"))
]


@pytest.mark.parametrize(
    ("service", "path"),
    LAYERED_MODULES,
    ids=lambda p: str(p.relative_to(ROOT)) if isinstance(p, Path) else p,
)
def test_areas_import_in_one_order(service: str, path: Path) -> None:
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    imported = imported_areas(path.read_text(encoding="utf-8"), package, service)
    assert layer_violations(area_of(path, service), imported, service) == set()


@pytest.mark.parametrize("service", LAYERS)
def test_every_area_is_declared(service: str) -> None:
    declared = {a for layer in LAYERS[service] for a in layer} | COMPOSITION[service]
    modules = (ROOT / "services" / service).rglob("*.py")
    assert {area_of(p, service) for p in modules} <= declared


def test_the_order_rule_catches_an_upward_import() -> None:
    # sla sits below desk: sla importing desk is refused, desk importing sla is fine.
    source = "from services.triage.desk import store\n"
    assert layer_violations("sla", imported_areas(source, "services.triage.sla")) == {"desk"}
    relative = "from ..desk.store import queue\n"
    assert layer_violations("sla", imported_areas(relative, "services.triage.sla")) == {"desk"}
    assert layer_violations("desk", {"sla", "access", "domain"}) == set()
    # Peers in one layer do not import each other.
    assert layer_violations("sla", {"privacy"}) == {"privacy"}


def test_the_inbox_order_rule_catches_an_upward_import() -> None:
    # ingest sits below delivery: ingest reading delivery's store is refused.
    source = "from services.inbox.delivery import store\n"
    imported = imported_areas(source, "services.inbox.ingest", "inbox")
    assert layer_violations("ingest", imported, "inbox") == {"delivery"}
    relative = "from ..channels.store import due\n"
    imported = imported_areas(relative, "services.inbox.connectors", "inbox")
    assert layer_violations("connectors", imported, "inbox") == {"channels"}
    assert layer_violations("delivery", {"channels", "ingest", "domain"}, "inbox") == set()
    assert layer_violations("delivery", {"webhooks"}, "inbox") == {"webhooks"}
    # A triage import is no inbox area (the services rule above refuses it).
    assert (
        imported_areas("from services.triage.desk import store\n", "services.inbox.x", "inbox")
        == set()
    )


def domain_imports(source: str) -> set[str]:
    """What a domain module imports outside the standard library, numpy and domain/."""
    allowed_roots = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    bad: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: only siblings inside domain/
                if node.level > 1:
                    bad.add("." * node.level + (node.module or ""))
                continue
            module = node.module or ""
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in allowed_roots:
                    bad.add(alias.name)
            continue
        else:
            continue
        if ".domain" in module and module.startswith("services."):
            continue
        if module.split(".")[0] not in allowed_roots:
            bad.add(module)
    return bad


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_imports_only_domain_stdlib_and_numpy(path: Path) -> None:
    assert domain_imports(path.read_text(encoding="utf-8")) == set()


def test_the_domain_rule_catches_a_service_import() -> None:
    assert domain_imports("from services.infra.http import json_response\n") == {
        "services.infra.http"
    }
    assert domain_imports("from ..desk import store\n") == {"..desk"}
    assert domain_imports("import pydantic\n") == {"pydantic"}
    assert domain_imports("from services.triage.domain.sla import Clock\nimport numpy\n") == set()


# --- Functions a reader can hold in their head --------------------------------------------

MAX_FUNCTION_LINES = 80


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Functions (methods and nested ones included) longer than ``limit`` lines, with their
    first line: a longer one is a list of steps waiting for names."""
    return [
        f"{node.name}:{node.lineno} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > limit
    ]


SERVICE_MODULES = sorted((ROOT / "services").rglob("*.py"))


@pytest.mark.parametrize("path", SERVICE_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_function_in_services_is_over_80_lines(path: Path) -> None:
    assert long_functions(path.read_text(encoding="utf-8")) == []


def test_the_length_rule_catches_a_long_function() -> None:
    long = "def long():\n" + "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(long) == ["long:1 (81 lines)"]
    method = "class C:\n" + textwrap.indent(long.replace("def long", "async def m"), "    ")
    assert long_functions(method) == ["m:2 (81 lines)"]
    assert long_functions(long.rsplit("    x", 1)[0]) == []
