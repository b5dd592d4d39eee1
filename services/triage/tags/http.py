"""Tags' API: leads and admins define a workspace's tags; agents put them on conversations
and take them off. Another workspace's tag or conversation is a 404."""

from __future__ import annotations

from aiohttp import web

from services.infra.http import ENGINE_KEY, ProblemError, model_response, path_id, read_model
from services.triage.access.auth import authenticate, authorised
from services.triage.tags import store, usecases
from services.triage.tags.schemas import TagDeletedOut, TaggedOut, TagIn, TagOut, TagsOut


def _no_such_tag() -> ProblemError:
    return ProblemError(404, "Not Found", "No such tag.")


async def get_tags(request: web.Request) -> web.Response:
    """The workspace's tags, by name (every agent reads them to tag and filter)."""
    caller = await authenticate(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        items = await store.list_tags(conn, caller.workspace_id)
    return model_response(TagsOut, {"items": items})


async def post_tag(request: web.Request) -> web.Response:
    caller = await authorised(request, "lead", "admin")
    body = await read_model(request, TagIn, 4 * 1024)
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            tag = await usecases.create(conn, caller, body.name, body.colour)
    except usecases.NameTaken:
        raise _name_taken() from None
    return model_response(TagOut, tag, status=201)


def _name_taken() -> ProblemError:
    detail = "the workspace has a tag of that name already"
    return ProblemError(409, "Conflict", detail, errors=[{"pointer": "/name", "detail": detail}])


async def put_tag(request: web.Request) -> web.Response:
    """Rename and recolour a tag (leads and admins)."""
    caller = await authorised(request, "lead", "admin")
    tag_id = path_id(request, "tag")
    body = await read_model(request, TagIn, 4 * 1024)
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            tag = await usecases.change(conn, caller, tag_id, body.name, body.colour)
    except usecases.NameTaken:
        raise _name_taken() from None
    except usecases.NoSuchTag:
        raise _no_such_tag() from None
    return model_response(TagOut, tag)


async def delete_tag(request: web.Request) -> web.Response:
    """Remove a tag, and take it off every conversation (leads and admins)."""
    caller = await authorised(request, "lead", "admin")
    tag_id = path_id(request, "tag")
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            untagged = await usecases.delete(conn, caller, tag_id)
    except usecases.NoSuchTag:
        raise _no_such_tag() from None
    return model_response(TagDeletedOut, {"id": tag_id, "untagged": untagged})


async def _change(request: web.Request, put: bool) -> web.Response:
    caller = await authenticate(request)
    cid = path_id(request, "conversation")
    tag_id = path_id(request, "tag", "tag_id")
    change = usecases.put_on if put else usecases.take_off
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            tags = await change(conn, caller, cid, tag_id)
    except usecases.NoSuchConversation:
        raise ProblemError(404, "Not Found", "No such conversation.") from None
    except usecases.NoSuchTag:
        raise _no_such_tag() from None
    return model_response(TaggedOut, {"conversation_id": cid, "tags": tags})


async def put_conversation_tag(request: web.Request) -> web.Response:
    """Tag a conversation (idempotent)."""
    return await _change(request, put=True)


async def delete_conversation_tag(request: web.Request) -> web.Response:
    """Untag a conversation (idempotent)."""
    return await _change(request, put=False)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/tags", get_tags)
    app.router.add_post("/v1/tags", post_tag)
    app.router.add_put("/v1/tags/{id}", put_tag)
    app.router.add_delete("/v1/tags/{id}", delete_tag)
    app.router.add_put("/v1/conversations/{id}/tags/{tag_id}", put_conversation_tag)
    app.router.add_delete("/v1/conversations/{id}/tags/{tag_id}", delete_conversation_tag)
