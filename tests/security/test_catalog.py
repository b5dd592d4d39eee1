"""Every operation of both services is known to the security matrices."""

from __future__ import annotations

from tests.security import catalog


def test_every_operation_is_catalogued() -> None:
    assert catalog.missing_entries() == [], "\n".join(catalog.missing_entries())


def test_the_tables_name_only_real_operations() -> None:
    known = {catalog.key(op) for ops in catalog.SERVICES.values() for op in ops}
    stale = (set(catalog.ROLES) | set(catalog.PATH_IDS) | set(catalog.BODIES)) - known
    assert stale == set(), f"remove these from tests/security/catalog.py: {sorted(stale)}"


def test_an_incident_is_reopened_right_after_it_is_closed() -> None:
    """The order PATH_IDS relies on: nothing runs on the closed incident in between, and the
    note, merge and split act on it while it is open."""
    triage = [catalog.key(op) for op in catalog.SERVICES["triage"]]
    at = {k: i for i, k in enumerate(triage)}
    close = at[("POST", "/v1/incidents/{id}/close")]
    assert at[("POST", "/v1/incidents/{id}/reopen")] == close + 1
    for change in ("note", "merge", "split"):
        method = "PUT" if change == "note" else "POST"
        assert at[(method, f"/v1/incidents/{{id}}/{change}")] < close


def test_a_user_is_reactivated_after_being_deactivated() -> None:
    """The order FIRST_ANSWER relies on: the spare user is deactivated, then reactivated, then
    sent a password link (refused while deactivated)."""
    triage = [catalog.key(op) for op in catalog.SERVICES["triage"]]
    at = {k: i for i, k in enumerate(triage)}
    deactivate = at[("POST", "/v1/users/{id}/deactivate")]
    assert at[("POST", "/v1/users/{id}/reactivate")] == deactivate + 1
    assert at[("POST", "/v1/users/{id}/password-link")] > deactivate + 1
    assert at[("POST", "/v1/invitations")] < at[("DELETE", "/v1/invitations/{id}")]
