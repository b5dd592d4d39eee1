"""Every role, and every wrong credential, against every operation of both services."""

from __future__ import annotations

from tests.security import catalog
from tests.security.conftest import Worlds, call
from tests.security.world import snapshot
from tests.support.world import bearer


async def test_every_credential_against_every_operation(worlds: Worlds, database_url: str) -> None:
    a = worlds.a
    refused = {
        "no credentials": {},
        "malformed header": {"Authorization": "Basic Zm9vOmJhcg=="},
        "revoked agent token": bearer(a.revoked),
        "revoked ingest token": bearer(a.revoked_ingest),
        "unknown token": bearer("eca_" + "x" * 43),
    }
    wrong_kind = {"inbox": bearer(a.agent), "triage": bearer(a.ingest)}
    table: list[tuple[str, str, int]] = []
    before = await snapshot(database_url, a.id)
    # First every refusal (they must change nothing), then the roles that may act.
    for service, operations in catalog.SERVICES.items():
        client = worlds.client(service)
        for op in operations:
            if op.auth is None or catalog.key(op) in catalog.OWN_CREDENTIALS:
                continue
            label = f"{service} {op.method} {op.path}"
            for name, headers in {**refused, "other service's token": wrong_kind[service]}.items():
                status, body = await call(client, op, a, headers)
                assert status == 401, (label, name, status, body)
                table.append((label, name, status))
            if op.auth == "bearer":
                needed = catalog.RANK[catalog.ROLES[catalog.key(op)]]
                for role, rank in catalog.RANK.items():
                    if rank < needed:
                        status, body = await call(client, op, a, bearer(a.token(role)))
                        assert status == 403, (label, role, status, body)
                        table.append((label, role, status))
            # An inbox token of another scope: a producer's ingest token connects no channel.
            for scope in set(catalog.INBOX_SCOPES) - {op.auth}:
                if op.auth in catalog.INBOX_SCOPES:
                    status, body = await call(client, op, a, bearer(a.inbox_token(scope)))
                    assert status == 403, (label, scope, status, body)
                    table.append((label, f"{scope} token", status))
    assert await snapshot(database_url, a.id) == before, "a refused call changed something"

    firsts = {}
    for service, operations in catalog.SERVICES.items():
        client = worlds.client(service)
        for op in operations:
            label = f"{service} {op.method} {op.path}"
            if op.auth is None and catalog.key(op) not in catalog.OWN_CREDENTIALS:
                status, body = await call(client, op, a, {})
                assert status == 200, (label, status, body)
            elif op.auth in catalog.INBOX_SCOPES:
                status, body = await call(client, op, a, bearer(a.inbox_token(str(op.auth))))
                assert status in range(200, 300), (label, status, body)
            elif op.auth == "bearer":
                needed = catalog.RANK[catalog.ROLES[catalog.key(op)]]
                for role, rank in catalog.RANK.items():
                    if rank >= needed:
                        status, body = await call(client, op, a, bearer(a.token(role)))
                        assert status not in (401, 403) and status < 500, (label, role, body)
                        table.append((label, role, status))
                        firsts.setdefault(catalog.key(op), (status, body))
    for k, expected in catalog.FIRST_ANSWER.items():
        assert firsts[k][0] == expected, (k, firsts[k])
    assert len(table) >= 6 * 25
