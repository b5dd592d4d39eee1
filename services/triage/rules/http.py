"""Rules' API: leads and admins list, write, reorder (``position``), switch on or off and
remove their workspace's rules; agents are refused (403), another workspace's rule is a 404.
A rule that does not fit is a 422 naming the field (JSON pointer)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.infra.http import ENGINE_KEY, ProblemError, model_response, path_id, read_model
from services.triage.access.auth import authorised
from services.triage.rules import store, usecases
from services.triage.rules.schemas import RuleDeletedOut, RuleIn, RuleOut, RulesOut

MAX_BODY = 32 * 1024
INVALID = "Invalid rule"


def _no_such_rule() -> ProblemError:
    return ProblemError(404, "Not Found", "No such rule.")


async def _body(request: web.Request) -> dict[str, Any]:
    rule = await read_model(request, RuleIn, MAX_BODY, INVALID)
    return rule.model_dump(mode="json", exclude_defaults=False)


def _refusal(exc: Exception) -> ProblemError:
    if isinstance(exc, usecases.UnknownTag):
        pointer, detail = f"/then/{exc.index}/tag/tag_id", "no such tag in the workspace"
        return ProblemError(
            422, INVALID, f"{pointer}: {detail}", errors=[{"pointer": pointer, "detail": detail}]
        )
    detail = "the workspace has a rule of that name already"
    return ProblemError(409, "Conflict", detail, errors=[{"pointer": "/name", "detail": detail}])


async def get_rules(request: web.Request) -> web.Response:
    """The workspace's rules, in the order they run."""
    caller = await authorised(request, "lead", "admin")
    async with request.app[ENGINE_KEY].connect() as conn:
        items = await store.list_rules(conn, caller.workspace_id)
    return model_response(RulesOut, {"items": items})


async def post_rule(request: web.Request) -> web.Response:
    caller = await authorised(request, "lead", "admin")
    rule = await _body(request)
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            made = await usecases.create(conn, caller, rule)
    except (usecases.UnknownTag, usecases.NameTaken) as exc:
        raise _refusal(exc) from None
    return model_response(RuleOut, made, status=201)


async def put_rule(request: web.Request) -> web.Response:
    """Replace a rule: its conditions, actions, position and switch."""
    caller = await authorised(request, "lead", "admin")
    rule_id = path_id(request, "rule")
    rule = await _body(request)
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            changed = await usecases.replace(conn, caller, rule_id, rule)
    except (usecases.UnknownTag, usecases.NameTaken) as exc:
        raise _refusal(exc) from None
    except usecases.NoSuchRule:
        raise _no_such_rule() from None
    return model_response(RuleOut, changed)


async def delete_rule(request: web.Request) -> web.Response:
    caller = await authorised(request, "lead", "admin")
    rule_id = path_id(request, "rule")
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            await usecases.delete(conn, caller, rule_id)
    except usecases.NoSuchRule:
        raise _no_such_rule() from None
    return model_response(RuleDeletedOut, {"id": rule_id})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/rules", get_rules)
    app.router.add_post("/v1/rules", post_rule)
    app.router.add_put("/v1/rules/{id}", put_rule)
    app.router.add_delete("/v1/rules/{id}", delete_rule)
