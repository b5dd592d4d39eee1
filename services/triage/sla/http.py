"""SLA API: policies (leads and admins change them) and a conversation's clocks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.http import ENGINE_KEY, ProblemError, json_response, path_id
from services.triage.access.auth import authenticate
from services.triage.desk.http_queue import POLICY_CACHE_KEY
from services.triage.desk.store import conversation_exists
from services.triage.domain.sla import Policy, due_at, retarget, state, time_left
from services.triage.sla.clocks import clock_of_row, load_policies, lock_running
from services.triage.sla.clocks import save as save_clocks
from services.triage.sla.policy import PolicyError, parse_policy, policy_document

EDITORS = ("lead", "admin")
MAX_POLICY_BYTES = 256 * 1024


async def get_policy(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        policy = (await load_policies(conn, [caller.workspace_id]))[caller.workspace_id]
    return json_response(policy_document(policy))


async def put_policy(request: web.Request) -> web.Response:
    """Replace the policy; running clocks follow the new targets and hours at once."""
    caller = await authenticate(request)
    if caller.role not in EDITORS:
        raise ProblemError(403, "Forbidden", "Only leads and admins change SLA policies.")
    body = await request.content.read(MAX_POLICY_BYTES + 1)
    if len(body) > MAX_POLICY_BYTES:
        raise ProblemError(413, "Payload Too Large", "An SLA policy is at most 256 KiB.")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ProblemError(400, "Malformed JSON", str(exc)) from None
    try:
        policy = parse_policy(document)
    except PolicyError as exc:
        first = exc.errors[0]
        raise ProblemError(
            422, "Invalid SLA policy", f"{first['pointer']}: {first['detail']}", errors=exc.errors
        ) from None
    stored = policy_document(policy)
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].begin() as conn:
        await conn.execute(
            text(
                """
            INSERT INTO triage.sla_policies (workspace_id, policy, updated_by)
            VALUES (:ws, CAST(:policy AS jsonb), :user)
            ON CONFLICT (workspace_id) DO UPDATE
            SET policy = EXCLUDED.policy, updated_by = EXCLUDED.updated_by, updated_at = now()
            """
            ),
            {
                "ws": caller.workspace_id,
                "policy": orjson.dumps(stored).decode(),
                "user": caller.user_id,
            },
        )
        await _follow_policy(conn, caller.workspace_id, policy, now)
    request.app[POLICY_CACHE_KEY].forget(caller.workspace_id)
    return json_response(stored)


async def _follow_policy(
    conn: AsyncConnection, workspace_id: uuid.UUID, policy: Policy, now: datetime
) -> None:
    """Running clocks take the new targets (same start) and hours."""
    keys = [
        (workspace_id, r.conversation_id)
        for r in (
            await conn.execute(
                text(
                    "SELECT DISTINCT conversation_id FROM triage.sla_clocks "
                    "WHERE workspace_id = :ws AND stopped_at IS NULL"
                ),
                {"ws": workspace_id},
            )
        ).all()
    ]
    if not keys:
        return
    stored = await lock_running(conn, keys)
    after = {
        k: {kind: retarget(s.clock, s.clock.priority, policy) for kind, s in v.items()}
        for k, v in stored.items()
    }
    await save_clocks(conn, stored, after, {workspace_id: policy}, now)


async def get_conversation_sla(request: web.Request) -> web.Response:
    """Every clock of a conversation, current state and history."""
    caller = await authenticate(request)
    conversation_id = path_id(request, "conversation")
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].connect() as conn:
        if not await conversation_exists(conn, caller.workspace_id, conversation_id):
            raise ProblemError(404, "Not Found", "No such conversation.")
        policy = (await load_policies(conn, [caller.workspace_id]))[caller.workspace_id]
        rows = (
            await conn.execute(
                text(
                    "SELECT * FROM triage.sla_clocks WHERE workspace_id = :ws "
                    "AND conversation_id = :id ORDER BY id"
                ),
                {"ws": caller.workspace_id, "id": conversation_id},
            )
        ).all()
        history = (
            await conn.execute(
                text(
                    "SELECT clock_id, at, change, state FROM triage.sla_clock_log "
                    "WHERE workspace_id = :ws AND clock_id = ANY(CAST(:ids AS bigint[])) "
                    "ORDER BY at, id"
                ),
                {"ws": caller.workspace_id, "ids": [r.id for r in rows]},
            )
        ).all()
    clocks = []
    for r in rows:
        clock = clock_of_row(r)
        clocks.append(
            {
                "id": r.id,
                "kind": r.kind,
                "priority": f"P{r.priority}",
                "target_seconds": r.target_seconds,
                "started_at": r.started_at,
                "state": state(clock, policy.calendar, policy.at_risk_ratio, now),
                "due_at": due_at(clock, policy.calendar),
                "time_left_seconds": round(time_left(clock, policy.calendar, now)),
                "paused_since": r.paused_since,
                "stopped_at": r.stopped_at,
                "history": [
                    {"at": h.at, "change": h.change, "state": h.state}
                    for h in history
                    if h.clock_id == r.id
                ],
            }
        )
    return json_response({"conversation_id": conversation_id, "clocks": clocks})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/sla/policies", get_policy)
    app.router.add_put("/v1/sla/policies", put_policy)
    app.router.add_get("/v1/conversations/{id}/sla", get_conversation_sla)
