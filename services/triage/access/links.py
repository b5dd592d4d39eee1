"""One-time links: an invitation, a password reset, a sign-in link. The SQL is in
``store.py``; who may issue which link is ``team.py``'s business.

A link is a random token (256 bits) in the fragment of a desk URL (``/#invitation=…``,
``/#set-password=…``, ``/#signin=…``): the fragment never reaches a server log, and the desk sends
the token in a POST body. The database keeps only its SHA-256 digest, with an expiry; using
it is one conditional UPDATE, so a link works once however many tabs race for it. A new link
of a kind replaces the same person's unused one.

Using a link proves who someone is like a password does: with two-factor on, the code step
still follows (``sign_in.session_or_code``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.infra.auth import new_token
from services.triage.access import accounts, sign_in, store
from services.triage.access.store import NewLink

LIFETIMES = {
    "invitation": timedelta(days=7),
    "set_password": timedelta(hours=24),
    "sign_in": timedelta(hours=1),
}
FRAGMENTS = {"invitation": "invitation", "set_password": "set-password", "sign_in": "signin"}


@dataclass(frozen=True, slots=True)
class Link:
    """A link just issued: its token is shown this once."""

    id: uuid.UUID
    kind: str
    token: str
    expires_at: datetime

    def url(self, desk_url: str) -> str:
        """The desk's address with the token in its fragment."""
        return f"{desk_url.rstrip('/')}/#{FRAGMENTS[self.kind]}={self.token}"


@dataclass(frozen=True, slots=True)
class LinkView:
    """What a live link is, for the page that opens it (never the token)."""

    kind: str
    email: str
    role: str
    workspace_name: str
    expires_at: datetime

    @property
    def needs_password(self) -> bool:
        return self.kind != "sign_in"


class LinkRefused(LookupError):
    """Unknown, expired, revoked or already used: one answer for all."""


class PasswordNeeded(ValueError):
    """An invitation or a password reset is accepted with the new password."""


class AlreadyMember(Exception):
    """The workspace already has a user with this e-mail."""

    def __init__(self, deactivated: bool) -> None:
        super().__init__(deactivated)
        self.deactivated = deactivated


async def issue(
    conn: AsyncConnection, new: NewLink, now: datetime, lifetime: timedelta | None = None
) -> Link:
    """Keep a new link (by digest) and return it with its token."""
    token = new_token("ecl")
    expires_at = now + (lifetime or LIFETIMES[new.kind])
    await store.insert_link(conn, new, token, now, expires_at)
    return Link(new.id, new.kind, token, expires_at)


async def describe(conn: AsyncConnection, token: str, now: datetime) -> LinkView:
    """What a live link is (``LinkRefused`` otherwise); reading it does not use it."""
    row = await store.live_link(conn, token, now)
    if row is None:
        raise LinkRefused
    return LinkView(row.kind, row.email, row.role, row.workspace_name, row.expires_at)


async def redeem(
    engine: AsyncEngine, token: str, password: str | None, attempt: sign_in.Attempt
) -> sign_in.SignedIn | sign_in.CodeNeeded:
    """Use a link, in one transaction: an invitation makes the user, an invitation or a reset
    sets the password (the user's other sessions end), and the person is signed in (or, with
    two-factor on, asked for a code). Nothing is used up if something is refused."""
    async with engine.begin() as conn:
        link = await store.use_link(conn, token, attempt.now)
        if link is None:
            raise LinkRefused
        if link.kind == "sign_in":
            await store.audit(
                conn, link.workspace_id, link.user_id, "link_used", detail={"link_id": str(link.id)}
            )
            return await sign_in.session_or_code(
                conn, link.workspace_id, link.user_id, attempt, "link"
            )
        if password is None:
            raise PasswordNeeded
        user_id = link.user_id or await _join(conn, link)
        await accounts.set_password(conn, link.workspace_id, user_id, password)
        ended = await store.revoke_sessions(conn, link.workspace_id, user_id, attempt.now)
        await store.audit(
            conn,
            link.workspace_id,
            user_id,
            "invitation_accepted" if link.kind == "invitation" else "password_set_by_link",
            detail={"link_id": str(link.id), "sessions_revoked": ended},
        )
        return await sign_in.session_or_code(conn, link.workspace_id, user_id, attempt, "password")


async def _join(conn: AsyncConnection, invitation: Row[Any]) -> uuid.UUID:
    """The invited person's new user (``AlreadyMember`` if the e-mail is taken meanwhile)."""
    ws, email = invitation.workspace_id, invitation.email
    name = invitation.display_name or email
    user_id = await store.add_member(conn, ws, email, name, invitation.role)
    if user_id is None:
        found = await store.member_by_email(conn, ws, email)
        raise AlreadyMember(bool(found and found.deactivated))
    return user_id
