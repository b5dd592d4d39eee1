"""Routes of the team: admins invite people, change roles, deactivate and reactivate users,
send password links and create workspaces (``team.py``); anyone with a one-time link reads
what it is and uses it (``links.py``).

A link's token travels in POST bodies only, never in a URL a server or proxy would log. A
wrong token counts against the client address like a wrong API token (429 after
``*_AUTH_MAX_FAILURES`` a minute). Each link issued is in the answer, and mailed too when
SMTP is configured (the answer says whether it was).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.auth_failures import counted_refusal
from services.infra.client_address import address_key, client_address
from services.infra.http import ENGINE_KEY, ProblemError, model_response, read_model
from services.infra.strings import NO_NUL
from services.triage.access import accounts, links, mail, sign_in, team
from services.triage.access.auth import authorised, token_cache
from services.triage.access.http import (
    attempt_of,
    cannot_check_codes,
    signed_in_or_code,
    uuid_in_path,
)
from services.triage.access.http_security import (
    MIN_PASSWORD,
    PASSWORD_BODY,
    admin_over_user,
    no_such_user,
)
from services.triage.access.schemas import (
    DeactivatedOut,
    InvitationRevokedOut,
    InvitationsOut,
    LinkIssuedOut,
    LinkViewOut,
    PasswordLinkOut,
    ReactivatedOut,
    RoleChangedOut,
    WorkspaceCreatedOut,
)

_ADDRESS = r"[^@\s\x00-\x1f\x7f<>,;:\"()\[\]\\]{1,200}"
EMAIL = f"^{_ADDRESS}@{_ADDRESS}$"
T = TypeVar("T")
"""One @, no space, control character or character that would need quoting in a mail
header."""
Role = Literal["agent", "lead", "admin"]
Email = Annotated[str, Field(min_length=3, max_length=320, pattern=EMAIL)]
Name = Annotated[str, Field(max_length=200, pattern=NO_NUL)]
Token = Annotated[str, Field(min_length=1, max_length=200)]


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    role: Role
    display_name: Name = ""


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class PasswordLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    force: bool = False
    """True: the current password stops working and the user's sessions end now."""


class WorkspaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
    admin_email: Email
    admin_name: Name = ""


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Token


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Token
    password: Annotated[str, Field(min_length=MIN_PASSWORD, max_length=1024)] | None = None


@dataclass(frozen=True)
class TeamConfig:
    """Where links point (None: where the admin's request came) and how they are mailed."""

    public_url: str | None = None
    mail: mail.MailConfig = field(default_factory=mail.MailConfig)


TEAM_CONFIG_KEY = web.AppKey("team_config", TeamConfig)


def _config(request: web.Request) -> TeamConfig:
    return request.app[TEAM_CONFIG_KEY]


def desk_url(request: web.Request) -> str:
    return _config(request).public_url or f"{request.scheme}://{request.host}"


async def _link_answer(
    request: web.Request,
    issued: team.Issued,
    shape: type[LinkIssuedOut] = LinkIssuedOut,
    status: int = 201,
    **extra: object,
) -> web.Response:
    """The link (shown this once) and whether it was mailed to the person."""
    config = _config(request).mail
    link = issued.link
    url = link.url(desk_url(request))
    letter = mail.Letter(
        link.kind, issued.email, url, issued.workspace_name, issued.role, link.expires_at
    )
    why = await mail.mail_link(config, letter)
    return model_response(
        shape,
        {
            **extra,
            "id": link.id,
            "kind": link.kind,
            "email": issued.email,
            "role": issued.role,
            "link": url,
            "expires_at": link.expires_at,
            "mailed": why is None,
            "mail_error": why,
        },
        status=status,
    )


def _already_member(exc: links.AlreadyMember) -> ProblemError:
    detail = "Someone with this e-mail is already in the workspace" + (
        " (deactivated: reactivate them instead)." if exc.deactivated else "."
    )
    return ProblemError(409, "Already a member", detail)


# ---- invitations -----------------------------------------------------------------------


async def create_invitation(request: web.Request) -> web.Response:
    """Invite someone by e-mail with a role: a one-time link, shown and (SMTP) mailed."""
    caller = await authorised(request, "admin")
    body = await read_model(request, InvitationIn, 4096, "Invalid invitation")
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            issued = await team.invite(
                conn, caller, body.email, body.role, body.display_name, datetime.now(UTC)
            )
    except links.AlreadyMember as exc:
        raise _already_member(exc) from None
    return await _link_answer(request, issued)


async def list_invitations(request: web.Request) -> web.Response:
    caller = await authorised(request, "admin")
    async with request.app[ENGINE_KEY].connect() as conn:
        items = await team.invitations(conn, caller, datetime.now(UTC))
    return model_response(InvitationsOut, {"items": items})


async def revoke_invitation(request: web.Request) -> web.Response:
    caller = await authorised(request, "admin")
    invitation_id = uuid_in_path(request, "invitation")
    async with request.app[ENGINE_KEY].begin() as conn:
        revoked = await team.revoke_invitation(conn, caller, invitation_id, datetime.now(UTC))
    if not revoked:
        raise ProblemError(404, "Not Found", "No such invitation waiting in your workspace.")
    return model_response(InvitationRevokedOut, {"id": invitation_id, "revoked": True})


# ---- members ---------------------------------------------------------------------------

REFUSALS: dict[type[Exception], tuple[str, str]] = {
    team.LastAdmin: (
        "Last admin",
        "The workspace would have no active admin left: make another admin first.",
    ),
    team.OwnAccount: ("Your own account", "Another admin deactivates you, not yourself."),
    team.Deactivated: ("Deactivated", "Reactivate this user first."),
    team.NotDeactivated: ("Active", "This user is active already."),
}


async def _change(
    request: web.Request, change: Callable[[AsyncConnection, datetime], Awaitable[T]]
) -> T:
    """Run an admin's change to a user in a transaction: 404 for another workspace's user,
    409 for what the team's rules refuse."""
    try:
        async with request.app[ENGINE_KEY].begin() as conn:
            return await change(conn, datetime.now(UTC))
    except accounts.NoSuchUser:
        raise no_such_user() from None
    except tuple(REFUSALS) as exc:
        raise ProblemError(409, *REFUSALS[type(exc)]) from None


async def put_role(request: web.Request) -> web.Response:
    caller, user_id = await admin_over_user(request)
    body = await read_model(request, RoleIn, 4096, "Invalid role")
    previous = await _change(
        request, lambda conn, _: team.change_role(conn, caller, user_id, body.role)
    )
    token_cache(request.app).clear()  # the cached callers carry their role
    changed = {"id": user_id, "role": body.role, "previous_role": previous}
    return model_response(RoleChangedOut, changed)


async def deactivate(request: web.Request) -> web.Response:
    """Someone left: no more sign-in; their sessions, tokens and links end now."""
    caller, user_id = await admin_over_user(request)
    sessions, tokens = await _change(
        request, lambda conn, now: team.deactivate(conn, caller, user_id, now)
    )
    token_cache(request.app).clear()
    return model_response(
        DeactivatedOut,
        {"id": user_id, "active": False, "sessions_revoked": sessions, "tokens_revoked": tokens},
    )


async def reactivate(request: web.Request) -> web.Response:
    """Someone is back: active again, with a one-time link to set a new password."""
    caller, user_id = await admin_over_user(request)
    issued = await _change(request, lambda conn, now: team.reactivate(conn, caller, user_id, now))
    return await _link_answer(request, issued, ReactivatedOut, 200, user_id=user_id)


async def password_link(request: web.Request) -> web.Response:
    """A one-time link to set a new password; ``force`` also ends the current one now."""
    caller, user_id = await admin_over_user(request)
    body = await read_model(request, PasswordLinkIn, 4096, "Invalid password reset")
    issued, ended = await _change(
        request, lambda conn, now: team.reset_password(conn, caller, user_id, body.force, now)
    )
    return await _link_answer(
        request, issued, PasswordLinkOut, 200, user_id=user_id, sessions_revoked=ended
    )


async def create_workspace(request: web.Request) -> web.Response:
    """A new workspace and its first admin, who gets a one-time link to set a password."""
    caller = await authorised(request, "admin")
    body = await read_model(request, WorkspaceIn, 4096, "Invalid workspace")
    async with request.app[ENGINE_KEY].begin() as conn:
        made = await team.create_admin(
            conn,
            body.name,
            body.admin_email,
            body.admin_name,
            datetime.now(UTC),
            created_by=caller,
        )
    assert made.issued is not None  # no password given: a link
    return await _link_answer(
        request,
        made.issued,
        WorkspaceCreatedOut,
        workspace_id=made.workspace_id,
        user_id=made.user_id,
    )


# ---- using a link ----------------------------------------------------------------------

LINK_REFUSED = "This link is unknown, expired or already used: ask an admin for a new one."


def _refused(request: web.Request) -> ProblemError:
    """404 for a link that does not open; counted against the client's address, so a
    guesser gets 429 with Retry-After (a valid link is never refused for others' misses)."""
    address = address_key(client_address(request))
    refusal = ProblemError(404, "Not Found", LINK_REFUSED)
    return counted_refusal(request, [address], refusal, "unknown links")


async def describe_link(request: web.Request) -> web.Response:
    """What a link is (its workspace, e-mail, role, whether it wants a password); reading
    it does not use it."""
    body = await read_model(request, LinkIn, 4096, "Invalid link")
    try:
        async with request.app[ENGINE_KEY].connect() as conn:
            view = await links.describe(conn, body.token, datetime.now(UTC))
    except links.LinkRefused:
        raise _refused(request) from None
    return model_response(
        LinkViewOut,
        {
            "kind": view.kind,
            "email": view.email,
            "role": view.role,
            "workspace_name": view.workspace_name,
            "expires_at": view.expires_at,
            "needs_password": view.needs_password,
        },
    )


async def accept_link(request: web.Request) -> web.Response:
    """Use a link once: set the password it asks for and sign in (or, with two-factor on,
    answer the pending token of the code step, as a password sign-in does)."""
    body = await read_model(request, AcceptIn, PASSWORD_BODY, "Invalid link")
    try:
        result = await links.redeem(
            request.app[ENGINE_KEY], body.token, body.password, attempt_of(request)
        )
    except links.LinkRefused:
        raise _refused(request) from None
    except links.PasswordNeeded:
        raise ProblemError(
            422,
            "Password needed",
            f"Choose a password of at least {MIN_PASSWORD} characters.",
            errors=[{"pointer": "/password", "detail": "required"}],
        ) from None
    except links.AlreadyMember as exc:
        raise _already_member(exc) from None
    except sign_in.CannotCheckCodes:
        raise cannot_check_codes() from None
    return signed_in_or_code(request, result)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/auth/link", describe_link)
    app.router.add_post("/v1/auth/link/accept", accept_link)
    app.router.add_get("/v1/invitations", list_invitations)
    app.router.add_post("/v1/invitations", create_invitation)
    app.router.add_delete("/v1/invitations/{id}", revoke_invitation)
    app.router.add_put("/v1/users/{id}/role", put_role)
    app.router.add_post("/v1/users/{id}/deactivate", deactivate)
    app.router.add_post("/v1/users/{id}/reactivate", reactivate)
    app.router.add_post("/v1/users/{id}/password-link", password_link)
    app.router.add_post("/v1/workspaces", create_workspace)
