"""The agents' desk API: claim, read, reply, note; saved replies.

Another workspace's conversation is a 404 (never a 403: its existence is not disclosed).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.infra.http import ENGINE_KEY, ProblemError, model_response, path_id, read_model
from services.infra.strings import NO_NUL
from services.triage.access.auth import authenticate, authorised
from services.triage.composer.http import SUGGESTION_OUTCOME_KEY
from services.triage.composer.store import saved_replies
from services.triage.desk import corrections, reply_limits, usecases
from services.triage.desk import store as desk
from services.triage.desk.http_queue import get_queue, get_vocabulary
from services.triage.desk.schemas import (
    ClaimOut,
    ConversationClocksOut,
    ConversationOut,
    CorrectionOut,
    NoteOut,
    PostedReplyOut,
    ReplyCheckOut,
    SavedRepliesOut,
    SavedReplyOut,
    StatusOut,
)
from services.triage.desk.stream import stream
from services.triage.domain.conversation import MAX_REPLY
from services.triage.sla.store import load_policies
from services.triage.sla.usecases import conversation_clocks

REPLY_ORIGIN_KEY: web.AppKey[Any] = web.AppKey("reply_origin", object)


class TemplateIn(BaseModel):
    """An approved WhatsApp message template, by name and language code."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,512}$")]
    language: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(_[A-Za-z0-9]{2,8})?$")]


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(max_length=MAX_REPLY, pattern=NO_NUL)]
    client_key: Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)] | None = None
    saved_reply_id: uuid.UUID | None = None
    # The incident whose status note the reply started from (it is still edited for the person).
    incident_id: Annotated[int, Field(ge=1, lt=2**63)] | None = None
    # The suggestion (an earlier reply, GET …/suggestions) the reply started from.
    suggestion_id: uuid.UUID | None = None
    # WhatsApp outside the 24-hour window: the approved template to send (``text`` is what
    # the desk shows of it).
    template: TemplateIn | None = None
    # A Facebook/Instagram comment: send Meta's private reply (a message to the commenter).
    private: bool = False


class ReplyCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(max_length=MAX_REPLY, pattern=NO_NUL)]


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(min_length=1, max_length=MAX_REPLY, pattern=NO_NUL)]


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: Literal["intent", "needs_answer", "abuse", "priority"]
    value: str | bool | int


class SavedReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Annotated[str, Field(min_length=1, max_length=120, pattern=NO_NUL)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_REPLY, pattern=NO_NUL)]


def conversation_id(request: web.Request) -> int:
    return path_id(request, "conversation")


def _no_such_conversation() -> ProblemError:
    return ProblemError(404, "Not Found", "No such conversation.")


async def claim(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    cid = conversation_id(request)
    async with request.app[ENGINE_KEY].begin() as conn:
        outcome = await usecases.claim(conn, caller, cid, datetime.now(UTC))
    if outcome == "missing":
        raise _no_such_conversation()
    if outcome == "held":
        raise ProblemError(409, "Conflict", "Another agent holds this conversation.")
    return model_response(ClaimOut, {"conversation_id": cid, "claimed": True})


async def claim_next(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            cid = await usecases.claim_next(conn, caller, datetime.now(UTC))
    except desk.QueueBusy:
        raise ProblemError(
            503, "Service Unavailable", "Every waiting conversation is being changed; try again."
        ) from None
    if cid is None:
        raise ProblemError(404, "Not Found", "Nothing is waiting for an answer.")
    return model_response(ClaimOut, {"conversation_id": cid, "claimed": True})


async def release(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    cid = conversation_id(request)
    async with request.app[ENGINE_KEY].begin() as conn:
        try:
            done = await usecases.release(conn, caller, cid, datetime.now(UTC))
        except usecases.NoSuchConversation:
            raise _no_such_conversation() from None
    if not done:
        raise ProblemError(409, "Conflict", "You do not hold this conversation.")
    return model_response(ClaimOut, {"conversation_id": cid, "claimed": False})


async def get_conversation(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        view = await desk.conversation_view(conn, caller.workspace_id, conversation_id(request))
    if view is None:
        raise _no_such_conversation()
    return model_response(ConversationOut, view)


async def get_conversation_sla(request: web.Request) -> web.Response:
    """Every clock of a conversation, current state and history."""
    caller = await authenticate(request)
    cid = conversation_id(request)
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].connect() as conn:
        if not await desk.conversation_exists(conn, caller.workspace_id, cid):
            raise ProblemError(404, "Not Found", "No such conversation.")
        policy = (await load_policies(conn, [caller.workspace_id]))[caller.workspace_id]
        clocks = await conversation_clocks(conn, caller.workspace_id, cid, policy, now)
    return model_response(ConversationClocksOut, {"conversation_id": cid, "clocks": clocks})


async def post_reply(request: web.Request) -> web.Response:
    """Queue a reply for delivery: 202, or 200 with the earlier reply of the same client_key."""
    caller = await authenticate(request)
    cid = conversation_id(request)
    body = await read_model(request, ReplyIn, 4 * MAX_REPLY + 1024)
    template = (body.template.name, body.template.language) if body.template else None
    draft = usecases.ReplyDraft(
        body.text,
        body.client_key,
        body.saved_reply_id,
        body.incident_id,
        suggestion_id=body.suggestion_id,
        template=template,
        private=body.private,
    )
    async with request.app[ENGINE_KEY].begin() as conn:
        try:
            posted = await usecases.post_reply(conn, caller, cid, draft, datetime.now(UTC))
        except usecases.InvalidReply as error:
            raise ProblemError(
                422,
                "Invalid request",
                str(error),
                errors=[{"pointer": error.pointer, "detail": error.detail}],
            ) from None
        except usecases.NoSuchConversation:
            raise _no_such_conversation() from None
        except usecases.ActionRefused as refused:
            raise ProblemError(409, "Conflict", str(refused)) from None
    if not posted.new:
        return model_response(PostedReplyOut, {"reply": posted.reply, "warnings": []})
    count = request.app.get(REPLY_ORIGIN_KEY)
    if count is not None:
        count(posted.origin)
    suggested = request.app.get(SUGGESTION_OUTCOME_KEY)
    if suggested is not None and posted.suggestion is not None:
        suggested(posted.suggestion)
    answer = {"reply": posted.reply, "warnings": posted.warnings}
    return model_response(PostedReplyOut, answer, status=202)


async def post_reply_check(request: web.Request) -> web.Response:
    """A draft measured against its platform's limit, with the warnings it would get (the
    composer asks while the agent types; nothing is stored or sent)."""
    caller = await authenticate(request)
    cid = conversation_id(request)
    body = await read_model(request, ReplyCheckIn, 4 * MAX_REPLY + 1024)
    async with request.app[ENGINE_KEY].connect() as conn:
        try:
            found = await usecases.check_reply(conn, caller, cid, body.text, datetime.now(UTC))
        except usecases.NoSuchConversation:
            raise _no_such_conversation() from None
    measured = found.measured
    answer = {
        "platform": found.platform,
        "length": measured.length,
        "limit": measured.maximum,
        "unit": measured.unit,
        "over": measured.over,
        "refusal": reply_limits.refusal(measured, found.platform) if measured.over else None,
        "warnings": found.warnings,
    }
    return model_response(ReplyCheckOut, answer)


async def post_note(request: web.Request) -> web.Response:
    """An internal note: seen by agents, never sent, and it stops no clock."""
    caller = await authenticate(request)
    cid = conversation_id(request)
    body = await read_model(request, NoteIn, 4 * MAX_REPLY + 1024)
    async with request.app[ENGINE_KEY].begin() as conn:
        try:
            note = await usecases.add_note(conn, caller, cid, body.text, datetime.now(UTC))
        except usecases.NoSuchConversation:
            raise _no_such_conversation() from None
    return model_response(NoteOut, note, status=201)


async def post_correction(request: web.Request) -> web.Response:
    """An agent corrects a triage decision; kept with who and when, and trained on later."""
    caller = await authenticate(request)
    message_id = path_id(request, "message")
    body = await read_model(request, CorrectionIn, 4096)
    async with request.app[ENGINE_KEY].begin() as conn:
        try:
            made = await usecases.correct(
                conn, caller, message_id, body.field, body.value, datetime.now(UTC)
            )
        except corrections.UnknownMessage:
            raise ProblemError(404, "Not Found", "No such message.") from None
        except corrections.InvalidCorrection as exc:
            raise ProblemError(
                422,
                "Invalid correction",
                f"/value: {exc.detail}",
                errors=[{"pointer": "/value", "detail": exc.detail}],
            ) from None
    return model_response(CorrectionOut, correction_view(made), status=201)


def correction_view(made: corrections.Correction) -> dict[str, Any]:
    return {
        "id": made.id,
        "message_id": made.message_id,
        "field": made.field,
        "old_value": made.old_value,
        "new_value": made.new_value,
        "user_id": made.user_id,
        "created_at": made.created_at,
    }


async def get_saved_replies(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        items = await saved_replies(conn, caller.workspace_id)
    return model_response(SavedRepliesOut, {"items": items})


async def post_saved_reply(request: web.Request) -> web.Response:
    caller = await authorised(request, "lead", "admin")
    body = await read_model(request, SavedReplyIn, 4 * MAX_REPLY + 1024)
    async with request.app[ENGINE_KEY].begin() as conn:
        saved = await usecases.add_saved_reply(conn, caller, body.title, body.text)
    return model_response(SavedReplyOut, saved, status=201)


def status_action(action: str) -> Any:
    """The handler of one status action (resolve, reopen, wait on the customer)."""

    async def handler(request: web.Request) -> web.Response:
        caller = await authenticate(request)
        cid = conversation_id(request)
        async with request.app[ENGINE_KEY].begin() as conn:
            try:
                status = await usecases.change_status_as(
                    conn, caller, cid, action, datetime.now(UTC), request.app.get(CLOCK_STOP_KEY)
                )
            except usecases.NoSuchConversation:
                raise _no_such_conversation() from None
            except usecases.ActionRefused as exc:
                raise ProblemError(409, "Conflict", str(exc)) from None
        return model_response(StatusOut, {"conversation_id": cid, "status": status})

    handler.__name__ = f"{action}_conversation"
    return handler


CLOCK_STOP_KEY: web.AppKey[Any] = web.AppKey("clock_stop", object)


def add_routes(app: web.Application) -> None:
    """Every desk route: the queue, the live stream, conversations, replies, notes."""
    app.router.add_get("/v1/queue", get_queue)
    app.router.add_get("/v1/vocabulary", get_vocabulary)
    app.router.add_get("/v1/stream", stream)
    app.router.add_post("/v1/queue/claim-next", claim_next)
    app.router.add_get("/v1/conversations/{id}", get_conversation)
    app.router.add_get("/v1/conversations/{id}/sla", get_conversation_sla)
    app.router.add_post("/v1/conversations/{id}/claim", claim)
    app.router.add_post("/v1/conversations/{id}/release", release)
    app.router.add_post("/v1/conversations/{id}/replies", post_reply)
    app.router.add_post("/v1/conversations/{id}/reply-check", post_reply_check)
    app.router.add_post("/v1/conversations/{id}/notes", post_note)
    app.router.add_post("/v1/messages/{id}/correction", post_correction)
    app.router.add_get("/v1/saved-replies", get_saved_replies)
    app.router.add_post("/v1/saved-replies", post_saved_reply)
    for action in usecases.ACTIONS:
        app.router.add_post(f"/v1/conversations/{{id}}/{action}", status_action(action))
