"""The agents' desk API: claim, read, reply, note; saved replies.

Another workspace's conversation is a 404 (never a 403: its existence is not disclosed).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from ecoute.v1 import events_pb2
from services.infra.events import publish
from services.infra.http import ENGINE_KEY, ProblemError, json_response, path_id, read_model
from services.infra.strings import NO_NUL
from services.triage import news as changes
from services.triage.access.auth import authenticate, require_role
from services.triage.access.store import audit
from services.triage.desk import corrections, usecases
from services.triage.desk import store as desk
from services.triage.domain.conversation import MAX_REPLY
from services.triage.incidents.store import is_member as incident_member
from services.triage.incidents.store import status_note as incident_note

REPLY_ORIGIN_KEY: web.AppKey[Any] = web.AppKey("reply_origin", object)


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(max_length=MAX_REPLY, pattern=NO_NUL)]
    client_key: Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)] | None = None
    saved_reply_id: uuid.UUID | None = None
    # The incident whose status note the reply started from (it is still edited for the person).
    incident_id: Annotated[int, Field(ge=1, lt=2**63)] | None = None


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


async def claim(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    cid = conversation_id(request)
    async with request.app[ENGINE_KEY].begin() as conn:
        outcome = await desk.claim(
            conn, caller.workspace_id, cid, caller.user_id, datetime.now(UTC)
        )
        if outcome == "claimed":
            await audit(conn, caller.workspace_id, caller.user_id, "claimed", cid)
            await changes.record(conn, [(caller.workspace_id, cid)], "claim")
    if outcome == "missing":
        raise ProblemError(404, "Not Found", "No such conversation.")
    if outcome == "held":
        raise ProblemError(409, "Conflict", "Another agent holds this conversation.")
    return json_response({"conversation_id": cid, "claimed": True})


async def claim_next(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            cid = await desk.claim_next(
                conn, caller.workspace_id, caller.user_id, datetime.now(UTC)
            )
            if cid is not None:
                await audit(conn, caller.workspace_id, caller.user_id, "claimed", cid)
                await changes.record(conn, [(caller.workspace_id, cid)], "claim")
    except desk.QueueBusy:
        raise ProblemError(
            503, "Service Unavailable", "Every waiting conversation is being changed; try again."
        ) from None
    if cid is None:
        raise ProblemError(404, "Not Found", "Nothing is waiting for an answer.")
    return json_response({"conversation_id": cid, "claimed": True})


async def release(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    cid = conversation_id(request)
    async with request.app[ENGINE_KEY].begin() as conn:
        if await desk.holder(conn, caller.workspace_id, cid, datetime.now(UTC)) is None:
            raise ProblemError(404, "Not Found", "No such conversation.")
        done = await desk.release(
            conn, caller.workspace_id, cid, caller.user_id, caller.role in ("lead", "admin")
        )
        if done:
            await audit(conn, caller.workspace_id, caller.user_id, "released", cid)
            await changes.record(conn, [(caller.workspace_id, cid)], "claim")
    if not done:
        raise ProblemError(409, "Conflict", "You do not hold this conversation.")
    return json_response({"conversation_id": cid, "claimed": False})


async def get_conversation(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        view = await desk.conversation_view(conn, caller.workspace_id, conversation_id(request))
    if view is None:
        raise ProblemError(404, "Not Found", "No such conversation.")
    return json_response(view)


async def _held_by(conn: Any, caller: Any, cid: int, now: datetime) -> int:
    """The message to answer, if the caller holds the open conversation; else the problem."""
    found = await desk.holder(conn, caller.workspace_id, cid, now)
    if found is None:
        raise ProblemError(404, "Not Found", "No such conversation.")
    status, holder, latest = found
    if status == "resolved":
        raise ProblemError(409, "Conflict", "The conversation is resolved: reopen it first.")
    if holder != caller.user_id:
        raise ProblemError(409, "Conflict", "Claim the conversation before answering.")
    if latest is None:
        raise ProblemError(409, "Conflict", "There is no customer message to answer yet.")
    return int(latest)


async def post_reply(request: web.Request) -> web.Response:
    """Queue a reply for delivery; the same client_key twice stores it once."""
    caller = await authenticate(request)
    cid = conversation_id(request)
    body = await read_model(request, ReplyIn, 4 * MAX_REPLY + 1024)
    if body.saved_reply_id is not None and body.incident_id is not None:
        raise ProblemError(
            422,
            "Invalid request",
            "/incident_id: a reply starts from a saved reply or an incident note, not both.",
            errors=[{"pointer": "/incident_id", "detail": "saved_reply_id is set too"}],
        )
    if not body.text.strip():
        raise ProblemError(
            422,
            "Invalid request",
            "/text: an empty reply answers no one.",
            errors=[{"pointer": "/text", "detail": "must not be empty"}],
        )
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].begin() as conn:
        if body.client_key:
            earlier = await desk.reply_by_client_key(
                conn, caller.workspace_id, caller.user_id, body.client_key
            )
            if earlier is not None:
                return json_response({"reply": earlier, "warnings": []}, status=200)
        answered = await _held_by(conn, caller, cid, now)
        digest = desk.text_digest(body.text)
        unchanged = False
        if body.saved_reply_id is not None:
            template = await desk.saved_reply_text(conn, caller.workspace_id, body.saved_reply_id)
            if template is None:
                raise ProblemError(
                    422,
                    "Invalid request",
                    "/saved_reply_id: no such reply.",
                    errors=[{"pointer": "/saved_reply_id", "detail": "not found"}],
                )
            unchanged = desk.text_digest(template) == digest
        elif body.incident_id is not None:
            unchanged = await _from_incident_note(conn, caller, cid, body.incident_id, digest)
        same = await desk.identical_elsewhere(conn, caller.workspace_id, cid, digest, now)
        reply = await desk.insert_reply(
            conn,
            {
                "ws": caller.workspace_id,
                "id": uuid.uuid4(),
                "conversation": cid,
                "in_reply_to": answered,
                "author": caller.user_id,
                "text": body.text,
                "digest": digest,
                "client_key": body.client_key,
                "saved": body.saved_reply_id,
                "unchanged": unchanged,
                "now": now,
            },
        )
        if reply is None:  # the same client_key was sent concurrently: keep the first
            earlier = await desk.reply_by_client_key(
                conn, caller.workspace_id, caller.user_id, str(body.client_key)
            )
            return json_response({"reply": earlier, "warnings": []}, status=200)
        requested = Timestamp(seconds=int(now.timestamp()), nanos=now.microsecond * 1000)
        event = events_pb2.ReplyRequested(
            workspace_id=str(caller.workspace_id),
            reply_id=str(reply["id"]),
            conversation_id=cid,
            in_reply_to_message_id=answered,
            text=body.text,
            agent_id=str(caller.user_id),
            requested_at=requested,
        )
        await publish(conn, "reply.requested", [caller.workspace_id], [event.SerializeToString()])
        await desk.renew_claim(conn, caller.workspace_id, cid, now)
        await changes.record(conn, [(caller.workspace_id, cid)], "reply")
        origin = reply_origin(body, unchanged)
        detail: dict[str, object] = {"reply_id": str(reply["id"]), "origin": origin}
        if body.incident_id is not None:
            detail["incident_id"] = body.incident_id
        await audit(conn, caller.workspace_id, caller.user_id, "replied", cid, detail)
    count = request.app.get(REPLY_ORIGIN_KEY)
    if count is not None:
        count(origin)
    warnings = (
        [
            f"The same text was sent to {same} other conversation(s) in the last 24 "
            "hours: a personal answer builds more trust."
        ]
        if same
        else []
    )
    if origin == "incident_note_unchanged":
        warnings.append(
            "This is the incident's status note word for word: every person in the incident "
            "gets the same text. Address this person and their case."
        )
    return json_response({"reply": reply, "warnings": warnings}, status=202)


def reply_origin(body: ReplyIn, unchanged: bool) -> str:
    """Where a reply started from, and whether it was edited (metrics.REPLY_ORIGINS)."""
    if body.saved_reply_id is not None:
        return "saved_unchanged" if unchanged else "saved_personalised"
    if body.incident_id is not None:
        return "incident_note_unchanged" if unchanged else "incident_note_personalised"
    return "written"


async def _from_incident_note(
    conn: Any, caller: Any, cid: int, incident_id: int, digest: bytes
) -> bool:
    """Whether the reply is the incident's status note unchanged; 422 unless the
    conversation belongs to that incident and the note exists."""
    note = await incident_note(conn, caller.workspace_id, incident_id)
    if note is None or not await incident_member(conn, caller.workspace_id, incident_id, cid):
        raise ProblemError(
            422,
            "Invalid request",
            "/incident_id: this conversation is not part of that incident.",
            errors=[{"pointer": "/incident_id", "detail": "not an incident of this conversation"}],
        )
    if not note:
        raise ProblemError(
            422,
            "Invalid request",
            "/incident_id: that incident has no status note to start from.",
            errors=[{"pointer": "/incident_id", "detail": "no status note"}],
        )
    return desk.text_digest(note) == digest


async def post_note(request: web.Request) -> web.Response:
    """An internal note: seen by agents, never sent, and it stops no clock."""
    caller = await authenticate(request)
    cid = conversation_id(request)
    body = await read_model(request, NoteIn, 4 * MAX_REPLY + 1024)
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].begin() as conn:
        if await desk.holder(conn, caller.workspace_id, cid, now) is None:
            raise ProblemError(404, "Not Found", "No such conversation.")
        note = await desk.add_note(conn, caller.workspace_id, cid, caller.user_id, body.text, now)
        await changes.record(conn, [(caller.workspace_id, cid)], "note")
        await audit(conn, caller.workspace_id, caller.user_id, "noted", cid)
    return json_response(note, status=201)


async def post_correction(request: web.Request) -> web.Response:
    """An agent corrects a triage decision; kept with who and when, and trained on later."""
    caller = await authenticate(request)
    message_id = path_id(request, "message")
    body = await read_model(request, CorrectionIn, 4096)
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].begin() as conn:
        try:
            made = await corrections.record_correction(
                conn, caller.workspace_id, message_id, caller.user_id, body.field, body.value, now
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
        conversation = (
            await conn.execute(
                text(
                    "SELECT conversation_id FROM triage.messages "
                    "WHERE workspace_id = :ws AND id = :id"
                ),
                {"ws": caller.workspace_id, "id": message_id},
            )
        ).scalar_one()
        await audit(
            conn,
            caller.workspace_id,
            caller.user_id,
            "corrected",
            conversation,
            {"message_id": message_id, "field": body.field},
        )
        await changes.record(conn, [(caller.workspace_id, conversation)], "correction")
    return json_response(correction_view(made), status=201)


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
        items = await desk.saved_replies(conn, caller.workspace_id)
    return json_response({"items": items})


async def post_saved_reply(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "lead", "admin")
    body = await read_model(request, SavedReplyIn, 4 * MAX_REPLY + 1024)
    async with request.app[ENGINE_KEY].begin() as conn:
        saved = await desk.add_saved_reply(
            conn, caller.workspace_id, caller.user_id, body.title, body.text
        )
        await audit(conn, caller.workspace_id, caller.user_id, "saved_reply_added")
    return json_response(saved, status=201)


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
                raise ProblemError(404, "Not Found", "No such conversation.") from None
            except usecases.ActionRefused as exc:
                raise ProblemError(409, "Conflict", str(exc)) from None
        return json_response({"conversation_id": cid, "status": status})

    handler.__name__ = f"{action}_conversation"
    return handler


CLOCK_STOP_KEY: web.AppKey[Any] = web.AppKey("clock_stop", object)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/queue/claim-next", claim_next)
    app.router.add_get("/v1/conversations/{id}", get_conversation)
    app.router.add_post("/v1/conversations/{id}/claim", claim)
    app.router.add_post("/v1/conversations/{id}/release", release)
    app.router.add_post("/v1/conversations/{id}/replies", post_reply)
    app.router.add_post("/v1/conversations/{id}/notes", post_note)
    app.router.add_post("/v1/messages/{id}/correction", post_correction)
    app.router.add_get("/v1/saved-replies", get_saved_replies)
    app.router.add_post("/v1/saved-replies", post_saved_reply)
    for action in usecases.ACTIONS:
        app.router.add_post(f"/v1/conversations/{{id}}/{action}", status_action(action))
