"""``GET /v1/search``: an agent finds conversations by words, reference number or handle."""

from __future__ import annotations

from aiohttp import web

from services.infra.http import ENGINE_KEY, invalid_query, model_response, query_integer
from services.triage.access.auth import authenticate
from services.triage.search.schemas import SearchOut
from services.triage.search.usecases import search

MAX_LIMIT = 50
MAX_QUERY = 200


async def get_search(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    q = request.query.get("q", "").strip()
    if len(q) < 2:
        raise invalid_query("q", "expected at least 2 characters to search for")
    if len(q) > MAX_QUERY or not q.isprintable():
        raise invalid_query("q", f"expected at most {MAX_QUERY} printable characters")
    limit = query_integer(request.query.get("limit", "20"), "limit", MAX_LIMIT)
    raw_before = request.query.get("before")
    before = None if raw_before is None else query_integer(raw_before, "before", 2**63 - 1)
    async with request.app[ENGINE_KEY].connect() as conn:
        page = await search(conn, caller.workspace_id, q, before, limit)
    return model_response(SearchOut, page)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/search", get_search)
