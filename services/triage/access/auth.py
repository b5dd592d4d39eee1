"""Who is calling: an API token (Bearer) or a session cookie. Every area's routes ask here
(``authenticate``, ``authorised`` for a role; ``still_authorised`` for long requests).

API tokens are checked on every request: their owner is cached for a few seconds. A token
revoked here stops at once; on another replica within ``TOKEN_CACHE_SECONDS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from services.infra.auth import bearer_token, same_secret, token_digest
from services.infra.auth_failures import wrong_token
from services.infra.db import autocommit
from services.infra.http import ENGINE_KEY, ProblemError
from services.infra.secretbox import SecretBox
from services.infra.ttl_cache import TtlCache
from services.triage.access import accounts
from services.triage.access.accounts import Caller, SessionLimits

COOKIE = "ecoute_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AuthConfig:
    """Session lifetimes, the key that seals TOTP secrets (None: 2FA unavailable), and the
    clock that failed attempts are counted by (tests pass their own)."""

    limits: SessionLimits = field(default_factory=SessionLimits)
    box: SecretBox | None = None
    clock: Callable[[], datetime] = utc_now


AUTH_CONFIG_KEY = web.AppKey("auth_config", AuthConfig)
ENROLMENT_REQUIRED = (
    "Your workspace requires two-factor sign-in: enrol (POST /v1/me/two-factor/enrol, "
    "then confirm with a code) before doing anything else."
)

TOKEN_CACHE_SECONDS = 10.0
TOKEN_CACHE_KEY = web.AppKey("token_cache", TtlCache)


def token_cache(app: web.Application) -> TtlCache[Caller]:
    cache: TtlCache[Caller] = app[TOKEN_CACHE_KEY]
    return cache


def auth_config(app: web.Application) -> AuthConfig:
    return app[AUTH_CONFIG_KEY]


def session_token(request: web.Request, caller: Caller) -> str | None:
    """The session cookie of a caller who came with one (None for an API token)."""
    return request.cookies[COOKIE] if caller.via_session else None


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
    # Autocommit: the directory read and the token read (or the session's touch) are one
    # round trip each, with no BEGIN and COMMIT around them (four round trips were two).
    async with autocommit(request.app[ENGINE_KEY]) as conn:
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
        unknown = "Unknown, expired or revoked credentials."
        if token is not None:
            raise wrong_token(request, token, unknown)
        raise ProblemError(401, "Unauthorized", unknown)
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


async def authorised(request: web.Request, *roles: str) -> Caller:
    """The signed-in caller, refused (403) unless their role is one of ``roles``."""
    caller = await authenticate(request)
    if caller.role not in roles:
        raise ProblemError(403, "Forbidden", f"Only {' and '.join(roles)}s may do this.")
    return caller
