"""Signing in and out, and who is calling: an API token (Bearer) or a session cookie.

With two-factor on, sign-in takes two steps: the password answers a pending token (valid
5 minutes, 5 tries, good for nothing but the second step), and the code (or a recovery code)
sent with it opens the session. Wrong, expired and replayed codes get one and the same answer
and count as failed sign-ins.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.auth import bearer_token, new_token, same_secret, token_digest
from services.infra.auth_failures import count_failure, refuse_if_limited
from services.infra.http import ENGINE_KEY, ProblemError, json_response, read_model
from services.infra.secretbox import SecretBox, SecretBoxError
from services.infra.strings import NO_NUL
from services.infra.ttl_cache import TtlCache
from services.triage.access import accounts, two_factor
from services.triage.access.accounts import Caller, SessionLimits

log = logging.getLogger("ecoute.triage.auth")

COOKIE = "ecoute_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, Field(min_length=3, max_length=320, pattern=NO_NUL)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    workspace_id: uuid.UUID | None = None


class LoginCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pending_token: Annotated[str, Field(min_length=1, max_length=200)]
    code: Annotated[str, Field(min_length=1, max_length=64)]


@dataclass(frozen=True)
class AuthConfig:
    """Session lifetimes, and the key that seals TOTP secrets (None: 2FA unavailable)."""

    limits: SessionLimits = field(default_factory=SessionLimits)
    box: SecretBox | None = None


AUTH_CONFIG_KEY = web.AppKey("auth_config", AuthConfig)
ENROLMENT_REQUIRED = (
    "Your workspace requires two-factor sign-in: enrol (POST /v1/me/two-factor/enrol, "
    "then confirm with a code) before doing anything else."
)
WRONG_CODE = "Wrong, expired or already used code."
CANNOT_READ = (
    "Your two-factor secret cannot be read with this server's keys (TRIAGE_TWO_FACTOR_KEY "
    "and TRIAGE_TWO_FACTOR_OLD_KEYS). "
)


def unreadable_secret(
    workspace_id: uuid.UUID, user_id: uuid.UUID, *, enabled: bool = True
) -> ProblemError:
    """The answer when no configured key opens a user's TOTP secret (the key changed and the
    old one is not listed): a clear 503, and a warning naming only the ids."""
    log.warning(
        "two-factor secret unreadable with the configured keys",
        extra={"workspace_id": str(workspace_id), "user_id": str(user_id)},
    )
    remedy = (
        "Sign in with a recovery code, or ask an admin to reset your two-factor."
        if enabled
        else "Start enrolment again (POST /v1/me/two-factor/enrol)."
    )
    return ProblemError(503, "Two-factor unavailable", CANNOT_READ + remedy)


# API tokens are checked on every request: their owner is cached for a few seconds. A token
# revoked here stops at once; on another replica within TOKEN_CACHE_SECONDS.
TOKEN_CACHE_SECONDS = 10.0
TOKEN_CACHE_KEY = web.AppKey("token_cache", TtlCache)


def token_cache(app: web.Application) -> TtlCache[Caller]:
    cache: TtlCache[Caller] = app[TOKEN_CACHE_KEY]
    return cache


def auth_config(app: web.Application) -> AuthConfig:
    return app[AUTH_CONFIG_KEY]


async def authenticate(request: web.Request, *, enrolling: bool = False) -> Caller:
    """The caller, or 401. Writes made with a session cookie must carry its CSRF token.

    A caller whom the workspace's policy obliges to use two-factor, and who has not enrolled,
    is refused (403) everywhere but where ``enrolling`` is set (enrolment, /v1/me, sign-out).
    """
    caller = await _identify(request)
    if caller.must_enrol and not enrolling:
        raise ProblemError(
            403, "Two-factor enrolment required", ENROLMENT_REQUIRED, enrolment_required=True
        )
    return caller


async def _identify(request: web.Request) -> Caller:
    now = datetime.now(UTC)
    token = bearer_token(request.headers.get("Authorization"))
    if token is not None:
        digest = token_digest(token)
        cached = token_cache(request.app).get(digest)
        if cached is not None:
            return cached
        refuse_if_limited(request, time.monotonic())
    async with request.app[ENGINE_KEY].begin() as conn:
        if token is not None:
            caller = await accounts.caller_of_token(conn, token)
            if caller is not None:
                token_cache(request.app).put(digest, caller)
        elif COOKIE in request.cookies:
            caller = await accounts.caller_of_session(
                conn, request.cookies[COOKIE], now, auth_config(request.app).limits
            )
        else:
            raise ProblemError(
                401, "Unauthorized", "Sign in, or send an API token as 'Bearer <token>'."
            )
    if caller is None:
        if token is not None:
            count_failure(request, time.monotonic())
        raise ProblemError(401, "Unauthorized", "Unknown, expired or revoked credentials.")
    if caller.via_session and request.method not in SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token", "")
        if (
            not sent
            or caller.csrf_digest is None
            or not same_secret(token_digest(sent), caller.csrf_digest)
        ):
            raise ProblemError(403, "Forbidden", "Missing or wrong X-CSRF-Token header.")
    return caller


async def still_authorised(request: web.Request, caller: Caller) -> bool:
    """Whether a long request's credentials (the event stream's) still hold: the session or
    token not revoked or expired, and no enrolment newly required. Read from the database,
    not the token cache, so a revocation ends an open stream at its next check."""
    now = datetime.now(UTC)
    async with request.app[ENGINE_KEY].connect() as conn:
        if caller.via_session:
            return await accounts.session_is_live(
                conn, request.cookies.get(COOKIE, ""), now, auth_config(request.app).limits
            )
        token = bearer_token(request.headers.get("Authorization"))
        fresh = await accounts.caller_of_token(conn, token) if token else None
    return fresh is not None and not fresh.must_enrol


def require_role(caller: Caller, *roles: str) -> None:
    if caller.role not in roles:
        raise ProblemError(403, "Forbidden", f"Only {' and '.join(roles)}s may do this.")


async def login(request: web.Request) -> web.Response:
    """Password sign-in; the same answer for an unknown e-mail and a wrong password."""
    body = await read_model(request, LoginIn, 8192, "Invalid sign-in")
    now = datetime.now(UTC)
    keys = [f"email:{body.email.lower()}", f"ip:{request.remote or 'unknown'}"]
    engine = request.app[ENGINE_KEY]
    async with engine.begin() as conn:
        if await accounts.too_many_failures(conn, keys, now):
            raise _too_many()
        candidates = [
            c
            for c in await accounts.find_login(conn, body.email)
            if body.workspace_id in (None, c[0])
        ]
        matching = [c for c in candidates if accounts.verify_password(body.password, c[3])]
        if not candidates:
            accounts.verify_password(body.password, None)  # spend the same time
        if not matching:
            await accounts.record_failure(conn, keys, now)
    if not matching:
        raise ProblemError(401, "Unauthorized", "Wrong e-mail or password.")
    if len(matching) > 1:
        raise ProblemError(
            409,
            "Choose a workspace",
            "This e-mail signs in to several workspaces: send workspace_id.",
            workspaces=[str(c[0]) for c in matching],
        )
    workspace_id, user_id, _, _ = matching[0]
    async with engine.begin() as conn:
        current = await two_factor.enrolment(conn, workspace_id, user_id)
        if current is not None and current.enabled:
            if auth_config(request.app).box is None:
                raise ProblemError(
                    503,
                    "Two-factor unavailable",
                    "This server has no TRIAGE_TWO_FACTOR_KEY, so it cannot check codes.",
                )
            pending = await two_factor.open_pending(conn, workspace_id, user_id, now)
            return json_response(
                {
                    "two_factor_required": True,
                    "pending_token": pending,
                    "expires_in": int(two_factor.PENDING_LIFETIME.total_seconds()),
                }
            )
        return await _signed_in(request, conn, workspace_id, user_id, now, "password")


async def _signed_in(
    request: web.Request,
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
    method: str,
) -> web.Response:
    """Open the session (cookie) and answer who signed in, and whether they must enrol."""
    limits = auth_config(request.app).limits
    token, csrf = await accounts.open_session(
        conn, workspace_id, user_id, now, limits, method, request.headers.get("User-Agent", "")
    )
    await accounts.audit(conn, workspace_id, user_id, "signed_in", detail={"method": method})
    user = (
        await conn.execute(
            text(
                f"SELECT u.email, u.role, {accounts.ENROLMENT_SQL} FROM triage.users AS u "
                "JOIN triage.workspaces AS w ON w.id = u.workspace_id "
                "WHERE u.workspace_id = :ws AND u.id = :id"
            ),
            {"ws": workspace_id, "id": user_id},
        )
    ).one()
    response = json_response(
        {
            "user": {
                "id": user_id,
                "workspace_id": workspace_id,
                "email": user.email,
                "role": user.role,
            },
            "csrf_token": csrf,
            "two_factor_required": False,
            "enrolment_required": user.must_enrol,
        }
    )
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
        max_age=int(limits.absolute.total_seconds()),
    )
    return response


async def login_code(request: web.Request) -> web.Response:
    """The second step: the pending token and a TOTP or recovery code open the session."""
    body = await read_model(request, LoginCodeIn, 4096, "Invalid sign-in")
    now = datetime.now(UTC)
    address_key = f"ip:{request.remote or 'unknown'}"
    box = auth_config(request.app).box
    engine = request.app[ENGINE_KEY]
    async with engine.begin() as conn:
        if await accounts.too_many_failures(conn, [address_key], now):
            raise _too_many()
        pending = await two_factor.claim_pending(conn, body.pending_token, now)
    if pending is None or box is None:
        async with engine.begin() as conn:
            await accounts.record_failure(conn, [address_key], now)
        raise ProblemError(401, "Unauthorized", WRONG_CODE)
    workspace_id, user_id = pending
    keys = [f"2fa:{workspace_id}:{user_id}", address_key]
    async with engine.begin() as conn:
        if await accounts.too_many_failures(conn, keys, now):
            raise _too_many()
        try:
            method = await two_factor.check_second_factor(
                conn, box, workspace_id, user_id, body.code, now
            )
        except SecretBoxError:
            raise unreadable_secret(workspace_id, user_id) from None
        if method is not None:
            await two_factor.close_pending(conn, body.pending_token, now)
            if method == "recovery_code":
                left = await two_factor.recovery_codes_left(conn, workspace_id, user_id)
                await accounts.audit(
                    conn, workspace_id, user_id, "recovery_code_used", detail={"left": left}
                )
            return await _signed_in(request, conn, workspace_id, user_id, now, method)
    async with engine.begin() as conn:
        await accounts.record_failure(conn, keys, now)
    raise ProblemError(401, "Unauthorized", WRONG_CODE)


def _too_many() -> ProblemError:
    return ProblemError(
        429,
        "Too Many Requests",
        "Too many failed sign-ins; try again in 15 minutes.",
        retry_after=int(accounts.LOGIN_WINDOW.total_seconds()),
    )


async def logout(request: web.Request) -> web.Response:
    caller = await authenticate(request, enrolling=True)
    if caller.via_session:
        async with request.app[ENGINE_KEY].begin() as conn:
            await accounts.close_session(conn, request.cookies[COOKIE], datetime.now(UTC))
            await accounts.audit(conn, caller.workspace_id, caller.user_id, "signed_out")
    response = json_response({"signed_out": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    """Who I am; with a session, a fresh CSRF token (a page reload loses the old one)."""
    caller = await authenticate(request, enrolling=True)
    async with request.app[ENGINE_KEY].begin() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT email, display_name, role FROM triage.users "
                    "WHERE workspace_id = :ws AND id = :id"
                ),
                {"ws": caller.workspace_id, "id": caller.user_id},
            )
        ).one()
        csrf = None
        if caller.via_session:
            csrf = secrets.token_urlsafe(32)
            await conn.execute(
                text("UPDATE triage.sessions SET csrf_digest = :c WHERE digest = :d"),
                {"c": token_digest(csrf), "d": token_digest(request.cookies[COOKIE])},
            )
    return json_response(
        {
            "user": {
                "id": caller.user_id,
                "workspace_id": caller.workspace_id,
                "email": row.email,
                "display_name": row.display_name,
                "role": row.role,
            },
            "csrf_token": csrf,
            "enrolment_required": caller.must_enrol,
        }
    )


def add_routes(app: web.Application) -> None:
    add_token_routes(app)
    app.router.add_post("/v1/auth/login", login)
    app.router.add_post("/v1/auth/login/code", login_code)
    app.router.add_post("/v1/auth/logout", logout)
    app.router.add_get("/v1/me", me)


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]


async def list_tokens(request: web.Request) -> web.Response:
    """My API tokens (never their values, which are shown once at creation)."""
    caller = await authenticate(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT id, name, created_at, revoked_at FROM triage.api_tokens "
                    "WHERE workspace_id = :ws AND user_id = :me ORDER BY created_at"
                ),
                {"ws": caller.workspace_id, "me": caller.user_id},
            )
        ).all()
    return json_response(
        {
            "items": [
                {"id": r.id, "name": r.name, "created_at": r.created_at, "revoked_at": r.revoked_at}
                for r in rows
            ]
        }
    )


async def create_token(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    body = await read_model(request, TokenIn, 4096, "Invalid token request")
    token = new_token("eca")
    token_id = uuid.uuid4()
    async with request.app[ENGINE_KEY].begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO triage.api_tokens (digest, workspace_id, user_id, name, id) "
                "VALUES (:d, :ws, :me, :name, :id)"
            ),
            {
                "d": token_digest(token),
                "ws": caller.workspace_id,
                "me": caller.user_id,
                "name": body.name,
                "id": token_id,
            },
        )
        await accounts.audit(
            conn,
            caller.workspace_id,
            caller.user_id,
            "token_created",
            detail={"token_id": str(token_id)},
        )
    return json_response({"id": token_id, "name": body.name, "token": token}, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    """Revoke one of my tokens (an admin may revoke anyone's in the workspace)."""
    caller = await authenticate(request)
    try:
        token_id = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise ProblemError(404, "Not Found", "No such token.") from None
    async with request.app[ENGINE_KEY].begin() as conn:
        row = (
            await conn.execute(
                text(
                    """
            UPDATE triage.api_tokens SET revoked_at = coalesce(revoked_at, now())
            WHERE workspace_id = :ws AND id = :id AND (user_id = :me OR :admin)
            RETURNING id
            """
                ),
                {
                    "ws": caller.workspace_id,
                    "id": token_id,
                    "me": caller.user_id,
                    "admin": caller.role == "admin",
                },
            )
        ).first()
        if row is not None:
            token_cache(request.app).clear()  # only the digest identifies it here: drop all
            await accounts.audit(
                conn,
                caller.workspace_id,
                caller.user_id,
                "token_revoked",
                detail={"token_id": str(token_id)},
            )
    if row is None:
        raise ProblemError(404, "Not Found", "No such token.")
    return json_response({"id": token_id, "revoked": True})


def add_token_routes(app: web.Application) -> None:
    app.router.add_get("/v1/tokens", list_tokens)
    app.router.add_post("/v1/tokens", create_token)
    app.router.add_delete("/v1/tokens/{id}", revoke_token)
