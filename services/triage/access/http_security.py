"""Routes of strict access: two-factor enrolment, the workspace's policy, sessions and API
tokens, password change (the use cases are in ``two_factor.py`` and ``accounts.py``; every
such event goes to the audit log).

A user whom the policy obliges to enrol reaches only the enrolment routes (and /v1/me,
sign-out). Enabling, disabling or resetting two-factor and changing the password end the
user's other sessions. Revoked sessions stop at once (sessions are checked against the
database on every request); revoked API tokens stop at once on this process and within
``TOKEN_CACHE_SECONDS`` (10 s) on other replicas.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import segno
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.infra.client_address import client_address
from services.infra.http import ENGINE_KEY, ProblemError, model_response, read_model
from services.infra.secretbox import SecretBox
from services.triage.access import accounts, limits, store, two_factor
from services.triage.access.accounts import Caller
from services.triage.access.auth import (
    COOKIE,
    auth_config,
    authenticate,
    authorised,
    token_cache,
)
from services.triage.access.http import too_many, unreadable_secret, uuid_in_path
from services.triage.access.schemas import (
    AccessOut,
    AccessRevokedOut,
    EnrolmentOut,
    PasswordChangedOut,
    RecoveryCodesOut,
    RevokedOut,
    TwoFactorOffOut,
    TwoFactorOnOut,
    TwoFactorPolicy,
    TwoFactorPolicyOut,
    TwoFactorResetOut,
    TwoFactorStatusOut,
    UsersOut,
)

MIN_PASSWORD = 12
PASSWORD_BODY = 16 * 1024
"""Room for two passwords of the longest allowed (1024 characters) in any script: 4096
bytes refused a valid change of two 1024-character passwords outside ASCII."""
T = TypeVar("T")


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Annotated[str, Field(min_length=1, max_length=64)]


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Annotated[str, Field(min_length=MIN_PASSWORD, max_length=1024)]


class TwoFactorPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: TwoFactorPolicy


def _box(request: web.Request) -> SecretBox:
    box = auth_config(request.app).box
    if box is None:
        raise ProblemError(
            503,
            "Two-factor unavailable",
            "This server has no TRIAGE_TWO_FACTOR_KEY, so it cannot keep TOTP secrets.",
        )
    return box


async def _proven_by_code(
    request: web.Request,
    action: two_factor.CodeProven[T],
    failed: str,
    *,
    enrolling: bool = False,
) -> T:
    """Run a two-factor ``action`` the request's code must prove; a wrong code is a 422 that
    says ``failed``."""
    caller = await authenticate(request, enrolling=enrolling)
    box = _box(request)
    body = await read_model(request, CodeIn, 4096, "Invalid code")
    try:
        done = await two_factor.proven_by_code(
            request.app[ENGINE_KEY],
            box,
            caller,
            body.code,
            client_address(request),
            auth_config(request.app).clock(),
            action,
        )
    except limits.TooManyFailures as exc:
        raise too_many(exc, "wrong codes") from None
    except two_factor.NoEnrolmentWaiting:
        raise ProblemError(
            409, "Nothing to confirm", "Start enrolment first (POST /v1/me/two-factor/enrol)."
        ) from None
    except two_factor.UnreadableSecret as exc:
        raise unreadable_secret(exc) from None
    if done is None:
        raise ProblemError(
            422,
            "Wrong code",
            f"Wrong, expired or already used code: {failed}.",
            errors=[{"pointer": "/code", "detail": "wrong, expired or already used code"}],
        )
    return done


# ---- my two-factor ---------------------------------------------------------------------


async def two_factor_status(request: web.Request) -> web.Response:
    caller = await authenticate(request, enrolling=True)
    async with request.app[ENGINE_KEY].connect() as conn:
        status = await two_factor.status(conn, caller)
    available = auth_config(request.app).box is not None
    return model_response(TwoFactorStatusOut, {**status, "available": available})


async def enrol(request: web.Request) -> web.Response:
    """A new secret awaiting its first code: the key, its otpauth:// URI and a QR code."""
    caller = await authenticate(request, enrolling=True)
    box = _box(request)
    async with request.app[ENGINE_KEY].begin() as conn:
        started = await two_factor.start_enrolment(conn, box, caller, datetime.now(UTC))
    if started is None:
        raise ProblemError(
            409, "Already enabled", "Two-factor is on: disable it first to enrol again."
        )
    secret, uri = started
    key = {"secret": secret, "otpauth_uri": uri, "qr_svg": "/v1/me/two-factor/qr.svg"}
    return model_response(EnrolmentOut, key, status=201)


async def qr_code(request: web.Request) -> web.Response:
    """The pending enrolment's otpauth:// URI as an SVG QR code (an <img> in the desk)."""
    caller = await authenticate(request, enrolling=True)
    box = _box(request)
    try:
        async with request.app[ENGINE_KEY].connect() as conn:
            uri = await two_factor.pending_uri(conn, box, caller)
    except two_factor.NoEnrolmentWaiting:
        raise ProblemError(
            404, "Not Found", "No enrolment is waiting for its first code."
        ) from None
    except two_factor.UnreadableSecret as exc:
        raise unreadable_secret(exc) from None
    buffer = io.BytesIO()
    segno.make(uri, error="m", micro=False).save(
        buffer, kind="svg", scale=5, border=4, light="#ffffff", title="Two-factor QR code"
    )
    return web.Response(
        body=buffer.getvalue(),
        content_type="image/svg+xml",
        headers={"Cache-Control": "no-store"},
    )


async def confirm(request: web.Request) -> web.Response:
    """The first code turns two-factor on; ten recovery codes are shown, this once."""
    codes, ended = await _proven_by_code(
        request, two_factor.confirm, "two-factor stays off", enrolling=True
    )
    token_cache(request.app).clear()
    on = {"enabled": True, "recovery_codes": codes, "sessions_revoked": ended}
    return model_response(TwoFactorOnOut, on)


async def disable(request: web.Request) -> web.Response:
    """Two-factor off, proven by a fresh code (or a recovery code); other sessions end."""
    ended = await _proven_by_code(request, two_factor.disable, "two-factor stays on")
    token_cache(request.app).clear()
    return model_response(TwoFactorOffOut, {"enabled": False, "sessions_revoked": ended})


async def new_recovery_codes(request: web.Request) -> web.Response:
    """Ten fresh recovery codes (the old ones stop working), proven by a fresh TOTP code."""
    codes = await _proven_by_code(
        request, two_factor.replace_codes, "send a code from your authenticator app"
    )
    return model_response(RecoveryCodesOut, {"recovery_codes": codes})


# ---- password --------------------------------------------------------------------------


async def change_password(request: web.Request) -> web.Response:
    """A new password, proven by the current one; the user's other sessions end."""
    caller = await authenticate(request)
    body = await read_model(request, PasswordIn, PASSWORD_BODY, "Invalid password change")
    try:
        ended = await accounts.change_password(
            request.app[ENGINE_KEY],
            caller,
            body.current_password,
            body.new_password,
            client_address(request),
            auth_config(request.app).clock(),
        )
    except limits.TooManyFailures as exc:
        raise too_many(exc, "wrong passwords") from None
    if ended is None:
        raise ProblemError(
            422,
            "Wrong password",
            "The current password is wrong; nothing changed.",
            errors=[{"pointer": "/current_password", "detail": "wrong password"}],
        )
    return model_response(PasswordChangedOut, {"changed": True, "sessions_revoked": ended})


# ---- sessions --------------------------------------------------------------------------


async def _access_of(request: web.Request, caller: Caller, user_id: uuid.UUID) -> web.Response:
    """A user's live sessions and API tokens."""
    idle = auth_config(request.app).limits.idle
    try:
        async with request.app[ENGINE_KEY].connect() as conn:
            found = await accounts.access_of(conn, caller, user_id, datetime.now(UTC), idle)
    except accounts.NoSuchUser:
        raise no_such_user() from None
    return model_response(AccessOut, found)


async def list_sessions(request: web.Request) -> web.Response:
    """My live sessions and API tokens."""
    caller = await authenticate(request)
    return await _access_of(request, caller, caller.user_id)


async def revoke_session(request: web.Request) -> web.Response:
    """End one of my sessions (an admin: anyone's in the workspace)."""
    caller = await authenticate(request)
    session_id = uuid_in_path(request, "session")
    async with request.app[ENGINE_KEY].begin() as conn:
        revoked = await accounts.revoke_session(conn, caller, session_id, datetime.now(UTC))
    if not revoked:
        raise ProblemError(404, "Not Found", "No such session.")
    response = model_response(RevokedOut, {"id": session_id, "revoked": True})
    if session_id == caller.session_id:
        response.del_cookie(COOKIE, path="/")
    return response


# ---- administration --------------------------------------------------------------------


def no_such_user() -> ProblemError:
    return ProblemError(404, "Not Found", "No such user in your workspace.")


async def list_users(request: web.Request) -> web.Response:
    """The workspace's users and their two-factor state (admins)."""
    caller = await authorised(request, "admin")
    async with request.app[ENGINE_KEY].connect() as conn:
        items = await two_factor.users(conn, caller)
    return model_response(UsersOut, {"items": items})


async def admin_over_user(request: web.Request) -> tuple[Caller, uuid.UUID]:
    """An admin caller and the user the path names (each use case then checks that user is
    in the caller's workspace)."""
    caller = await authorised(request, "admin")
    return caller, uuid_in_path(request, "user")


async def user_sessions(request: web.Request) -> web.Response:
    """A user's live sessions and API tokens (admins)."""
    caller, user_id = await admin_over_user(request)
    return await _access_of(request, caller, user_id)


async def revoke_user_access(request: web.Request) -> web.Response:
    """Sign a user out everywhere: every session and every API token (admins)."""
    caller, user_id = await admin_over_user(request)
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            sessions, tokens = await accounts.revoke_user_access(
                conn, caller, user_id, datetime.now(UTC)
            )
    except accounts.NoSuchUser:
        raise no_such_user() from None
    token_cache(request.app).clear()
    revoked = {"sessions_revoked": sessions, "tokens_revoked": tokens}
    return model_response(AccessRevokedOut, revoked)


async def reset_two_factor(request: web.Request) -> web.Response:
    """Turn a user's two-factor off (a lost phone) and end their sessions (admins)."""
    caller, user_id = await admin_over_user(request)
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            was_on, ended = await two_factor.reset(conn, caller, user_id, datetime.now(UTC))
    except accounts.NoSuchUser:
        raise no_such_user() from None
    token_cache(request.app).clear()
    reset = {"two_factor": False, "was_enabled": was_on, "sessions_revoked": ended}
    return model_response(TwoFactorResetOut, reset)


async def get_policy(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        policy = await store.two_factor_policy(conn, caller.workspace_id)
    return model_response(TwoFactorPolicyOut, {"policy": policy})


async def put_policy(request: web.Request) -> web.Response:
    """Who must use two-factor: nobody, leads and admins, or everyone (admins)."""
    caller = await authorised(request, "admin")
    body = await read_model(request, TwoFactorPolicyIn, 4096, "Invalid policy")
    if body.policy != "off":
        _box(request)  # nobody could enrol: refuse rather than lock the workspace out
    async with request.app[ENGINE_KEY].begin() as conn:
        await two_factor.set_policy(conn, caller, body.policy)
    token_cache(request.app).clear()
    return model_response(TwoFactorPolicyOut, {"policy": body.policy})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/me/two-factor", two_factor_status)
    app.router.add_post("/v1/me/two-factor/enrol", enrol)
    app.router.add_get("/v1/me/two-factor/qr.svg", qr_code)
    app.router.add_post("/v1/me/two-factor/confirm", confirm)
    app.router.add_post("/v1/me/two-factor/disable", disable)
    app.router.add_post("/v1/me/two-factor/recovery-codes", new_recovery_codes)
    app.router.add_post("/v1/me/password", change_password)
    app.router.add_get("/v1/sessions", list_sessions)
    app.router.add_delete("/v1/sessions/{id}", revoke_session)
    app.router.add_get("/v1/users", list_users)
    app.router.add_get("/v1/users/{id}/sessions", user_sessions)
    app.router.add_delete("/v1/users/{id}/sessions", revoke_user_access)
    app.router.add_post("/v1/users/{id}/two-factor/reset", reset_two_factor)
    app.router.add_get("/v1/workspace/two-factor", get_policy)
    app.router.add_put("/v1/workspace/two-factor", put_policy)
