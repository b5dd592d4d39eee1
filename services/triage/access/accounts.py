"""Who may use the desk: passwords, sessions with CSRF tokens, API tokens, and what a user
or an admin does with them. The SQL is in ``store.py``.

A session is a random token in an HttpOnly, SameSite=Strict cookie; the database keeps only
its SHA-256 digest. Every state-changing request made with a session cookie must also carry
the session's CSRF token in ``X-CSRF-Token`` (API tokens, sent as Bearer, need none).

Use cases that count a failed attempt take the engine (``limits.counted_attempt``): the
failure is recorded in a transaction of its own, after the attempt's, so that it stays
although the request fails.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.infra.auth import new_token
from services.triage.access import limits, passwords, store

ROLES = ("agent", "lead", "admin")


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """How long a session lives: unused (``idle``) and at most (``absolute``)."""

    idle: timedelta = timedelta(hours=2)
    absolute: timedelta = timedelta(hours=12)
    touch_every: timedelta = timedelta(minutes=1)
    """How stale a session's "last used" may get before a request marks it again: an idle
    session ends at most this much early, and most requests write nothing."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling the desk API, and how (a session needs CSRF on writes).

    ``must_enrol``: the workspace requires two-factor of this user, who has not enrolled yet;
    such a caller may only enrol (and sign out).
    """

    workspace_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    via_session: bool = False
    csrf_digest: bytes | None = None
    must_enrol: bool = False
    session_id: uuid.UUID | None = None


class NoSuchUser(LookupError):
    """No user with that id in the caller's workspace."""


# ---- sessions and callers --------------------------------------------------------------


async def open_session(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
    limits: SessionLimits,
    method: str = "password",
    user_agent: str = "",
) -> tuple[str, str]:
    """A new session: (cookie token, CSRF token), both shown once.

    ``method`` says how the user proved who they are (password, totp, recovery_code).
    """
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await store.insert_session(
        conn, workspace_id, user_id, token, csrf, now, now + limits.absolute, method, user_agent
    )
    return token, csrf


async def caller_of_session(
    conn: AsyncConnection, token: str, now: datetime, limits: SessionLimits
) -> Caller | None:
    """The caller of a live session (not revoked, not idle too long, not too old)."""
    row = await store.touch_session(conn, token, now, now - limits.idle, now - limits.touch_every)
    if row is None:
        return None
    return Caller(
        row.workspace_id,
        row.user_id,
        row.role,
        True,
        bytes(row.csrf_digest),
        must_enrol=row.must_enrol,
        session_id=row.id,
    )


async def session_is_live(
    conn: AsyncConnection, token: str, now: datetime, limits: SessionLimits
) -> bool:
    """Whether a session still holds (read-only: checking does not keep it alive)."""
    must_enrol = await store.live_session_must_enrol(conn, token, now, now - limits.idle)
    return must_enrol is False


async def caller_of_token(conn: AsyncConnection, token: str) -> Caller | None:
    row = await store.token_owner(conn, token)
    if row is None:
        return None
    return Caller(row.workspace_id, row.user_id, row.role, must_enrol=row.must_enrol)


async def who_am_i(
    conn: AsyncConnection, caller: Caller, session_token: str | None
) -> tuple[Row[Any], str | None]:
    """The caller's (email, display_name, role) and, with a session, a fresh CSRF token (a
    page reload loses the old one)."""
    row = await store.profile(conn, caller.workspace_id, caller.user_id)
    csrf = None
    if session_token is not None:
        csrf = secrets.token_urlsafe(32)
        await store.set_session_csrf(conn, session_token, csrf)
    return row, csrf


async def sign_out(
    conn: AsyncConnection, caller: Caller, session_token: str | None, now: datetime
) -> None:
    """End the caller's session (an API token stays valid: it is revoked on its own)."""
    if session_token is not None:
        await store.close_session(conn, session_token, now)
        await store.audit(conn, caller.workspace_id, caller.user_id, "signed_out")


async def end_sessions(
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
    ended = await store.revoke_sessions(conn, caller.workspace_id, user_id, now, keep)
    about = {} if user_id == caller.user_id else {"user_id": str(user_id)}
    await store.audit(
        conn,
        caller.workspace_id,
        caller.user_id,
        action,
        detail={**about, **(detail or {}), "sessions_revoked": ended},
    )
    return ended


async def sessions_of(
    conn: AsyncConnection, caller: Caller, user_id: uuid.UUID, now: datetime, idle: timedelta
) -> list[dict[str, object]]:
    """The user's live sessions, with when each ends if left unused."""
    rows = await store.live_sessions(conn, caller.workspace_id, user_id, now, now - idle)
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


async def access_of(
    conn: AsyncConnection, caller: Caller, user_id: uuid.UUID, now: datetime, idle: timedelta
) -> dict[str, list[dict[str, object]]]:
    """A user's live sessions and API tokens (the caller's own, or an admin's look at a user
    of the workspace: ``NoSuchUser`` otherwise)."""
    if user_id != caller.user_id:
        await check_user(conn, caller, user_id)
    return {
        "sessions": await sessions_of(conn, caller, user_id, now, idle),
        "tokens": await store.live_api_tokens(conn, caller.workspace_id, user_id),
    }


async def revoke_session(
    conn: AsyncConnection, caller: Caller, session_id: uuid.UUID, now: datetime
) -> bool:
    """End one of the caller's sessions (an admin: anyone's in the workspace); False if there
    is no such session."""
    owner = await store.revoke_session(
        conn, caller.workspace_id, session_id, caller.user_id, caller.role == "admin", now
    )
    if owner is None:
        return False
    await store.audit(
        conn,
        caller.workspace_id,
        caller.user_id,
        "session_revoked",
        detail={"session_id": str(session_id), "user_id": str(owner)},
    )
    return True


async def check_user(conn: AsyncConnection, caller: Caller, user_id: uuid.UUID) -> None:
    """``NoSuchUser`` unless ``user_id`` is a user of the caller's workspace."""
    if not await store.user_exists(conn, caller.workspace_id, user_id):
        raise NoSuchUser(user_id)


async def revoke_user_access(
    conn: AsyncConnection, caller: Caller, user_id: uuid.UUID, now: datetime
) -> tuple[int, int]:
    """Sign a user out everywhere: (sessions, API tokens) ended, all but the caller's own
    session."""
    await check_user(conn, caller, user_id)
    keep = caller.session_id if user_id == caller.user_id else None
    sessions = await store.revoke_sessions(conn, caller.workspace_id, user_id, now, keep)
    tokens = await store.revoke_tokens(conn, caller.workspace_id, user_id, now)
    await store.audit(
        conn,
        caller.workspace_id,
        caller.user_id,
        "access_revoked",
        detail={"user_id": str(user_id), "sessions": sessions, "tokens": tokens},
    )
    return sessions, tokens


# ---- API tokens and passwords ----------------------------------------------------------


async def issue_token(conn: AsyncConnection, caller: Caller, name: str) -> tuple[uuid.UUID, str]:
    """A new API token of the caller: (its id, its value, shown this once)."""
    token = new_token("eca")
    token_id = uuid.uuid4()
    await store.create_api_token(conn, caller.workspace_id, caller.user_id, token, name, token_id)
    await store.audit(
        conn,
        caller.workspace_id,
        caller.user_id,
        "token_created",
        detail={"token_id": str(token_id)},
    )
    return token_id, token


async def revoke_token(conn: AsyncConnection, caller: Caller, token_id: uuid.UUID) -> bool:
    """Revoke one of the caller's tokens (an admin: anyone's in the workspace); False if there
    is no such token."""
    if not await store.revoke_api_token(
        conn, caller.workspace_id, token_id, caller.user_id, caller.role == "admin"
    ):
        return False
    await store.audit(
        conn,
        caller.workspace_id,
        caller.user_id,
        "token_revoked",
        detail={"token_id": str(token_id)},
    )
    return True


async def set_password(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, password: str
) -> None:
    hashed = await asyncio.to_thread(passwords.hash_password, password)
    await store.set_password_hash(conn, workspace_id, user_id, hashed)


async def change_password(
    engine: AsyncEngine,
    caller: Caller,
    current: str,
    new: str,
    address: str | None,
    now: datetime,
) -> int | None:
    """A new password, proven by the current one: how many of the caller's other sessions
    ended; None (a failure counted) if ``current`` is wrong."""
    keys = limits.keys(f"password:{caller.workspace_id}:{caller.user_id}", address)

    async def attempt(conn: AsyncConnection) -> int | None:
        stored = await store.password_hash(conn, caller.workspace_id, caller.user_id)
        if not (await asyncio.to_thread(passwords.check, current, stored)).right:
            return None
        await set_password(conn, caller.workspace_id, caller.user_id, new)
        return await end_sessions(conn, caller, caller.user_id, now, "password_changed")

    return await limits.counted_attempt(engine, keys, now, attempt)
