"""Strict access: two-factor enrolment, the workspace's policy, sessions and API tokens,
password change; every such event goes to the audit log.

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
from typing import Annotated, Any, Literal

import segno
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.http import ENGINE_KEY, ProblemError, json_response, read_model
from services.infra.secretbox import Opened, SecretBox, SecretBoxError
from services.triage.access import accounts, two_factor
from services.triage.access.accounts import Caller
from services.triage.access.http import (
    COOKIE,
    auth_config,
    authenticate,
    require_role,
    token_cache,
    unreadable_secret,
)
from services.triage.domain import two_factor as rules

MIN_PASSWORD = 12
PASSWORD_BODY = 16 * 1024
"""Room for two passwords of the longest allowed (1024 characters) in any script: 4096
bytes refused a valid change of two 1024-character passwords outside ASCII."""


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Annotated[str, Field(min_length=1, max_length=64)]


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Annotated[str, Field(min_length=MIN_PASSWORD, max_length=1024)]


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: Literal["off", "leads_and_admins", "everyone"]


def _box(request: web.Request) -> SecretBox:
    box = auth_config(request.app).box
    if box is None:
        raise ProblemError(
            503,
            "Two-factor unavailable",
            "This server has no TRIAGE_TWO_FACTOR_KEY, so it cannot keep TOTP secrets.",
        )
    return box


async def _end_sessions(
    conn: AsyncConnection,
    caller: Caller,
    user_id: uuid.UUID,
    now: datetime,
    action: str,
    detail: dict[str, Any] | None = None,
) -> int:
    """A change to how ``user_id`` proves who they are ends their sessions (opened with the old
    proof) — all but the caller's own — in the same transaction, audited; returns how many."""
    keep = caller.session_id if user_id == caller.user_id else None
    ended = await accounts.revoke_sessions(conn, caller.workspace_id, user_id, now, keep)
    about = {} if user_id == caller.user_id else {"user_id": str(user_id)}
    await accounts.audit(
        conn,
        caller.workspace_id,
        caller.user_id,
        action,
        detail={**about, **(detail or {}), "sessions_revoked": ended},
    )
    return ended


def _failed_code(what: str) -> ProblemError:
    return ProblemError(
        422,
        "Wrong code",
        f"Wrong, expired or already used code: {what}.",
        errors=[{"pointer": "/code", "detail": "wrong, expired or already used code"}],
    )


async def _limited(conn: AsyncConnection, caller: Caller, request: web.Request) -> list[str]:
    """The rate-limit keys of code checks by this user (429 once too many failed)."""
    keys = [f"2fa:{caller.workspace_id}:{caller.user_id}", f"ip:{request.remote or 'unknown'}"]
    if await accounts.too_many_failures(conn, keys, datetime.now(UTC)):
        raise ProblemError(
            429, "Too Many Requests", "Too many wrong codes; try again in 15 minutes."
        )
    return keys


def _unseal(box: SecretBox, caller: Caller, current: two_factor.Enrolment) -> Opened:
    try:
        return two_factor.unseal(box, caller.workspace_id, caller.user_id, current.secret)
    except SecretBoxError:
        raise unreadable_secret(
            caller.workspace_id, caller.user_id, enabled=current.enabled
        ) from None


async def _check_code(
    conn: AsyncConnection, box: SecretBox, caller: Caller, code: str, now: datetime
) -> str | None:
    """``two_factor.check_second_factor`` for the caller; an unreadable secret is a 503."""
    try:
        return await two_factor.check_second_factor(
            conn, box, caller.workspace_id, caller.user_id, code, now
        )
    except SecretBoxError:
        raise unreadable_secret(caller.workspace_id, caller.user_id) from None


async def _record_failure(request: web.Request, keys: list[str]) -> None:
    async with request.app[ENGINE_KEY].begin() as conn:
        await accounts.record_failure(conn, keys, datetime.now(UTC))


# ---- my two-factor ---------------------------------------------------------------------


async def two_factor_status(request: web.Request) -> web.Response:
    caller = await authenticate(request, enrolling=True)
    async with request.app[ENGINE_KEY].connect() as conn:
        current = await two_factor.enrolment(conn, caller.workspace_id, caller.user_id)
        policy = await two_factor.policy(conn, caller.workspace_id)
        left = await two_factor.recovery_codes_left(conn, caller.workspace_id, caller.user_id)
    return json_response(
        {
            "enabled": bool(current and current.enabled),
            "pending": bool(current and not current.enabled),
            "required": rules.two_factor_required(policy, caller.role),
            "recovery_codes_left": left,
            "available": auth_config(request.app).box is not None,
        }
    )


async def enrol(request: web.Request) -> web.Response:
    """A new secret awaiting its first code: the key, its otpauth:// URI and a QR code."""
    caller = await authenticate(request, enrolling=True)
    box = _box(request)
    secret = rules.new_secret()
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].begin() as conn:
        sealed = two_factor.seal(box, caller.workspace_id, caller.user_id, secret)
        if not await two_factor.begin(conn, caller.workspace_id, caller.user_id, sealed, now):
            raise ProblemError(
                409, "Already enabled", "Two-factor is on: disable it first to enrol again."
            )
        email = await _email(conn, caller)
        await accounts.audit(conn, caller.workspace_id, caller.user_id, "two_factor_enrolling")
    return json_response(
        {
            "secret": rules.secret_text(secret),
            "otpauth_uri": rules.otpauth_uri(secret, email),
            "qr_svg": "/v1/me/two-factor/qr.svg",
        },
        status=201,
    )


async def qr_code(request: web.Request) -> web.Response:
    """The pending enrolment's otpauth:// URI as an SVG QR code (an <img> in the desk)."""
    caller = await authenticate(request, enrolling=True)
    box = _box(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        current = await two_factor.enrolment(conn, caller.workspace_id, caller.user_id)
        if current is None or current.enabled:
            raise ProblemError(404, "Not Found", "No enrolment is waiting for its first code.")
        email = await _email(conn, caller)
    secret = _unseal(box, caller, current).plain
    buffer = io.BytesIO()
    segno.make(rules.otpauth_uri(secret, email), error="m", micro=False).save(
        buffer, kind="svg", scale=5, border=4, light="#ffffff", title="Two-factor QR code"
    )
    return web.Response(
        body=buffer.getvalue(),
        content_type="image/svg+xml",
        headers={"Cache-Control": "no-store"},
    )


async def confirm(request: web.Request) -> web.Response:
    """The first code turns two-factor on; ten recovery codes are shown, this once."""
    caller = await authenticate(request, enrolling=True)
    box = _box(request)
    body = await read_model(request, CodeIn, 4096, "Invalid code")
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].begin() as conn:
        keys = await _limited(conn, caller, request)
        current = await two_factor.enrolment(conn, caller.workspace_id, caller.user_id)
        if current is None or current.enabled:
            raise ProblemError(
                409, "Nothing to confirm", "Start enrolment first (POST /v1/me/two-factor/enrol)."
            )
        opened = _unseal(box, caller, current)
        step = rules.matching_step(opened.plain, body.code, now, current.last_step)
        accepted = step is not None and await two_factor.take_step(
            conn, caller.workspace_id, caller.user_id, step, enabled=False
        )
        if accepted:
            await two_factor.reseal(
                conn, box, caller.workspace_id, caller.user_id, opened, current.secret
            )
            codes = await two_factor.enable(conn, caller.workspace_id, caller.user_id, now)
            ended = await _end_sessions(conn, caller, caller.user_id, now, "two_factor_enabled")
    if not accepted:
        await _record_failure(request, keys)
        raise _failed_code("two-factor stays off")
    token_cache(request.app).clear()
    return json_response({"enabled": True, "recovery_codes": codes, "sessions_revoked": ended})


async def disable(request: web.Request) -> web.Response:
    """Two-factor off, proven by a fresh code (or a recovery code); other sessions end."""
    caller = await authenticate(request)
    box = _box(request)
    body = await read_model(request, CodeIn, 4096, "Invalid code")
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].begin() as conn:
        keys = await _limited(conn, caller, request)
        method = await _check_code(conn, box, caller, body.code, now)
        if method is not None:
            await two_factor.remove(conn, caller.workspace_id, caller.user_id)
            ended = await _end_sessions(
                conn, caller, caller.user_id, now, "two_factor_disabled", {"proof": method}
            )
    if method is None:
        await _record_failure(request, keys)
        raise _failed_code("two-factor stays on")
    token_cache(request.app).clear()
    return json_response({"enabled": False, "sessions_revoked": ended})


async def new_recovery_codes(request: web.Request) -> web.Response:
    """Ten fresh recovery codes (the old ones stop working), proven by a fresh TOTP code."""
    caller = await authenticate(request)
    box = _box(request)
    body = await read_model(request, CodeIn, 4096, "Invalid code")
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].begin() as conn:
        keys = await _limited(conn, caller, request)
        method = None
        if rules.is_totp_shaped(body.code.strip()):
            method = await _check_code(conn, box, caller, body.code, now)
        if method is not None:
            codes = await two_factor.replace_recovery_codes(
                conn, caller.workspace_id, caller.user_id
            )
            await accounts.audit(
                conn, caller.workspace_id, caller.user_id, "recovery_codes_replaced"
            )
    if method is None:
        await _record_failure(request, keys)
        raise _failed_code("send a code from your authenticator app")
    return json_response({"recovery_codes": codes})


async def _email(conn: AsyncConnection, caller: Caller) -> str:
    return str(
        (
            await conn.execute(
                text("SELECT email FROM triage.users WHERE workspace_id = :ws AND id = :id"),
                {"ws": caller.workspace_id, "id": caller.user_id},
            )
        ).scalar_one()
    )


# ---- password --------------------------------------------------------------------------


async def change_password(request: web.Request) -> web.Response:
    """A new password, proven by the current one; the user's other sessions end."""
    caller = await authenticate(request)
    body = await read_model(request, PasswordIn, PASSWORD_BODY, "Invalid password change")
    now = datetime.now(UTC)
    keys = [f"password:{caller.workspace_id}:{caller.user_id}", f"ip:{request.remote}"]
    async with request.app[ENGINE_KEY].begin() as conn:
        if await accounts.too_many_failures(conn, keys, now):
            raise ProblemError(
                429, "Too Many Requests", "Too many wrong passwords; try again in 15 minutes."
            )
        stored = (
            await conn.execute(
                text(
                    "SELECT password_hash FROM triage.users WHERE workspace_id = :ws AND id = :id"
                ),
                {"ws": caller.workspace_id, "id": caller.user_id},
            )
        ).scalar_one()
        right = accounts.verify_password(body.current_password, stored)
        if right:
            await accounts.set_password(
                conn, caller.workspace_id, caller.user_id, body.new_password
            )
            ended = await _end_sessions(conn, caller, caller.user_id, now, "password_changed")
    if not right:
        await _record_failure(request, keys)
        raise ProblemError(
            422,
            "Wrong password",
            "The current password is wrong; nothing changed.",
            errors=[{"pointer": "/current_password", "detail": "wrong password"}],
        )
    return json_response({"changed": True, "sessions_revoked": ended})


# ---- sessions --------------------------------------------------------------------------


async def _sessions_of(
    conn: AsyncConnection, request: web.Request, caller: Caller, user_id: uuid.UUID
) -> list[dict[str, object]]:
    """The user's live sessions, with when each ends if left unused."""
    now = datetime.now(UTC)
    idle = auth_config(request.app).limits.idle
    rows = (
        await conn.execute(
            text(
                """
        SELECT id, created_at, last_seen_at, expires_at, method, user_agent
        FROM triage.sessions
        WHERE workspace_id = :ws AND user_id = :user AND revoked_at IS NULL
          AND expires_at > :now AND last_seen_at > :idle
        ORDER BY last_seen_at DESC
        """
            ),
            {"ws": caller.workspace_id, "user": user_id, "now": now, "idle": now - idle},
        )
    ).all()
    return [
        {
            "id": r.id,
            "created_at": r.created_at,
            "last_seen_at": r.last_seen_at,
            "ends_at": min(r.expires_at, r.last_seen_at + idle),
            "method": r.method,
            "user_agent": r.user_agent,
            "current": r.id == caller.session_id,
        }
        for r in rows
    ]


async def _tokens_of(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> list[dict[str, object]]:
    rows = (
        await conn.execute(
            text(
                "SELECT id, name, created_at FROM triage.api_tokens "
                "WHERE workspace_id = :ws AND user_id = :user AND revoked_at IS NULL "
                "ORDER BY created_at"
            ),
            {"ws": workspace_id, "user": user_id},
        )
    ).all()
    return [{"id": r.id, "name": r.name, "created_at": r.created_at} for r in rows]


async def list_sessions(request: web.Request) -> web.Response:
    """My live sessions and API tokens."""
    caller = await authenticate(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        sessions = await _sessions_of(conn, request, caller, caller.user_id)
        tokens = await _tokens_of(conn, caller.workspace_id, caller.user_id)
    return json_response({"sessions": sessions, "tokens": tokens})


def _uuid(request: web.Request, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["id"])
    except ValueError:
        raise ProblemError(404, "Not Found", f"No such {what}.") from None


async def revoke_session(request: web.Request) -> web.Response:
    """End one of my sessions (an admin: anyone's in the workspace)."""
    caller = await authenticate(request)
    session_id = _uuid(request, "session")
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].begin() as conn:
        row = (
            await conn.execute(
                text(
                    """
            UPDATE triage.sessions SET revoked_at = coalesce(revoked_at, :now)
            WHERE workspace_id = :ws AND id = :id AND (user_id = :me OR :admin)
            RETURNING user_id
            """
                ),
                {
                    "ws": caller.workspace_id,
                    "id": session_id,
                    "me": caller.user_id,
                    "admin": caller.role == "admin",
                    "now": now,
                },
            )
        ).first()
        if row is not None:
            await accounts.audit(
                conn,
                caller.workspace_id,
                caller.user_id,
                "session_revoked",
                detail={"session_id": str(session_id), "user_id": str(row.user_id)},
            )
    if row is None:
        raise ProblemError(404, "Not Found", "No such session.")
    response = json_response({"id": session_id, "revoked": True})
    if session_id == caller.session_id:
        response.del_cookie(COOKIE, path="/")
    return response


# ---- administration --------------------------------------------------------------------


async def _user_in_workspace(conn: AsyncConnection, caller: Caller, user_id: uuid.UUID) -> None:
    found = (
        await conn.execute(
            text("SELECT 1 FROM triage.users WHERE workspace_id = :ws AND id = :id"),
            {"ws": caller.workspace_id, "id": user_id},
        )
    ).first()
    if found is None:
        raise ProblemError(404, "Not Found", "No such user in your workspace.")


async def list_users(request: web.Request) -> web.Response:
    """The workspace's users and their two-factor state (admins)."""
    caller = await authenticate(request)
    require_role(caller, "admin")
    async with request.app[ENGINE_KEY].connect() as conn:
        policy = await two_factor.policy(conn, caller.workspace_id)
        rows = (
            await conn.execute(
                text(
                    """
            SELECT u.id, u.email, u.display_name, u.role,
                   coalesce(tf.enabled_at IS NOT NULL, false) AS two_factor
            FROM triage.users AS u
            LEFT JOIN triage.two_factor AS tf
                   ON tf.workspace_id = u.workspace_id AND tf.user_id = u.id
            WHERE u.workspace_id = :ws ORDER BY lower(u.email)
            """
                ),
                {"ws": caller.workspace_id},
            )
        ).all()
    return json_response(
        {
            "items": [
                {
                    "id": r.id,
                    "email": r.email,
                    "display_name": r.display_name,
                    "role": r.role,
                    "two_factor": r.two_factor,
                    "must_enrol": rules.two_factor_required(policy, r.role) and not r.two_factor,
                }
                for r in rows
            ]
        }
    )


async def _admin_over_user(request: web.Request) -> tuple[Caller, uuid.UUID]:
    """An admin caller and the user the path names (each handler then checks that user is
    in the caller's workspace)."""
    caller = await authenticate(request)
    require_role(caller, "admin")
    return caller, _uuid(request, "user")


async def user_sessions(request: web.Request) -> web.Response:
    """A user's live sessions and API tokens (admins)."""
    caller, user_id = await _admin_over_user(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        await _user_in_workspace(conn, caller, user_id)
        sessions = await _sessions_of(conn, request, caller, user_id)
        tokens = await _tokens_of(conn, caller.workspace_id, user_id)
    return json_response({"sessions": sessions, "tokens": tokens})


async def revoke_user_access(request: web.Request) -> web.Response:
    """Sign a user out everywhere: every session and every API token (admins)."""
    caller, user_id = await _admin_over_user(request)
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].begin() as conn:
        await _user_in_workspace(conn, caller, user_id)
        keep = caller.session_id if user_id == caller.user_id else None
        sessions = await accounts.revoke_sessions(conn, caller.workspace_id, user_id, now, keep)
        tokens = await accounts.revoke_tokens(conn, caller.workspace_id, user_id, now)
        await accounts.audit(
            conn,
            caller.workspace_id,
            caller.user_id,
            "access_revoked",
            detail={"user_id": str(user_id), "sessions": sessions, "tokens": tokens},
        )
    token_cache(request.app).clear()
    return json_response({"sessions_revoked": sessions, "tokens_revoked": tokens})


async def reset_two_factor(request: web.Request) -> web.Response:
    """Turn a user's two-factor off (a lost phone) and end their sessions (admins)."""
    caller, user_id = await _admin_over_user(request)
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].begin() as conn:
        await _user_in_workspace(conn, caller, user_id)
        was_on = await two_factor.remove(conn, caller.workspace_id, user_id)
        ended = await _end_sessions(
            conn, caller, user_id, now, "two_factor_reset", {"was_enabled": was_on}
        )
    token_cache(request.app).clear()
    return json_response({"two_factor": False, "was_enabled": was_on, "sessions_revoked": ended})


async def get_policy(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        policy = await two_factor.policy(conn, caller.workspace_id)
    return json_response({"policy": policy})


async def put_policy(request: web.Request) -> web.Response:
    """Who must use two-factor: nobody, leads and admins, or everyone (admins)."""
    caller = await authenticate(request)
    require_role(caller, "admin")
    body = await read_model(request, PolicyIn, 4096, "Invalid policy")
    if body.policy != "off":
        _box(request)  # nobody could enrol: refuse rather than lock the workspace out
    async with request.app[ENGINE_KEY].begin() as conn:
        previous = await two_factor.set_policy(conn, caller.workspace_id, body.policy)
        if previous != body.policy:
            await accounts.audit(
                conn,
                caller.workspace_id,
                caller.user_id,
                "two_factor_policy_changed",
                detail={"from": previous, "to": body.policy},
            )
    token_cache(request.app).clear()
    return json_response({"policy": body.policy})


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
