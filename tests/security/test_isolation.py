"""Another workspace's ids answer 404 with none of its data, and change nothing of it.

The attacker is an admin of workspace B (and B's inbox tokens: ingest, channels) calling every
operation of both services with workspace A's ids — and A's credentials reference — in the path
and in the body.
"""

from __future__ import annotations

import json

from tests.security import catalog
from tests.security.conftest import Worlds, call
from tests.security.world import snapshot
from tests.support.world import bearer

OWNED = (
    "triage.workspaces",
    "triage.two_factor",
    "triage.recovery_codes",
    "triage.pending_logins",
    "triage.sessions",
    "triage.erasure_requests",
    "triage.retention_settings",
    "triage.incidents",
    "triage.tags",
    "triage.conversation_tags",
    "triage.rules",
    "triage.incident_members",
    "triage.incident_signals",
    "triage.incident_history",
    "triage.account_links",
    "triage.person_links",
    "triage.person_notes",
)
"""Tables of the two-factor, session, privacy, incident and team routes, which populate must
have filled."""


async def test_every_operation_with_another_workspaces_ids(
    worlds: Worlds, database_url: str
) -> None:
    a, b = worlds.a, worlds.b
    before = await snapshot(database_url, a.id)
    unfilled = [t for t in OWNED if not before.get(t)]
    assert unfilled == [], f"A owns nothing in {unfilled}: the snapshot would prove nothing there"
    checked = []
    for service, operations in catalog.SERVICES.items():
        for op in operations:
            scoped = op.auth in catalog.INBOX_SCOPES
            credentials = b.inbox_token(str(op.auth)) if scoped else b.admin
            status, body = await call(worlds.client(service), op, a, bearer(credentials))
            label = f"{service} {op.method} {op.path}"
            assert status < 500, (label, status, body)
            if "{" in op.path:
                expected = catalog.PATH_IDS[catalog.key(op)].foreign_status
                assert status == expected, (label, status, body)
            # What the caller sent may come back (an export names whom it was asked for).
            asked = json.dumps(catalog.body(op, a))
            leaked = [m for m in a.markers if m in body and m not in asked]
            assert leaked == [], f"{label} answered with workspace A's data: {leaked}"
            checked.append(label)
    assert len(checked) == sum(len(ops) for ops in catalog.SERVICES.values())
    assert await snapshot(database_url, a.id) == before, "workspace A changed"


async def test_a_workspaces_own_ids_do_work(worlds: Worlds) -> None:
    """The matrix above could fail: the same calls with A's own admin reach A's objects."""
    a = worlds.a
    found = await worlds.triage.get(f"/v1/conversations/{a.conversation}", headers=bearer(a.admin))
    assert found.status == 200
    assert a.name in await found.text()
    incident = await worlds.triage.get(f"/v1/incidents/{a.incident}", headers=bearer(a.admin))
    assert incident.status == 200
    view = await incident.json()
    assert a.split_conversation in {c["conversation_id"] for c in view["conversations"]}
    assert any(m in s["text"] for s in view["samples"] for m in a.markers), "A's own words"


async def test_queue_filters_by_another_workspaces_incident_or_tag_find_nothing(
    worlds: Worlds,
) -> None:
    """The queue reads an incident's or a tag's conversations first (by key): another
    workspace's incident or tag id lists none of them, where A's own admin sees them."""
    a, b = worlds.a, worlds.b
    for query in (f"incident={a.incident}", f"tag={a.tag}"):
        theirs = await worlds.triage.get(f"/v1/queue?{query}", headers=bearer(b.admin))
        assert theirs.status == 200, await theirs.text()
        assert (await theirs.json())["items"] == [], query
        own = await worlds.triage.get(f"/v1/queue?{query}", headers=bearer(a.admin))
        assert (await own.json())["items"], f"A's own {query} lists nothing: no proof"
