"""SLA API: policies (leads and admins change them). A conversation's clocks are served by
the desk (``GET /v1/conversations/{id}/sla``), which knows whether the conversation exists."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from aiohttp import web

from services.infra.http import ENGINE_KEY, Out, ProblemError, model_response
from services.triage.access.auth import authenticate
from services.triage.domain.conversation import Priority
from services.triage.domain.sla import ClockKind, ClockState
from services.triage.sla.policy import PolicyError, PolicyOut, parse_policy, policy_document
from services.triage.sla.policy_cache import POLICY_CACHE_KEY
from services.triage.sla.store import load_policies
from services.triage.sla.usecases import change_policy

EDITORS = ("lead", "admin")
MAX_POLICY_BYTES = 256 * 1024


class ClockChangeOut(Out):
    at: datetime
    change: str
    state: str


class ClockOut(Out):
    """One SLA clock of a conversation (``usecases.conversation_clocks``)."""

    id: int
    kind: ClockKind
    priority: Priority
    target_seconds: int
    started_at: datetime
    state: ClockState
    due_at: datetime | None
    time_left_seconds: int  # business seconds to the target; negative once breached
    paused_since: datetime | None
    stopped_at: datetime | None
    history: list[ClockChangeOut]


async def get_policy(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        policy = (await load_policies(conn, [caller.workspace_id]))[caller.workspace_id]
    return model_response(PolicyOut, policy_document(policy))


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
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].begin() as conn:
        stored = await change_policy(conn, caller.workspace_id, caller.user_id, policy, now)
    request.app[POLICY_CACHE_KEY].forget(caller.workspace_id)
    return model_response(PolicyOut, stored)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/sla/policies", get_policy)
    app.router.add_put("/v1/sla/policies", put_policy)
