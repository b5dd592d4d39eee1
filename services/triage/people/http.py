"""People's API: the person behind a conversation, for every agent of the workspace.

``/v1/people/{platform}/{author_id}`` names a person by the platform identity a conversation
shows (``messages[].author.external_id``). An identity that never wrote in the caller's
workspace, a link that does not touch the person: 404, whatever another workspace holds.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from services.infra.http import ENGINE_KEY, ProblemError, model_response, path_id, read_model
from services.infra.platforms import PLATFORMS
from services.triage.access.auth import authenticate
from services.triage.domain.people import PersonKey
from services.triage.people import usecases
from services.triage.people.schemas import (
    MAX_REF,
    PersonLinkIn,
    PersonLinkMadeOut,
    PersonNoteIn,
    PersonNoteMadeOut,
    PersonOut,
)


def _no_such_person() -> ProblemError:
    return ProblemError(404, "Not Found", "No such person.")


def _key(request: web.Request) -> PersonKey:
    platform, author_id = request.match_info["platform"], request.match_info["author_id"]
    if platform not in PLATFORMS or not author_id.strip() or len(author_id) > MAX_REF:
        raise _no_such_person()
    if "\x00" in author_id:
        raise _no_such_person()
    return PersonKey.of(platform, author_id)


async def get_person(request: web.Request) -> web.Response:
    """The person: identities, conversations on every channel, notes."""
    caller = await authenticate(request)
    key = _key(request)
    try:
        async with request.app[ENGINE_KEY].connect() as conn:
            view = await usecases.person(conn, caller, key)
    except usecases.NoSuchPerson:
        raise _no_such_person() from None
    return model_response(PersonOut, view)


async def post_link(request: web.Request) -> web.Response:
    """Link another identity of the same person (again: the same link, 200)."""
    caller = await authenticate(request)
    key = _key(request)
    body = await read_model(request, PersonLinkIn, 4 * 1024)
    other = PersonKey.of(body.platform, body.author_id, body.handle)
    if not (other.author_id or other.handle):
        detail = "give the handle, the author_id, or both"
        raise ProblemError(
            422, "Invalid request", detail, errors=[{"pointer": "/handle", "detail": detail}]
        )
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            link_id, created = await usecases.link(conn, caller, key, other, datetime.now(UTC))
            view = await usecases.person(conn, caller, key)
    except usecases.NoSuchPerson:
        raise _no_such_person() from None
    except (usecases.SamePerson, usecases.NoOne) as exc:
        detail = (
            "this is the identity the person was opened from"
            if isinstance(exc, usecases.SamePerson)
            else "this names no account"
        )
        raise ProblemError(
            422, "Invalid request", detail, errors=[{"pointer": "/handle", "detail": detail}]
        ) from None
    answer = {"id": link_id, "person": view}
    return model_response(PersonLinkMadeOut, answer, status=201 if created else 200)


async def delete_link(request: web.Request) -> web.Response:
    """Unlink an identity (the person as it is afterwards)."""
    caller = await authenticate(request)
    key = _key(request)
    link_id = path_id(request, "link", "link_id")
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            await usecases.unlink(conn, caller, key, link_id)
            view = await usecases.person(conn, caller, key)
    except usecases.NoSuchPerson:
        raise _no_such_person() from None
    except usecases.NoSuchLink:
        raise ProblemError(404, "Not Found", "No such link.") from None
    return model_response(PersonOut, view)


async def post_note(request: web.Request) -> web.Response:
    """A note about the person, for the workspace's agents."""
    caller = await authenticate(request)
    key = _key(request)
    body = await read_model(request, PersonNoteIn, 8 * 1024)
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            note_id = await usecases.add_note(conn, caller, key, body.text, datetime.now(UTC))
            view = await usecases.person(conn, caller, key)
    except usecases.NoSuchPerson:
        raise _no_such_person() from None
    return model_response(PersonNoteMadeOut, {"id": note_id, "person": view}, status=201)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/people/{platform}/{author_id}", get_person)
    app.router.add_post("/v1/people/{platform}/{author_id}/links", post_link)
    app.router.add_delete("/v1/people/{platform}/{author_id}/links/{link_id}", delete_link)
    app.router.add_post("/v1/people/{platform}/{author_id}/notes", post_note)
