"""HTTP plumbing shared by both services: problem+json errors, request ids, probes, bodies.

A client error is a 4xx ``application/problem+json`` body that names what is wrong; an error
the client cannot fix is a 5xx with a request id that the log line also carries.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, with_config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from typing_extensions import TypedDict

from services.infra.db import describe_error, is_unavailable

log = logging.getLogger("ecoute.http")

PROBLEM_TYPE = "application/problem+json"
REQUEST_ID_KEY = web.RequestKey("request_id", str)
ENGINE_KEY = web.AppKey("engine", AsyncEngine)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ProblemError(Exception):
    """Raised by handlers for an error the client can fix (or must wait out)."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra


def invalid_query(name: str, detail: str) -> ProblemError:
    """A 422 that names the query parameter to fix."""
    return ProblemError(
        422,
        "Invalid query",
        f"{name}: {detail}",
        errors=[{"pointer": f"/query/{name}", "detail": detail}],
    )


def query_integer(raw: str, name: str, high: int) -> int:
    """A query parameter's integer from 1 to ``high``, else a 422 naming it."""
    # The length first: int() refuses over 4,300 digits (a 500, not the 422 it is).
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or not 1 <= int(raw) <= high:
        raise invalid_query(name, f"expected an integer from 1 to {high}")
    return int(raw)


def problem_response(status: int, title: str, detail: str = "", **extra: Any) -> web.Response:
    """An RFC 9457 problem document."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    headers = {"Content-Type": PROBLEM_TYPE}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="ecoute"'
    if status == 503:
        headers["Retry-After"] = "2"
    if status == 429 and "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return web.Response(status=status, body=orjson.dumps(body), headers=headers)


def _default(value: Any) -> Any:
    """What orjson does not know natively: asyncpg's UUID subclass."""
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_response(data: Any, status: int = 200) -> web.Response:
    """JSON answer serialised with orjson (datetimes as RFC 3339, UUIDs as strings)."""
    return web.Response(
        status=status,
        body=orjson.dumps(data, default=_default, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC),
        content_type="application/json",
    )


Model = TypeVar("Model", bound=BaseModel)


@with_config(ConfigDict(extra="forbid"))
class Out(TypedDict):
    """The base of every answer's shape: a TypedDict pydantic checks, holding exactly the
    fields it declares (a view with one more fails validation, in the tests, rather than going
    out undocumented). A TypedDict rather than a BaseModel: the stores' views are dicts, and
    checking one hands back a dict orjson writes as before, at about half a model's cost."""


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(shape: type[Any]) -> TypeAdapter[Any]:
    """``shape``'s validator, built on its first answer (building one takes milliseconds)."""
    adapter = _ADAPTERS.get(shape)
    if adapter is None:
        adapter = _ADAPTERS[shape] = TypeAdapter(shape)
    return adapter


def model_response(shape: type[Any], data: Any, status: int = 200) -> web.Response:
    """``data`` checked against ``shape`` (an ``Out``: the schema the OpenAPI document declares
    for this answer) and serialised like ``json_response``."""
    return json_response(_adapter(shape).validate_python(data), status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id on every answer; problems as problem+json; database outages as 503."""
    request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
    request[REQUEST_ID_KEY] = request_id
    try:
        response = await handler(request)
    except ProblemError as exc:
        response = problem_response(exc.status, exc.title, exc.detail, **exc.extra)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = problem_response(exc.status, exc.reason)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if is_unavailable(exc):
            log.warning(
                "database unavailable",
                extra={
                    "request_id": request_id,
                    "error_type": type(exc).__name__,
                    **describe_error(exc),
                },
            )
            response = problem_response(
                503,
                "Service Unavailable",
                "The database cannot be reached; retry shortly.",
                request_id=request_id,
            )
        else:
            # A database error says its SQLSTATE and the server's message, as the workers'
            # logs do; never the statement's parameters (the engine hides them too).
            log.exception(
                "unhandled error",
                extra={
                    "request_id": request_id,
                    "route": request.path.split("?")[0][:200],
                    **describe_error(exc),
                },
            )
            response = problem_response(
                500,
                "Internal Server Error",
                "Quote the request id when reporting this.",
                request_id=request_id,
            )
    response.headers["X-Request-Id"] = request_id
    return response


SECURITY_HEADERS = {
    # The desk's pages load only their own scripts and styles, and may not be framed.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Headers every answer carries (a meta tag cannot set frame-ancestors)."""
    response = await handler(request)
    if not response.prepared:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The whole body, refusing (413) anything over ``max_bytes`` without reading it all."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise ProblemError(
            413, "Payload Too Large", f"The body is {declared} bytes; the limit is {max_bytes}."
        )
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(65536)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise ProblemError(413, "Payload Too Large", f"The body exceeds {max_bytes} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def path_id(request: web.Request, what: str, name: str = "id") -> int:
    """A row id from the path: a positive integer that fits a bigint, else 404 "No such …"
    (an id that cannot exist is as absent as one that does not)."""
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ProblemError(404, "Not Found", f"No such {what}.")
    return int(raw)


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Each problem pydantic found, as {pointer, detail} (RFC 6901 pointer, never the input)."""
    return [
        {"pointer": "/" + "/".join(str(p) for p in e["loc"]), "detail": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


def validated(model: type[Model], body: bytes, title: str = "Invalid request") -> Model:
    """``body`` as ``model``, or a 422 whose ``errors`` name each wrong field by JSON pointer."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = field_errors(exc)
        raise ProblemError(
            422, title, errors[0]["pointer"] + ": " + errors[0]["detail"], errors=errors
        ) from None


async def read_model(
    request: web.Request, model: type[Model], max_bytes: int, title: str = "Invalid request"
) -> Model:
    """The request's JSON body as ``model``: 413 when too large, 422 when it does not fit."""
    return validated(model, await read_body(request, max_bytes), title)


class Readiness:
    """Answers "can this process reach its database?", cached so probes stay cheap."""

    def __init__(self, cache_seconds: float) -> None:
        self.cache_seconds = cache_seconds
        self._checked_at = -1e9
        self._ready = False
        self._lock = asyncio.Lock()

    async def ready(self, engine: AsyncEngine) -> bool:
        async with self._lock:
            now = time.monotonic()
            if now - self._checked_at >= self.cache_seconds:
                self._ready = await self._probe(engine)
                self._checked_at = now
            return self._ready

    @staticmethod
    async def _probe(engine: AsyncEngine) -> bool:
        try:
            async with asyncio.timeout(3):
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False


READINESS_KEY = web.AppKey("readiness", Readiness)


class AliveOut(Out):
    status: Literal["alive"]


class ReadyOut(Out):
    status: Literal["ready"]
    database: Literal["ok"]


async def livez(request: web.Request) -> web.Response:
    """Alive if the event loop answers; never touches the database."""
    return model_response(AliveOut, {"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when the database answers (cached a few seconds)."""
    if await request.app[READINESS_KEY].ready(request.app[ENGINE_KEY]):
        return model_response(ReadyOut, {"status": "ready", "database": "ok"})
    return problem_response(
        503, "Not Ready", "The database cannot be reached.", database="unreachable"
    )


def add_probes(app: web.Application, cache_seconds: float) -> None:
    """``/livez`` and ``/readyz`` for Kubernetes; the app must hold ``ENGINE_KEY``."""
    app[READINESS_KEY] = Readiness(cache_seconds)
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
