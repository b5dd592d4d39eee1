"""The agents' API: ``GET /v1/queue``, and the values of its closed-set filters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from services.infra.db import autocommit
from services.infra.http import ENGINE_KEY, ProblemError, model_response
from services.infra.platforms import PLATFORMS
from services.triage.access.auth import authenticate
from services.triage.desk.schemas import QueueOut, VocabularyOut
from services.triage.desk.store import QUEUE_PAGE_MAX, queue
from services.triage.domain.conversation import PRIORITIES
from services.triage.domain.model import INTENTS
from services.triage.domain.sla import SLA_STATES
from services.triage.sla.policy_cache import cached_policy

MAX_LIMIT = QUEUE_PAGE_MAX  # the page the statement's kept plan is made for
MAX_CHANNEL = 100  # a channel's name (the workspace's key for a connected account)


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "50")
    # The length first: int() refuses over 4,300 digits (a 500, not the 422 it is).
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or not 1 <= int(raw) <= MAX_LIMIT:
        raise ProblemError(
            422,
            "Invalid query",
            f"limit must be an integer from 1 to {MAX_LIMIT}.",
            errors=[{"pointer": "/query/limit", "detail": f"expected 1..{MAX_LIMIT}"}],
        )
    return int(raw)


STATES = {name: rank for rank, name in SLA_STATES.items()}
LANGUAGES = ("fr", "en", "other")
FILTERS: dict[str, tuple[str, ...]] = {
    "priority": PRIORITIES,
    "platform": PLATFORMS,
    "intent": INTENTS,
    "state": tuple(STATES),
    "language": LANGUAGES,
    "mine": ("true", "false"),
    "unassigned": ("true", "false"),
}
"""Each closed-set filter of the queue and its values (the OpenAPI document reads them)."""


def _row_id(raw: str) -> bool:
    """A positive integer that fits a bigint (the length first: int() refuses 4,300 digits)."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 18 and int(raw) >= 1


def _filters(request: web.Request) -> dict[str, Any]:
    """Queue filters from the query string; a value outside its closed set is a 422."""
    query = request.query
    allowed = FILTERS
    errors = [
        {"pointer": f"/query/{name}", "detail": "expected one of " + ", ".join(values)}
        for name, values in allowed.items()
        if name in query and query[name] not in values
    ]
    raw_incident = query.get("incident")
    if raw_incident is not None and not _row_id(raw_incident):
        errors.append({"pointer": "/query/incident", "detail": "expected an incident id"})
    raw_tag = query.get("tag")
    if raw_tag is not None and not _row_id(raw_tag):
        errors.append({"pointer": "/query/tag", "detail": "expected a tag id"})
    channel = query.get("channel")
    if channel is not None and not (0 < len(channel) <= MAX_CHANNEL and channel.isprintable()):
        errors.append({"pointer": "/query/channel", "detail": "expected a channel's name"})
    unknown = set(query) - set(allowed) - {"limit", "incident", "channel", "tag"}
    errors += [{"pointer": f"/query/{name}", "detail": "unknown filter"} for name in unknown]
    if errors:
        raise ProblemError(
            422, "Invalid query", f"{errors[0]['pointer']}: {errors[0]['detail']}", errors=errors
        )
    return {
        "priority": int(query["priority"][1]) if "priority" in query else None,
        "platform": query.get("platform"),
        "intent": query.get("intent"),
        "rank": STATES[query["state"]] if "state" in query else None,
        "language": query.get("language"),
        "mine": query.get("mine") == "true",
        "unassigned": query.get("unassigned") == "true",
        "channel": channel,
        "incident": int(raw_incident) if raw_incident is not None else None,
        "tag": int(raw_tag) if raw_tag is not None else None,
    }


async def get_queue(request: web.Request) -> web.Response:
    """Open conversations needing an answer: P1 first, then earliest deadline; filterable."""
    limit = _limit(request)
    filters = _filters(request)
    caller = await authenticate(request)
    filters["mine"] = caller.user_id if filters["mine"] else None
    now = datetime.now(UTC)
    async with autocommit(request.app[ENGINE_KEY]) as conn:
        policy = await cached_policy(request.app, conn, caller.workspace_id)
        items = await queue(conn, caller.workspace_id, limit, now, policy.calendar, filters)
    return model_response(QueueOut, {"items": items, "count": len(items), "as_of": now})


async def get_vocabulary(request: web.Request) -> web.Response:
    """The platforms and intents an agent filters and corrects by (the desk reads them here
    instead of spelling them out)."""
    await authenticate(request)
    return model_response(VocabularyOut, {"platforms": PLATFORMS, "intents": INTENTS})
