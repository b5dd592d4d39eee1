"""Data-protection API (admins only): erase a person, export their data, set retention.

A person is named by a list of identities, one per platform account they use. Everything is
scoped to the caller's workspace: the same handle in another workspace is another
controller's data and is never touched. Audit entries name the request and the identities,
never the erased text.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.infra.http import ENGINE_KEY, ProblemError, model_response, read_model
from services.infra.platforms import Platform
from services.triage.access.auth import authorised
from services.triage.domain.privacy import Identity, normalise
from services.triage.privacy import store as privacy
from services.triage.privacy import usecases
from services.triage.privacy.schemas import ErasureOut, ErasuresOut, ExportOut, RetentionOut

RETENTION_DEFAULT_KEY = web.AppKey("retention_default_days", int)
ERASURE_COUNTER_KEY: web.AppKey[Any] = web.AppKey("count_erasure", object)
MAX_BODY = 64 * 1024


def _no_nul(value: str) -> str:
    """Postgres text cannot hold NUL: refuse it as bad input, not a server error."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


PlatformRef = Annotated[str, Field(max_length=200), AfterValidator(_no_nul)]


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    platform: Platform
    author_id: PlatformRef = ""
    handle: PlatformRef = ""


class PersonIn(BaseModel):
    """A person, as every platform account they use (the body of erasures and exports)."""

    model_config = ConfigDict(extra="forbid")
    identities: Annotated[list[IdentityIn], Field(min_length=1, max_length=50)]


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conversation_days: Annotated[int, Field(ge=1, le=36500)] | None


async def _person(request: web.Request) -> tuple[Any, tuple[Identity, ...]]:
    caller = await authorised(request, "admin")
    body = await read_model(request, PersonIn, MAX_BODY)
    for n, given in enumerate(body.identities):
        if not (given.author_id.strip() or given.handle.strip().lstrip("@")):
            pointer = f"/identities/{n}"
            raise ProblemError(
                422,
                "Invalid request",
                f"{pointer}: give the author_id, the handle, or both.",
                errors=[{"pointer": pointer, "detail": "author_id or handle is required"}],
            )
    return caller, normalise(Identity(i.platform, i.author_id, i.handle) for i in body.identities)


async def post_erasure(request: web.Request) -> web.Response:
    """Erase a person: triage's copy now, the inbox's through an event; 202 with progress.

    The same identities again while the request is pending answer that request (200).
    """
    caller, identities = await _person(request)
    async with request.app[ENGINE_KEY].begin() as conn:
        view, created = await usecases.request_erasure(conn, caller, identities, datetime.now(UTC))
    count: Callable[[str], None] | None = request.app.get(ERASURE_COUNTER_KEY)
    if created and count is not None:
        count("requested")
    return model_response(ErasureOut, view, status=202 if created else 200)


def _request_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["id"])
    except ValueError:
        raise ProblemError(404, "Not Found", "No such erasure request.") from None


async def get_erasure(request: web.Request) -> web.Response:
    caller = await authorised(request, "admin")
    request_id = _request_id(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        view = await privacy.get_request(conn, caller.workspace_id, request_id)
    if view is None:
        raise ProblemError(404, "Not Found", "No such erasure request.")
    return model_response(ErasureOut, view)


async def list_erasures(request: web.Request) -> web.Response:
    caller = await authorised(request, "admin")
    async with request.app[ENGINE_KEY].connect() as conn:
        items = await privacy.list_requests(conn, caller.workspace_id)
    return model_response(ErasuresOut, {"items": items})


async def post_export(request: web.Request) -> web.Response:
    """A person's data as JSON (a POST: identities stay out of URLs and access logs)."""
    caller, identities = await _person(request)
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].begin() as conn:
        data = await usecases.export_person(conn, caller, identities)
    return model_response(ExportOut, {"exported_at": now, **data})


async def get_retention(request: web.Request) -> web.Response:
    caller = await authorised(request, "admin")
    default = request.app.get(RETENTION_DEFAULT_KEY, 0)
    async with request.app[ENGINE_KEY].connect() as conn:
        view = await usecases.retention(conn, caller.workspace_id, default)
    return model_response(RetentionOut, view)


async def put_retention(request: web.Request) -> web.Response:
    """Set how long idle conversations are kept (null: forever), for this workspace."""
    caller = await authorised(request, "admin")
    body = await read_model(request, RetentionIn, 4096)
    default = request.app.get(RETENTION_DEFAULT_KEY, 0)
    async with request.app[ENGINE_KEY].begin() as conn:
        view = await usecases.set_retention(conn, caller, body.conversation_days, default)
    return model_response(RetentionOut, view)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/privacy/erasures", post_erasure)
    app.router.add_get("/v1/privacy/erasures", list_erasures)
    app.router.add_get("/v1/privacy/erasures/{id}", get_erasure)
    app.router.add_post("/v1/privacy/exports", post_export)
    app.router.add_get("/v1/privacy/retention", get_retention)
    app.router.add_put("/v1/privacy/retention", put_retention)
