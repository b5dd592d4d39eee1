"""The incidents API: agents read incidents; leads and admins write the status note, merge,
split, close and reopen them.

Another workspace's incident is a 404, like one that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, get_args

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.http import ENGINE_KEY, ProblemError, model_response, path_id, read_model
from services.infra.strings import NO_NUL
from services.triage.access.accounts import Caller
from services.triage.access.auth import authenticate, authorised
from services.triage.domain.conversation import MAX_REPLY
from services.triage.domain.incident_desk import Refusal
from services.triage.incidents import actions, store
from services.triage.incidents.schemas import (
    IncidentKind,
    IncidentOut,
    IncidentsOut,
    IncidentStatus,
)

MAX_LIMIT = 200
MAX_SPLIT = 500
STATUSES: tuple[str, ...] = get_args(IncidentStatus)
KINDS: tuple[str, ...] = get_args(IncidentKind)
WRITERS = ("lead", "admin")


class IncidentNoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(max_length=MAX_REPLY, pattern=NO_NUL)]


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    incident_id: Annotated[int, Field(ge=1, lt=2**63)]


class SplitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conversation_ids: Annotated[
        list[Annotated[int, Field(ge=1, lt=2**63)]], Field(max_length=MAX_SPLIT)
    ]
    label: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)] | None = None


def incident_id(request: web.Request) -> int:
    return path_id(request, "incident")


def _refused(refusal: Refusal) -> ProblemError:
    title = "Conflict" if refusal.status == 409 else "Invalid request"
    extra: dict[str, Any] = {}
    if refusal.pointer:
        extra["errors"] = [{"pointer": refusal.pointer, "detail": refusal.detail}]
    return ProblemError(refusal.status, title, refusal.detail, **extra)


def _list_query(request: web.Request) -> tuple[str | None, str | None, int]:
    query = request.query
    errors = []
    if "status" in query and query["status"] not in STATUSES:
        errors.append({"pointer": "/query/status", "detail": "expected open or closed"})
    if "kind" in query and query["kind"] not in KINDS:
        errors.append({"pointer": "/query/kind", "detail": "expected customer or moderation"})
    raw = query.get("limit", "50")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or not 1 <= int(raw) <= MAX_LIMIT:
        errors.append({"pointer": "/query/limit", "detail": f"expected 1..{MAX_LIMIT}"})
    errors += [
        {"pointer": f"/query/{name}", "detail": "unknown parameter"}
        for name in set(query) - {"status", "kind", "limit"}
    ]
    if errors:
        raise ProblemError(
            422, "Invalid query", f"{errors[0]['pointer']}: {errors[0]['detail']}", errors=errors
        )
    return query.get("status"), query.get("kind"), int(raw)


async def get_incidents(request: web.Request) -> web.Response:
    status, kind, limit = _list_query(request)
    caller = await authenticate(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        items = await store.list_incidents(conn, caller.workspace_id, status, kind, limit)
    return model_response(IncidentsOut, {"items": items, "count": len(items)})


async def _view(conn: AsyncConnection, workspace_id: uuid.UUID, iid: int) -> dict[str, Any]:
    view = await store.incident_view(conn, workspace_id, iid, datetime.now(UTC))
    if view is None:
        raise ProblemError(404, "Not Found", "No such incident.")
    return view


async def get_incident(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    iid = incident_id(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        view = await _view(conn, caller.workspace_id, iid)
    return model_response(IncidentOut, view)


async def _change(
    request: web.Request, body_model: type[BaseModel] | None
) -> tuple[Caller, int, Any]:
    """Who may change which incident, with what: 401/403/404/422 before anything is written."""
    caller = await authorised(request, *WRITERS)
    iid = incident_id(request)
    body = None
    if body_model is not None:
        body = await read_model(request, body_model, 4 * MAX_REPLY + 1024)
    return caller, iid, body


Work = Callable[[AsyncConnection, datetime], Awaitable[int | None]]


async def _run(
    request: web.Request, caller: Caller, iid: int, work: Work, status: int = 200
) -> web.Response:
    """Run one change in one transaction and answer with the incident it produced."""
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].begin() as conn:
        try:
            shown = await work(conn, now)
        except actions.IncidentMissing as missing:
            if missing.incident_id == iid:
                raise ProblemError(404, "Not Found", "No such incident.") from None
            raise ProblemError(
                422,
                "Invalid request",
                "/incident_id: no such incident.",
                errors=[{"pointer": "/incident_id", "detail": "not found"}],
            ) from None
        except actions.IncidentRefused as refused:
            raise _refused(refused.refusal) from None
        view = await _view(conn, caller.workspace_id, shown or iid)
    response = model_response(IncidentOut, view, status=status)
    if status == 201:
        response.headers["Location"] = f"/v1/incidents/{view['id']}"
    return response


async def put_note(request: web.Request) -> web.Response:
    """The status note agents can start their replies from (each reply is still edited for
    its person)."""
    caller, iid, body = await _change(request, IncidentNoteIn)
    note = body.text.strip()

    async def work(conn: AsyncConnection, now: datetime) -> None:
        await actions.write_note(conn, caller.workspace_id, iid, note, caller.user_id, now)

    return await _run(request, caller, iid, work)


async def post_merge(request: web.Request) -> web.Response:
    """Merge the incident named in the body into this one."""
    caller, iid, body = await _change(request, MergeIn)

    async def work(conn: AsyncConnection, now: datetime) -> None:
        await actions.merge(conn, caller.workspace_id, iid, body.incident_id, caller.user_id, now)

    return await _run(request, caller, iid, work)


async def post_split(request: web.Request) -> web.Response:
    """Move the chosen conversations to a new incident; answers with the new incident."""
    caller, iid, body = await _change(request, SplitIn)
    label = body.label.strip() if body.label else None
    if body.label is not None and not label:
        raise ProblemError(
            422,
            "Invalid request",
            "/label: a label needs words.",
            errors=[{"pointer": "/label", "detail": "must not be blank"}],
        )

    async def work(conn: AsyncConnection, now: datetime) -> int:
        return await actions.split(
            conn, caller.workspace_id, iid, body.conversation_ids, label, caller.user_id, now
        )

    return await _run(request, caller, iid, work, status=201)


async def post_close(request: web.Request) -> web.Response:
    """Close by hand; the incident's conversations stay open until each is answered."""
    caller, iid, _ = await _change(request, None)

    async def work(conn: AsyncConnection, now: datetime) -> None:
        await actions.close(conn, caller.workspace_id, iid, caller.user_id, now)

    return await _run(request, caller, iid, work)


async def post_reopen(request: web.Request) -> web.Response:
    caller, iid, _ = await _change(request, None)

    async def work(conn: AsyncConnection, now: datetime) -> None:
        await actions.reopen(conn, caller.workspace_id, iid, caller.user_id, now)

    return await _run(request, caller, iid, work)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/incidents", get_incidents)
    app.router.add_get("/v1/incidents/{id}", get_incident)
    app.router.add_put("/v1/incidents/{id}/note", put_note)
    app.router.add_post("/v1/incidents/{id}/merge", post_merge)
    app.router.add_post("/v1/incidents/{id}/split", post_split)
    app.router.add_post("/v1/incidents/{id}/close", post_close)
    app.router.add_post("/v1/incidents/{id}/reopen", post_reopen)
