"""Routes of signing in and out, /v1/me and API tokens: parse, call ``sign_in`` or
``accounts``, answer. Who is calling is ``auth.py``'s business.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.infra.client_address import client_address
from services.infra.http import ENGINE_KEY, ProblemError, model_response, read_model
from services.infra.strings import NO_NUL
from services.triage.access import accounts, limits, sign_in, store, two_factor
from services.triage.access.auth import (
    COOKIE,
    auth_config,
    authenticate,
    session_token,
    token_cache,
)
from services.triage.access.schemas import (
    CodeNeededOut,
    MeOut,
    NewTokenOut,
    RevokedOut,
    SignedInOut,
    SignedOutOut,
    TokensOut,
)

log = logging.getLogger("ecoute.triage.auth")


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, Field(min_length=3, max_length=320, pattern=NO_NUL)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    workspace_id: uuid.UUID | None = None


class LoginCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pending_token: Annotated[str, Field(min_length=1, max_length=200)]
    code: Annotated[str, Field(min_length=1, max_length=64)]


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]


WRONG_CODE = "Wrong, expired or already used code."
CANNOT_READ = (
    "Your two-factor secret cannot be read with this server's keys (TRIAGE_TWO_FACTOR_KEY "
    "and TRIAGE_TWO_FACTOR_OLD_KEYS). "
)


def unreadable_secret(exc: two_factor.UnreadableSecret) -> ProblemError:
    """The answer when no configured key opens a user's TOTP secret (the key changed and the
    old one is not listed): a clear 503, and a warning naming only the ids."""
    log.warning(
        "two-factor secret unreadable with the configured keys",
        extra={"workspace_id": str(exc.workspace_id), "user_id": str(exc.user_id)},
    )
    remedy = (
        "Sign in with a recovery code, or ask an admin to reset your two-factor."
        if exc.enabled
        else "Start enrolment again (POST /v1/me/two-factor/enrol)."
    )
    return ProblemError(503, "Two-factor unavailable", CANNOT_READ + remedy)


def too_many(exc: limits.TooManyFailures, what: str) -> ProblemError:
    """429 for an (account, address) pair that must wait, or an address that failed too
    often: ``what`` failed, retry after ``Retry-After``."""
    return ProblemError(
        429,
        "Too Many Requests",
        f"Too many {what} from your address; try again in {exc.retry_after} s.",
        retry_after=exc.retry_after,
    )


def attempt_of(request: web.Request) -> sign_in.Attempt:
    """Where a sign-in comes from, and this server's rules."""
    config = auth_config(request.app)
    return sign_in.Attempt(
        address=client_address(request),
        user_agent=request.headers.get("User-Agent", ""),
        limits=config.limits,
        box=config.box,
        now=config.clock(),
    )


async def login(request: web.Request) -> web.Response:
    """Password sign-in; the same answer for an unknown e-mail and a wrong password."""
    body = await read_model(request, LoginIn, 8192, "Invalid sign-in")
    engine = request.app[ENGINE_KEY]
    try:
        result = await sign_in.with_password(
            engine, body.email, body.password, body.workspace_id, attempt_of(request)
        )
    except limits.TooManyFailures as exc:
        raise too_many(exc, "failed sign-ins") from None
    except sign_in.WrongCredentials:
        raise ProblemError(401, "Unauthorized", "Wrong e-mail or password.") from None
    except sign_in.ChooseWorkspace as exc:
        raise ProblemError(
            409,
            "Choose a workspace",
            "This e-mail signs in to several workspaces: send workspace_id.",
            workspaces=[str(w) for w in exc.workspaces],
        ) from None
    except sign_in.CannotCheckCodes:
        raise cannot_check_codes() from None
    return signed_in_or_code(request, result)


def cannot_check_codes() -> ProblemError:
    return ProblemError(
        503,
        "Two-factor unavailable",
        "This server has no TRIAGE_TWO_FACTOR_KEY, so it cannot check codes.",
    )


def signed_in_or_code(
    request: web.Request, result: sign_in.SignedIn | sign_in.CodeNeeded
) -> web.Response:
    """The session in its cookie, or (two-factor on) the pending token for the code step."""
    if isinstance(result, sign_in.CodeNeeded):
        return model_response(
            CodeNeededOut,
            {
                "two_factor_required": True,
                "pending_token": result.pending_token,
                "expires_in": int(two_factor.PENDING_LIFETIME.total_seconds()),
            },
        )
    return _signed_in(request, result)


async def login_code(request: web.Request) -> web.Response:
    """The second step: the pending token and a TOTP or recovery code open the session."""
    body = await read_model(request, LoginCodeIn, 4096, "Invalid sign-in")
    engine = request.app[ENGINE_KEY]
    try:
        result = await sign_in.with_code(engine, body.pending_token, body.code, attempt_of(request))
    except limits.TooManyFailures as exc:
        raise too_many(exc, "failed sign-ins") from None
    except sign_in.WrongCredentials:
        raise ProblemError(401, "Unauthorized", WRONG_CODE) from None
    except two_factor.UnreadableSecret as exc:
        raise unreadable_secret(exc) from None
    return _signed_in(request, result)


def _signed_in(request: web.Request, result: sign_in.SignedIn) -> web.Response:
    """Who signed in, and whether they must enrol; the session in its cookie."""
    response = model_response(
        SignedInOut,
        {
            "user": {
                "id": result.user_id,
                "workspace_id": result.workspace_id,
                "email": result.email,
                "role": result.role,
            },
            "csrf_token": result.csrf,
            "two_factor_required": False,
            "enrolment_required": result.must_enrol,
        },
    )
    response.set_cookie(
        COOKIE,
        result.token,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
        max_age=int(auth_config(request.app).limits.absolute.total_seconds()),
    )
    return response


async def logout(request: web.Request) -> web.Response:
    caller = await authenticate(request, enrolling=True)
    if caller.via_session:
        async with request.app[ENGINE_KEY].begin() as conn:
            await accounts.sign_out(conn, caller, session_token(request, caller), datetime.now(UTC))
    response = model_response(SignedOutOut, {"signed_out": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    """Who I am; with a session, a fresh CSRF token (a page reload loses the old one)."""
    caller = await authenticate(request, enrolling=True)
    async with request.app[ENGINE_KEY].begin() as conn:
        row, csrf = await accounts.who_am_i(conn, caller, session_token(request, caller))
    return model_response(
        MeOut,
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
        },
    )


def add_routes(app: web.Application) -> None:
    add_token_routes(app)
    app.router.add_post("/v1/auth/login", login)
    app.router.add_post("/v1/auth/login/code", login_code)
    app.router.add_post("/v1/auth/logout", logout)
    app.router.add_get("/v1/me", me)


# ---- API tokens ------------------------------------------------------------------------


def uuid_in_path(request: web.Request, what: str) -> uuid.UUID:
    """The path's ``id`` as a UUID, else 404 "No such …" (like ``infra.http.path_id``)."""
    try:
        return uuid.UUID(request.match_info["id"])
    except ValueError:
        raise ProblemError(404, "Not Found", f"No such {what}.") from None


async def list_tokens(request: web.Request) -> web.Response:
    """My API tokens (never their values, which are shown once at creation)."""
    caller = await authenticate(request)
    async with request.app[ENGINE_KEY].connect() as conn:
        items = await store.api_tokens(conn, caller.workspace_id, caller.user_id)
    return model_response(TokensOut, {"items": items})


async def create_token(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    body = await read_model(request, TokenIn, 4096, "Invalid token request")
    async with request.app[ENGINE_KEY].begin() as conn:
        token_id, token = await accounts.issue_token(conn, caller, body.name)
    created = {"id": token_id, "name": body.name, "token": token}
    return model_response(NewTokenOut, created, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    """Revoke one of my tokens (an admin may revoke anyone's in the workspace)."""
    caller = await authenticate(request)
    token_id = uuid_in_path(request, "token")
    async with request.app[ENGINE_KEY].begin() as conn:
        revoked = await accounts.revoke_token(conn, caller, token_id)
    if not revoked:
        raise ProblemError(404, "Not Found", "No such token.")
    token_cache(request.app).clear()  # only the digest identifies it here: drop all
    return model_response(RevokedOut, {"id": token_id, "revoked": True})


def add_token_routes(app: web.Application) -> None:
    app.router.add_get("/v1/tokens", list_tokens)
    app.router.add_post("/v1/tokens", create_token)
    app.router.add_delete("/v1/tokens/{id}", revoke_token)
