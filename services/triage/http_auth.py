"""Signing in and out, and who is calling: an API token (Bearer) or a session cookie."""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import text

from services.infra.auth import bearer_token, new_token, same_secret, token_digest
from services.infra.auth_failures import count_failure, refuse_if_limited
from services.infra.http import ENGINE_KEY, ProblemError, json_response
from services.infra.strings import NO_NUL
from services.infra.ttl_cache import TtlCache
from services.triage import accounts
from services.triage.accounts import Caller

COOKIE = "ecoute_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, Field(min_length=3, max_length=320, pattern=NO_NUL)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    workspace_id: uuid.UUID | None = None


# API tokens are checked on every request: their owner is cached for a few seconds. A token
# revoked here stops at once; on another replica within TOKEN_CACHE_SECONDS.
TOKEN_CACHE_SECONDS = 10.0
TOKEN_CACHE_KEY = web.AppKey("token_cache", TtlCache)


def token_cache(app: web.Application) -> TtlCache[Caller]:
    cache: TtlCache[Caller] = app[TOKEN_CACHE_KEY]
    return cache


async def authenticate(request: web.Request) -> Caller:
    """The caller, or 401. Writes made with a session cookie must carry its CSRF token."""
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
            caller = await accounts.caller_of_session(conn, request.cookies[COOKIE], now)
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


def require_role(caller: Caller, *roles: str) -> None:
    if caller.role not in roles:
        raise ProblemError(403, "Forbidden", f"Only {' and '.join(roles)}s may do this.")


async def login(request: web.Request) -> web.Response:
    """Password sign-in; the same answer for an unknown e-mail and a wrong password."""
    try:
        body = LoginIn.model_validate_json(await request.content.read(8192))
    except ValidationError as exc:
        errors = [
            {"pointer": "/" + "/".join(str(p) for p in e["loc"]), "detail": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise ProblemError(
            422, "Invalid sign-in", errors[0]["pointer"] + ": " + errors[0]["detail"], errors=errors
        ) from None
    now = datetime.now(UTC)
    keys = [f"email:{body.email.lower()}", f"ip:{request.remote or 'unknown'}"]
    engine = request.app[ENGINE_KEY]
    async with engine.begin() as conn:
        if await accounts.too_many_failures(conn, keys, now):
            raise ProblemError(
                429,
                "Too Many Requests",
                "Too many failed sign-ins; try again in 15 minutes.",
                retry_after=int(accounts.LOGIN_WINDOW.total_seconds()),
            )
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
    workspace_id, user_id, role, _ = matching[0]
    async with engine.begin() as conn:
        token, csrf = await accounts.open_session(conn, workspace_id, user_id, now)
        await accounts.audit(conn, workspace_id, user_id, "signed_in")
    response = json_response(
        {
            "user": {
                "id": user_id,
                "workspace_id": workspace_id,
                "email": body.email,
                "role": role,
            },
            "csrf_token": csrf,
        }
    )
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
        max_age=int(accounts.SESSION_MAX.total_seconds()),
    )
    return response


async def logout(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    if caller.via_session:
        async with request.app[ENGINE_KEY].begin() as conn:
            await accounts.close_session(conn, request.cookies[COOKIE], datetime.now(UTC))
            await accounts.audit(conn, caller.workspace_id, caller.user_id, "signed_out")
    response = json_response({"signed_out": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    """Who I am; with a session, a fresh CSRF token (a page reload loses the old one)."""
    caller = await authenticate(request)
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
        }
    )


def add_routes(app: web.Application) -> None:
    add_token_routes(app)
    app.router.add_post("/v1/auth/login", login)
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
    try:
        body = TokenIn.model_validate_json(await request.content.read(4096))
    except ValidationError as exc:
        errors = [
            {"pointer": "/" + "/".join(str(p) for p in e["loc"]), "detail": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise ProblemError(
            422,
            "Invalid token request",
            errors[0]["pointer"] + ": " + errors[0]["detail"],
            errors=errors,
        ) from None
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
