"""The team, run by its admins: invitations, roles, deactivation, password resets, and new
workspaces with their first admin (from the API or the command line). Every change is in the
audit log; the SQL is in ``store.py``, the links in ``links.py``.

A workspace always keeps one active admin: the last one is neither demoted nor deactivated
(changes are serialised per workspace, so two admins demoting each other at once cannot
both succeed), and no admin deactivates themselves. Deactivating someone takes their
password, ends their sessions, API tokens, pending sign-ins and unused links in the same
transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.access import accounts, links, store
from services.triage.access.accounts import Caller
from services.triage.access.links import AlreadyMember, Link
from services.triage.access.store import NewLink


class LastAdmin(Exception):
    """The change would leave the workspace without an active admin."""


class OwnAccount(Exception):
    """An admin does not deactivate themselves: another admin does."""


class Deactivated(Exception):
    """The user is deactivated: reactivate them first."""


class NotDeactivated(Exception):
    """The user is active already."""


@dataclass(frozen=True, slots=True)
class Issued:
    """A link just issued, and where it goes: the person's e-mail, the workspace's name."""

    link: Link
    email: str
    role: str
    workspace_name: str


async def _issue(
    conn: AsyncConnection,
    new: NewLink,
    now: datetime,
    lifetime: timedelta | None = None,
) -> Issued:
    """Issue the link; with whom it is for (an invitation's e-mail and role, else its
    user's)."""
    link = await links.issue(conn, new, now, lifetime)
    name = await store.workspace_name(conn, new.workspace_id)
    email, role = new.email, new.role
    user = None if new.user_id is None else await store.member(conn, new.workspace_id, new.user_id)
    if user is not None:
        email, role = user.email, user.role
    return Issued(link, email or "", role or "", name or "")


def _set_password_link(
    workspace_id: uuid.UUID, user_id: uuid.UUID, by: uuid.UUID | None
) -> NewLink:
    return NewLink(workspace_id, uuid.uuid4(), "set_password", user_id, None, None, "", by)


async def _audit(conn: AsyncConnection, caller: Caller, action: str, **detail: object) -> None:
    await store.audit(conn, caller.workspace_id, caller.user_id, action, detail=detail)


# ---- invitations -----------------------------------------------------------------------


async def invite(
    conn: AsyncConnection, caller: Caller, email: str, role: str, display_name: str, now: datetime
) -> Issued:
    """An invitation to join the caller's workspace with ``role`` (it replaces an unused one
    to the same e-mail); ``AlreadyMember`` if someone has that e-mail there."""
    found = await store.member_by_email(conn, caller.workspace_id, email)
    if found is not None:
        raise AlreadyMember(found.deactivated)
    ws, by = caller.workspace_id, caller.user_id
    new = NewLink(ws, uuid.uuid4(), "invitation", None, email, role, display_name, by)
    issued = await _issue(conn, new, now)
    await _audit(conn, caller, "invitation_created", invitation_id=str(new.id), role=role)
    return issued


async def invitations(
    conn: AsyncConnection, caller: Caller, now: datetime
) -> list[dict[str, object]]:
    """The caller's workspace's invitations still waiting to be accepted."""
    return [
        {
            "id": r.id,
            "email": r.email,
            "role": r.role,
            "display_name": r.display_name,
            "invited_by": r.created_by,
            "created_at": r.created_at,
            "expires_at": r.expires_at,
        }
        for r in await store.live_invitations(conn, caller.workspace_id, now)
    ]


async def revoke_invitation(
    conn: AsyncConnection, caller: Caller, invitation_id: uuid.UUID, now: datetime
) -> bool:
    """Revoke an unused invitation; False if there is no such one."""
    if not await store.revoke_invitation(conn, caller.workspace_id, invitation_id, now):
        return False
    await _audit(conn, caller, "invitation_revoked", invitation_id=str(invitation_id))
    return True


# ---- members ---------------------------------------------------------------------------


async def _member(conn: AsyncConnection, caller: Caller, user_id: uuid.UUID) -> tuple[str, bool]:
    """(role, deactivated) of a user of the caller's workspace, with the team locked;
    ``NoSuchUser`` otherwise."""
    await store.lock_team(conn, caller.workspace_id)
    found = await store.member(conn, caller.workspace_id, user_id)
    if found is None:
        raise accounts.NoSuchUser(user_id)
    return str(found.role), bool(found.deactivated)


async def _keep_an_admin(conn: AsyncConnection, caller: Caller, role: str) -> None:
    """``LastAdmin`` if an active admin leaving their role would leave no other."""
    if role == "admin" and await store.active_admins(conn, caller.workspace_id) <= 1:
        raise LastAdmin


async def change_role(conn: AsyncConnection, caller: Caller, user_id: uuid.UUID, role: str) -> str:
    """Give a user another role (at once: it is read on every request); the previous one."""
    previous, deactivated = await _member(conn, caller, user_id)
    if previous != role:
        if not deactivated:
            await _keep_an_admin(conn, caller, previous)
        await store.set_role(conn, caller.workspace_id, user_id, role)
        await _audit(
            conn, caller, "role_changed", user_id=str(user_id), **{"from": previous, "to": role}
        )
    return previous


async def deactivate(
    conn: AsyncConnection, caller: Caller, user_id: uuid.UUID, now: datetime
) -> tuple[int, int]:
    """Someone left: their password, sessions, API tokens, pending sign-ins and unused links
    end now; (sessions, tokens) ended. Deactivating a deactivated user changes nothing."""
    if user_id == caller.user_id:
        raise OwnAccount
    role, deactivated = await _member(conn, caller, user_id)
    if deactivated:
        return 0, 0
    await _keep_an_admin(conn, caller, role)
    ws = caller.workspace_id
    await store.set_deactivated(conn, ws, user_id, now)
    sessions = await store.revoke_sessions(conn, ws, user_id, now)
    tokens = await store.revoke_tokens(conn, ws, user_id, now)
    await store.close_pending_logins(conn, ws, user_id, now)
    await store.revoke_user_links(conn, ws, user_id, now)
    await _audit(
        conn,
        caller,
        "user_deactivated",
        user_id=str(user_id),
        sessions_revoked=sessions,
        tokens_revoked=tokens,
    )
    return sessions, tokens


async def reactivate(
    conn: AsyncConnection, caller: Caller, user_id: uuid.UUID, now: datetime
) -> Issued:
    """Someone is back: active again, with a link to set a new password (the old one is
    gone); ``NotDeactivated`` if they never left."""
    _, deactivated = await _member(conn, caller, user_id)
    if not deactivated:
        raise NotDeactivated
    await store.set_deactivated(conn, caller.workspace_id, user_id, None)
    issued = await _password_link(conn, caller, user_id, now)
    await _audit(
        conn, caller, "user_reactivated", user_id=str(user_id), link_id=str(issued.link.id)
    )
    return issued


async def _password_link(
    conn: AsyncConnection, caller: Caller, user_id: uuid.UUID, now: datetime
) -> Issued:
    new = _set_password_link(caller.workspace_id, user_id, caller.user_id)
    return await _issue(conn, new, now)


async def reset_password(
    conn: AsyncConnection, caller: Caller, user_id: uuid.UUID, force: bool, now: datetime
) -> tuple[Issued, int]:
    """A link to set a new password (a forgotten one); with ``force`` the current password
    stops working and the user's sessions end now: (the link, sessions ended)."""
    _, deactivated = await _member(conn, caller, user_id)
    if deactivated:
        raise Deactivated
    ended = 0
    if force:
        await store.clear_password(conn, caller.workspace_id, user_id)
        keep = caller.session_id if user_id == caller.user_id else None
        ended = await store.revoke_sessions(conn, caller.workspace_id, user_id, now, keep)
    issued = await _password_link(conn, caller, user_id, now)
    await _audit(
        conn,
        caller,
        "password_reset_issued",
        user_id=str(user_id),
        link_id=str(issued.link.id),
        forced=force,
        sessions_revoked=ended,
    )
    return issued, ended


# ---- workspaces and their first admin ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Admin:
    """A workspace's admin just made (or restored), and their set-password link if any."""

    workspace_id: uuid.UUID
    user_id: uuid.UUID
    issued: Issued | None


async def create_admin(
    conn: AsyncConnection,
    workspace_name: str,
    email: str,
    display_name: str,
    now: datetime,
    *,
    workspace_id: uuid.UUID | None = None,
    password: str | None = None,
    created_by: Caller | None = None,
) -> Admin:
    """A workspace (made unless ``workspace_id`` names one) and an active admin with this
    e-mail — made, or an existing user promoted and reactivated: the way back in for a team
    that lost its admins —, with ``password`` or else a one-time link to set one (valid as
    long as an invitation)."""
    workspace_id = await store.create_workspace(conn, workspace_name, workspace_id)
    user_id = await store.create_user(conn, workspace_id, email, display_name or email, "admin")
    found = await store.member(conn, workspace_id, user_id)
    if found is not None and found.deactivated:
        await store.set_deactivated(conn, workspace_id, user_id, None)
    issued = None
    if password is not None:
        await accounts.set_password(conn, workspace_id, user_id, password)
    else:
        new = _set_password_link(workspace_id, user_id, None)
        issued = await _issue(conn, new, now, links.LIFETIMES["invitation"])
    by = {} if created_by is None else {"by_workspace_id": str(created_by.workspace_id)}
    await store.audit(
        conn, workspace_id, None, "admin_created", detail={"user_id": str(user_id), **by}
    )
    if created_by is not None:
        await _audit(conn, created_by, "workspace_created", workspace_id=str(workspace_id))
    return Admin(workspace_id, user_id, issued)


async def sign_in_link(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    email: str,
    now: datetime,
    lifetime: timedelta | None = None,
) -> Issued:
    """A one-time link that signs an active user in (the command line's: demos, support);
    ``NoSuchUser`` if the workspace has no active user with this e-mail."""
    found = await store.member_by_email(conn, workspace_id, email)
    if found is None or found.deactivated:
        raise accounts.NoSuchUser(email)
    new = NewLink(workspace_id, uuid.uuid4(), "sign_in", found.id, None, None, "", None)
    issued = await _issue(conn, new, now, lifetime)
    await store.audit(
        conn, workspace_id, None, "sign_in_link_issued", detail={"user_id": str(found.id)}
    )
    return issued
