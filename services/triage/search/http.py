"""``GET /v1/search``: an agent finds conversations by words, reference number or handle."""

from __future__ import annotations

from aiohttp import web

from services.infra.http import ENGINE_KEY, ProblemError, model_response
from services.triage.access.auth import authenticate
from services.triage.search.schemas import SearchOut
from services.triage.search.usecases import search

MAX_LIMIT = 50
MAX_QUERY = 200


def _refuse(name: str, detail: str) -> ProblemError:
    return ProblemError(
        422,
        "Invalid query",
        f"{name}: {detail}",
        errors=[{"pointer": f"/query/{name}", "detail": detail}],
    )


def _number(raw: str, name: str, high: int) -> int:
    # The length first: int() refuses over 4,300 digits (a 500, not the 422 it is).
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or not 1 <= int(raw) <= high:
        raise _refuse(name, f"expected an integer from 1 to {high}")
    return int(raw)


async def get_search(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    q = request.query.get("q", "").strip()
    if len(q) < 2:
        raise _refuse("q", "expected at least 2 characters to search for")
    if len(q) > MAX_QUERY or not q.isprintable():
        raise _refuse("q", f"expected at most {MAX_QUERY} printable characters")
    limit = _number(request.query.get("limit", "20"), "limit", MAX_LIMIT)
    raw_before = request.query.get("before")
    before = None if raw_before is None else _number(raw_before, "before", 2**63 - 1)
    async with request.app[ENGINE_KEY].connect() as conn:
        page = await search(conn, caller.workspace_id, q, before, limit)
    return model_response(SearchOut, page)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/search", get_search)
