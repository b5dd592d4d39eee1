"""Every operation of both services is known to the security matrices."""

from __future__ import annotations

from tests.security import catalog


def test_every_operation_is_catalogued() -> None:
    assert catalog.missing_entries() == [], "\n".join(catalog.missing_entries())


def test_the_tables_name_only_real_operations() -> None:
    known = {catalog.key(op) for ops in catalog.SERVICES.values() for op in ops}
    stale = (set(catalog.ROLES) | set(catalog.PATH_IDS) | set(catalog.BODIES)) - known
    assert stale == set(), f"remove these from tests/security/catalog.py: {sorted(stale)}"
