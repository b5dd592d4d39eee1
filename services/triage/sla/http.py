"""SLA API: policies (leads and admins change them), a conversation's clocks, status actions."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.http import ENGINE_KEY, ProblemError, json_response, read_model
from services.triage.access.http import authenticate
from services.triage.desk import store as desk
from services.triage.desk.http_queue import POLICY_CACHE_KEY
from services.triage.desk.status import (
    ACTIONS,
    ActionRefused,
    change_status,
    conversation_exists,
)
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


def _conversation_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ProblemError(404, "Not Found", "No such conversation.")
    return int(raw)


async def get_conversation_sla(request: web.Request) -> web.Response:
    """Every clock of a conversation, current state and history."""
    caller = await authenticate(request)
    conversation_id = _conversation_id(request)
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


def status_action(action: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        caller = await authenticate(request)
        conversation_id = _conversation_id(request)
        counters = request.app.get(CLOCK_STOP_KEY)
        async with request.app[ENGINE_KEY].begin() as conn:
            if not await conversation_exists(conn, caller.workspace_id, conversation_id):
                raise ProblemError(404, "Not Found", "No such conversation.")
            found = await desk.holder(conn, caller.workspace_id, conversation_id, datetime.now(UTC))
            held_by = found[1] if found else None
            if held_by not in (None, caller.user_id) and caller.role == "agent":
                raise ProblemError(409, "Conflict", "Another agent holds this conversation.")
            try:
                status = await change_status(
                    conn, caller.workspace_id, conversation_id, action, datetime.now(UTC), counters
                )
            except ActionRefused as exc:
                raise ProblemError(409, "Conflict", str(exc)) from None
        return json_response({"conversation_id": conversation_id, "status": status})

    handler.__name__ = f"{action}_conversation"
    return handler


CLOCK_STOP_KEY: web.AppKey[Any] = web.AppKey("clock_stop", object)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/sla/policies", get_policy)
    app.router.add_put("/v1/sla/policies", put_policy)
    app.router.add_get("/v1/conversations/{id}/sla", get_conversation_sla)
    for action in ACTIONS:
        app.router.add_post(f"/v1/conversations/{{id}}/{action}", status_action(action))
    app.router.add_put("/v1/webhooks", put_webhook)
    app.router.add_get("/v1/webhooks", get_webhook)


MAX_URL = 2048


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[
        str, Field(min_length=8, max_length=MAX_URL, pattern=r"^https?://[^\s/\x00]+[^\x00]*$")
    ]


async def put_webhook(request: web.Request) -> web.Response:
    """Set the breach webhook; the signing secret is shown once, in this answer."""
    caller = await authenticate(request)
    if caller.role not in EDITORS:
        raise ProblemError(403, "Forbidden", "Only leads and admins set webhooks.")
    url = (await read_model(request, WebhookIn, 8192, "Invalid webhook")).url
    try:
        host = urlsplit(url).hostname
    except ValueError:  # an unclosed "[" reads as a broken IPv6 literal
        host = None
    if not host:
        raise ProblemError(
            422,
            "Invalid webhook",
            "The URL has no valid host.",
            errors=[{"pointer": "/url", "detail": "no valid host"}],
        )
    secret = secrets.token_urlsafe(32)
    async with request.app[ENGINE_KEY].begin() as conn:
        await conn.execute(
            text(
                """
            INSERT INTO triage.webhooks (workspace_id, url, secret) VALUES (:ws, :url, :secret)
            ON CONFLICT (workspace_id) DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret
            """
            ),
            {"ws": caller.workspace_id, "url": url, "secret": secret},
        )
    return json_response({"url": url, "secret": secret, "events": ["sla.breached"]})


async def get_webhook(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        row = (
            await conn.execute(
                text("SELECT url FROM triage.webhooks WHERE workspace_id = :ws"),
                {"ws": caller.workspace_id},
            )
        ).first()
    if row is None:
        raise ProblemError(404, "Not Found", "No webhook is set.")
    return json_response({"url": row.url, "events": ["sla.breached"]})
