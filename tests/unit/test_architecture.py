"""Import rules: the decisions stay pure, the shared package stays free of domain logic."""

from __future__ import annotations

import ast
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
