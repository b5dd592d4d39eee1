"""SQL of workspaces, users, sessions, API tokens, sign-in failures, two-factor and the
audit log. Every statement names the workspace (or finds its row by a secret's digest).

The rules (password hashing, session lifetimes, rate limits, two-factor decisions) live in
``accounts.py`` and ``two_factor.py``; the statements here take their results as values.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import TextClause, text
from sqlalchemy.engine import Result, Row
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.auth import token_digest
from services.infra.db import all_rows, first_row, returns_row, row_count, scalar_one

# ---- workspaces, users, audit log ------------------------------------------------------


async def create_workspace(
    conn: AsyncConnection, name: str, workspace_id: uuid.UUID | None = None
) -> uuid.UUID:
    workspace_id = workspace_id or uuid.uuid4()
    await conn.execute(
        text(
            "INSERT INTO triage.workspaces (id, name) VALUES (:id, :name) "
            "ON CONFLICT (id) DO NOTHING"
        ),
        {"id": workspace_id, "name": name},
    )
    return workspace_id


async def create_user(
    conn: AsyncConnection, workspace_id: uuid.UUID, email: str, display_name: str, role: str
) -> uuid.UUID:
    """Create the user, or return the existing one with that e-mail in the workspace."""
    upsert = "DO UPDATE SET role = EXCLUDED.role"
    row = (await _insert_user(conn, workspace_id, email, display_name, role, upsert)).one()
    return uuid.UUID(str(row.id))


async def _insert_user(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    email: str,
    display_name: str,
    role: str,
    on_same_email: str,
) -> Result[Any]:
    """Insert a user (a fresh id), ``RETURNING id``; ``on_same_email`` is the conflict
    action when the workspace already has one with this e-mail."""
    return await conn.execute(
        text(
            f"""
        INSERT INTO triage.users (workspace_id, id, email, display_name, role)
        VALUES (:ws, :id, :email, :name, :role)
        ON CONFLICT (workspace_id, lower(email)) {on_same_email}
        RETURNING id
        """
        ),
        {
            "ws": workspace_id,
            "id": uuid.uuid4(),
            "email": email,
            "name": display_name,
            "role": role,
        },
    )


# Whether the user must still enrol in two-factor, from the workspace's policy (needs the
# user as ``u`` and their workspace as ``w``).
ENROLMENT_SQL = """
    (w.two_factor_policy = 'everyone'
     OR (w.two_factor_policy = 'leads_and_admins' AND u.role IN ('lead', 'admin')))
    AND NOT EXISTS (SELECT 1 FROM triage.two_factor AS tf
                    WHERE tf.workspace_id = u.workspace_id AND tf.user_id = u.id
                      AND tf.enabled_at IS NOT NULL) AS must_enrol
"""


async def find_login(
    conn: AsyncConnection, email: str
) -> list[tuple[uuid.UUID, uuid.UUID, str, str | None]]:
    """(workspace, user, role, password hash) of every user with this e-mail."""
    rows = await all_rows(
        conn,
        "SELECT workspace_id, id, role, password_hash FROM triage.users "
        "WHERE lower(email) = lower(:email)",
        {"email": email},
    )
    return [(r.workspace_id, r.id, r.role, r.password_hash) for r in rows]


async def signing_in(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> Row[Any]:
    """(email, role, must_enrol) of a user who has just proven who they are."""
    return (
        await conn.execute(
            text(
                f"SELECT u.email, u.role, {ENROLMENT_SQL} FROM triage.users AS u "
                "JOIN triage.workspaces AS w ON w.id = u.workspace_id "
                "WHERE u.workspace_id = :ws AND u.id = :id"
            ),
            {"ws": workspace_id, "id": user_id},
        )
    ).one()


async def profile(conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID) -> Row[Any]:
    """(email, display_name, role) of a user."""
    return (
        await conn.execute(
            text(
                "SELECT email, display_name, role FROM triage.users "
                "WHERE workspace_id = :ws AND id = :id"
            ),
            {"ws": workspace_id, "id": user_id},
        )
    ).one()


async def email_of(conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID) -> str:
    return str(
        (
            await conn.execute(
                text("SELECT email FROM triage.users WHERE workspace_id = :ws AND id = :id"),
                {"ws": workspace_id, "id": user_id},
            )
        ).scalar_one()
    )


async def user_exists(conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return await returns_row(
        conn,
        "SELECT 1 FROM triage.users WHERE workspace_id = :ws AND id = :id",
        {"ws": workspace_id, "id": user_id},
    )


async def users_and_two_factor(conn: AsyncConnection, workspace_id: uuid.UUID) -> list[Row[Any]]:
    """(id, email, display_name, role, two_factor, deactivated_at, has_password) of every user
    of the workspace."""
    rows = await all_rows(
        conn,
        """
        SELECT u.id, u.email, u.display_name, u.role,
               coalesce(tf.enabled_at IS NOT NULL, false) AS two_factor,
               u.deactivated_at, u.password_hash IS NOT NULL AS has_password
        FROM triage.users AS u
        LEFT JOIN triage.two_factor AS tf
               ON tf.workspace_id = u.workspace_id AND tf.user_id = u.id
        WHERE u.workspace_id = :ws ORDER BY lower(u.email)
        """,
        {"ws": workspace_id},
    )
    return list(rows)


async def password_hash(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> str | None:
    stored = await scalar_one(
        conn,
        "SELECT password_hash FROM triage.users WHERE workspace_id = :ws AND id = :id",
        {"ws": workspace_id, "id": user_id},
    )
    return None if stored is None else str(stored)


async def set_password_hash(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, password_hash: str
) -> None:
    await conn.execute(
        text("UPDATE triage.users SET password_hash = :h WHERE workspace_id = :ws AND id = :id"),
        {"h": password_hash, "ws": workspace_id, "id": user_id},
    )


async def audit(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID | None,
    action: str,
    conversation_id: int | None = None,
    detail: dict[str, object] | None = None,
) -> None:
    """Who did what to which conversation (ids and codes only, never message text)."""
    await conn.execute(
        text(
            "INSERT INTO triage.audit_log (workspace_id, user_id, action, conversation_id, detail) "
            "VALUES (:ws, :user, :action, :conversation, CAST(:detail AS jsonb))"
        ),
        {
            "ws": workspace_id,
            "user": user_id,
            "action": action,
            "conversation": conversation_id,
            "detail": orjson.dumps(detail or {}).decode(),
        },
    )


async def audit_many(
    conn: AsyncConnection,
    rows: Sequence[tuple[uuid.UUID, uuid.UUID | None, str, int | None, dict[str, object]]],
) -> None:
    """``audit`` for many entries in one statement (workspace, user, action, conversation,
    detail): what a batch of the intake does (rules fired) is written as one."""
    if not rows:
        return
    ws, users, actions, conversations, details = (list(c) for c in zip(*rows, strict=True))
    await conn.execute(
        text(
            "INSERT INTO triage.audit_log (workspace_id, user_id, action, conversation_id, detail) "
            "SELECT ws, u, a, c, CAST(d AS jsonb) FROM unnest(CAST(:ws AS uuid[]), "
            "CAST(:users AS uuid[]), CAST(:actions AS text[]), CAST(:conversations AS bigint[]), "
            "CAST(:details AS text[])) AS x(ws, u, a, c, d)"
        ),
        {
            "ws": ws,
            "users": users,
            "actions": actions,
            "conversations": conversations,
            "details": [orjson.dumps(d).decode() for d in details],
        },
    )


# ---- failed sign-ins -------------------------------------------------------------------


async def recent_failures(
    conn: AsyncConnection, keys: list[str], since: datetime, cap: int
) -> dict[str, tuple[int, datetime]]:
    """(failures, the latest one's instant) of each key that failed since ``since``, counting
    no further than ``cap`` (an index range of at most ``cap`` rows per key)."""
    rows = await all_rows(
        conn,
        """
        SELECT k.key, recent.n, recent.last
        FROM unnest(CAST(:keys AS text[])) AS k(key)
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, max(at) AS last FROM (
                SELECT at FROM triage.login_attempts
                WHERE key = k.key AND at > :since ORDER BY at DESC LIMIT :cap
            ) AS latest
        ) AS recent
        WHERE recent.n > 0
        """,
        {"keys": keys, "since": since, "cap": cap},
    )
    return {r.key: (int(r.n), r.last) for r in rows}


async def forget_failures(conn: AsyncConnection, keys: list[str]) -> None:
    await conn.execute(
        text("DELETE FROM triage.login_attempts WHERE key = ANY(CAST(:keys AS text[]))"),
        {"keys": keys},
    )


async def add_failures(
    conn: AsyncConnection, keys: list[str], now: datetime, forget_before: datetime
) -> None:
    """One failure for each key; failures older than ``forget_before`` go."""
    await conn.execute(
        text(
            "INSERT INTO triage.login_attempts (key, at) SELECT unnest(CAST(:keys AS text[])), :at"
        ),
        {"keys": keys, "at": now},
    )
    await conn.execute(
        text("DELETE FROM triage.login_attempts WHERE at < :old"), {"old": forget_before}
    )


# ---- credential directory --------------------------------------------------------------
# A request brings only a secret. The directory (a Citus reference table, migration t0021)
# says whose workspace a digest is, so every statement on a credential table names it.


async def file_credential(conn: AsyncConnection, digest: bytes, workspace_id: uuid.UUID) -> bool:
    """File a new credential's digest under its workspace; False if it already is another
    workspace's (a token given twice stays the first's)."""
    await conn.execute(
        text(
            "INSERT INTO triage.credential_directory (digest, workspace_id) "
            "VALUES (:d, :ws) ON CONFLICT (digest) DO NOTHING"
        ),
        {"d": digest, "ws": workspace_id},
    )
    return await workspace_of(conn, digest) == workspace_id


async def forget_credentials(conn: AsyncConnection, digests: list[bytes]) -> None:
    """Credentials deleted leave the directory (a write to every node on Citus: rare)."""
    if digests:
        await conn.execute(
            text("DELETE FROM triage.credential_directory WHERE digest = ANY(CAST(:d AS bytea[]))"),
            {"d": digests},
        )


async def workspace_of(conn: AsyncConnection, digest: bytes) -> uuid.UUID | None:
    """The workspace a credential's digest was filed under, or None if it is unknown."""
    found = (
        await conn.execute(
            text("SELECT workspace_id FROM triage.credential_directory WHERE digest = :d"),
            {"d": digest},
        )
    ).scalar_one_or_none()
    return None if found is None else uuid.UUID(str(found))


async def by_token(
    conn: AsyncConnection, token: str, statement: TextClause, **params: Any
) -> Row[Any] | None:
    """The first row ``statement`` returns for a credential (a session, API token, link or
    pending sign-in), or None. The credential's workspace is found by its digest first, so
    the statement names the full key (``:ws``, ``:digest``); an unknown one reads no more."""
    digest = token_digest(token)
    workspace_id = await workspace_of(conn, digest)
    if workspace_id is None:
        return None
    key = {"ws": workspace_id, "digest": digest}
    return (await conn.execute(statement, key | params)).first()


# ---- sessions --------------------------------------------------------------------------


async def insert_session(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    token: str,
    csrf: str,
    now: datetime,
    expires_at: datetime,
    method: str,
    user_agent: str,
) -> None:
    """Keep a new session by the digests of its cookie and CSRF tokens."""
    await file_credential(conn, token_digest(token), workspace_id)
    await conn.execute(
        text(
            """
        INSERT INTO triage.sessions (digest, workspace_id, user_id, csrf_digest, created_at,
                                     last_seen_at, expires_at, method, user_agent)
        VALUES (:digest, :ws, :user, :csrf, :now, :now, :expires, :method, :agent)
        """
        ),
        {
            "digest": token_digest(token),
            "ws": workspace_id,
            "user": user_id,
            "csrf": token_digest(csrf),
            "now": now,
            "expires": expires_at,
            "method": method,
            "agent": user_agent[:200],
        },
    )


async def touch_session(
    conn: AsyncConnection,
    token: str,
    now: datetime,
    idle_since: datetime,
    stale: datetime | None = None,
) -> Row[Any] | None:
    """A live session's (workspace_id, user_id, role, csrf_digest, id, must_enrol), or None
    if it is revoked, expired or was last used before ``idle_since``; marked used at ``now``
    when its mark is older than ``stale`` (default: any older mark). One statement, and
    most desk requests write nothing (a write per request cost a commit's WAL flush each).
    The write names the session's full key (workspace, digest)."""
    return await by_token(
        conn,
        token,
        text(
            f"""
    WITH live AS (
        SELECT s.workspace_id, s.user_id, u.role, s.csrf_digest, s.id, s.last_seen_at,
               {ENROLMENT_SQL}
        FROM triage.sessions AS s
        JOIN triage.users AS u ON u.workspace_id = s.workspace_id AND u.id = s.user_id
        JOIN triage.workspaces AS w ON w.id = u.workspace_id
        WHERE s.workspace_id = :ws AND s.digest = :digest AND s.revoked_at IS NULL
          AND s.expires_at > :now AND s.last_seen_at > :idle AND u.deactivated_at IS NULL
    ), touched AS (
        UPDATE triage.sessions SET last_seen_at = :now
        WHERE workspace_id = :ws AND digest = :digest AND last_seen_at < :stale
          AND EXISTS (SELECT 1 FROM live)
    )
    SELECT workspace_id, user_id, role, csrf_digest, id, must_enrol FROM live
    """
        ),
        now=now,
        idle=idle_since,
        stale=stale or now,
    )


async def live_session_must_enrol(
    conn: AsyncConnection, token: str, now: datetime, idle_since: datetime
) -> bool | None:
    """Whether the user of a live session must enrol; None if the session does not hold
    (read-only: checking does not keep it alive)."""
    row = await by_token(
        conn,
        token,
        text(
            f"""
    SELECT {ENROLMENT_SQL} FROM triage.sessions AS s
    JOIN triage.users AS u ON u.workspace_id = s.workspace_id AND u.id = s.user_id
    JOIN triage.workspaces AS w ON w.id = u.workspace_id
    WHERE s.workspace_id = :ws AND s.digest = :digest AND s.revoked_at IS NULL
      AND s.expires_at > :now AND s.last_seen_at > :idle
    """
        ),
        now=now,
        idle=idle_since,
    )
    return None if row is None else bool(row.must_enrol)


async def set_session_csrf(conn: AsyncConnection, token: str, csrf: str) -> None:
    digest = token_digest(token)
    await conn.execute(
        text(
            "UPDATE triage.sessions SET csrf_digest = :c WHERE workspace_id = :ws AND digest = :d"
        ),
        {"c": token_digest(csrf), "ws": await workspace_of(conn, digest), "d": digest},
    )


async def close_session(conn: AsyncConnection, token: str, now: datetime) -> None:
    digest = token_digest(token)
    await conn.execute(
        text(
            "UPDATE triage.sessions SET revoked_at = :now WHERE workspace_id = :ws AND digest = :d"
        ),
        {"now": now, "ws": await workspace_of(conn, digest), "d": digest},
    )


async def live_sessions(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
    idle_since: datetime,
) -> list[Row[Any]]:
    """(id, created_at, last_seen_at, expires_at, method, user_agent) of the user's live
    sessions, the most recently used first."""
    rows = await all_rows(
        conn,
        """
        SELECT id, created_at, last_seen_at, expires_at, method, user_agent
        FROM triage.sessions
        WHERE workspace_id = :ws AND user_id = :user AND revoked_at IS NULL
          AND expires_at > :now AND last_seen_at > :idle
        ORDER BY last_seen_at DESC
        """,
        {"ws": workspace_id, "user": user_id, "now": now, "idle": idle_since},
    )
    return list(rows)


async def revoke_session(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    any_user: bool,
    now: datetime,
) -> uuid.UUID | None:
    """End a session of ``user_id`` (of anyone in the workspace if ``any_user``); whose it
    was, or None if there is no such session."""
    row = await first_row(
        conn,
        """
        UPDATE triage.sessions SET revoked_at = coalesce(revoked_at, :now)
        WHERE workspace_id = :ws AND id = :id AND (user_id = :me OR :admin)
        RETURNING user_id
        """,
        {
            "ws": workspace_id,
            "id": session_id,
            "me": user_id,
            "admin": any_user,
            "now": now,
        },
    )
    return None if row is None else uuid.UUID(str(row.user_id))


async def revoke_sessions(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
    keep: uuid.UUID | None = None,
) -> int:
    """End every live session of the user but ``keep`` (the caller's own); how many ended."""
    return await row_count(
        conn,
        "UPDATE triage.sessions SET revoked_at = :now "
        "WHERE workspace_id = :ws AND user_id = :user AND revoked_at IS NULL "
        "AND expires_at > :now AND id IS DISTINCT FROM :keep",
        {"now": now, "ws": workspace_id, "user": user_id, "keep": keep},
    )


# ---- API tokens ------------------------------------------------------------------------


async def create_api_token(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    token: str,
    name: str,
    token_id: uuid.UUID | None = None,
) -> None:
    """Keep a token by its digest (a token given twice, as the demo does, stays the first)."""
    digest = token_digest(token)
    if not await file_credential(conn, digest, workspace_id):
        return
    await conn.execute(
        text(
            "INSERT INTO triage.api_tokens (digest, workspace_id, user_id, name, id) "
            "VALUES (:digest, :ws, :user, :name, :id) ON CONFLICT (workspace_id, digest) DO NOTHING"
        ),
        {
            "digest": digest,
            "ws": workspace_id,
            "user": user_id,
            "name": name,
            "id": token_id or uuid.uuid4(),
        },
    )


async def token_owner(conn: AsyncConnection, token: str) -> Row[Any] | None:
    """(workspace_id, user_id, role, must_enrol) of a live API token, or None."""
    return await by_token(
        conn,
        token,
        text(
            f"""
    SELECT t.workspace_id, t.user_id, u.role, {ENROLMENT_SQL} FROM triage.api_tokens AS t
    JOIN triage.users AS u ON u.workspace_id = t.workspace_id AND u.id = t.user_id
    JOIN triage.workspaces AS w ON w.id = u.workspace_id
    WHERE t.workspace_id = :ws AND t.digest = :digest AND t.revoked_at IS NULL
      AND u.deactivated_at IS NULL
    """
        ),
    )


async def api_tokens(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> list[dict[str, object]]:
    """Every API token of the user, revoked ones too (never their values)."""
    rows = await all_rows(
        conn,
        "SELECT id, name, created_at, revoked_at FROM triage.api_tokens "
        "WHERE workspace_id = :ws AND user_id = :me ORDER BY created_at",
        {"ws": workspace_id, "me": user_id},
    )
    return [
        {"id": r.id, "name": r.name, "created_at": r.created_at, "revoked_at": r.revoked_at}
        for r in rows
    ]


async def live_api_tokens(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> list[dict[str, object]]:
    rows = await all_rows(
        conn,
        "SELECT id, name, created_at FROM triage.api_tokens "
        "WHERE workspace_id = :ws AND user_id = :user AND revoked_at IS NULL "
        "ORDER BY created_at",
        {"ws": workspace_id, "user": user_id},
    )
    return [{"id": r.id, "name": r.name, "created_at": r.created_at} for r in rows]


async def revoke_api_token(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    token_id: uuid.UUID,
    user_id: uuid.UUID,
    any_user: bool,
) -> bool:
    """Revoke a token of ``user_id`` (of anyone in the workspace if ``any_user``); False if
    there is no such token."""
    return await returns_row(
        conn,
        """
        UPDATE triage.api_tokens SET revoked_at = coalesce(revoked_at, now())
        WHERE workspace_id = :ws AND id = :id AND (user_id = :me OR :admin)
        RETURNING id
        """,
        {"ws": workspace_id, "id": token_id, "me": user_id, "admin": any_user},
    )


async def revoke_tokens(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> int:
    """Revoke every API token of the user; how many were live."""
    return await row_count(
        conn,
        "UPDATE triage.api_tokens SET revoked_at = :now "
        "WHERE workspace_id = :ws AND user_id = :user AND revoked_at IS NULL",
        {"now": now, "ws": workspace_id, "user": user_id},
    )


# ---- the team: members, roles, one-time links ------------------------------------------


async def lock_team(conn: AsyncConnection, workspace_id: uuid.UUID) -> None:
    """Serialise changes to who is an admin in the workspace until the transaction ends (two
    admins demoting each other at once must not leave it without one)."""
    await conn.execute(
        text("SELECT 1 FROM triage.workspaces WHERE id = :ws FOR UPDATE"), {"ws": workspace_id}
    )


async def member(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> Row[Any] | None:
    """(email, role, deactivated) of a user of the workspace, or None."""
    return (
        await conn.execute(
            text(
                "SELECT email, role, deactivated_at IS NOT NULL AS deactivated "
                "FROM triage.users WHERE workspace_id = :ws AND id = :id"
            ),
            {"ws": workspace_id, "id": user_id},
        )
    ).first()


async def member_by_email(
    conn: AsyncConnection, workspace_id: uuid.UUID, email: str
) -> Row[Any] | None:
    """(id, role, deactivated) of the workspace's user with this e-mail, or None."""
    return (
        await conn.execute(
            text(
                "SELECT id, role, deactivated_at IS NOT NULL AS deactivated FROM triage.users "
                "WHERE workspace_id = :ws AND lower(email) = lower(:email)"
            ),
            {"ws": workspace_id, "email": email},
        )
    ).first()


async def add_member(
    conn: AsyncConnection, workspace_id: uuid.UUID, email: str, display_name: str, role: str
) -> uuid.UUID | None:
    """A new user; None if the workspace already has one with this e-mail (left as it is)."""
    row = (await _insert_user(conn, workspace_id, email, display_name, role, "DO NOTHING")).first()
    return None if row is None else uuid.UUID(str(row.id))


async def active_admins(conn: AsyncConnection, workspace_id: uuid.UUID) -> int:
    return int(
        (
            await conn.execute(
                text(
                    "SELECT count(*) FROM triage.users WHERE workspace_id = :ws "
                    "AND role = 'admin' AND deactivated_at IS NULL"
                ),
                {"ws": workspace_id},
            )
        ).scalar_one()
    )


async def set_role(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> None:
    await conn.execute(
        text("UPDATE triage.users SET role = :role WHERE workspace_id = :ws AND id = :id"),
        {"role": role, "ws": workspace_id, "id": user_id},
    )


async def set_deactivated(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, at: datetime | None
) -> None:
    """Deactivate a user at ``at``, or (None) make them active again. Either way they have
    no password: nothing signs them in until they set one through a link."""
    await conn.execute(
        text(
            "UPDATE triage.users SET deactivated_at = :at, password_hash = NULL "
            "WHERE workspace_id = :ws AND id = :id"
        ),
        {"at": at, "ws": workspace_id, "id": user_id},
    )


async def clear_password(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    await conn.execute(
        text("UPDATE triage.users SET password_hash = NULL WHERE workspace_id = :ws AND id = :id"),
        {"ws": workspace_id, "id": user_id},
    )


async def close_pending_logins(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> None:
    """Password-checked sign-ins of the user still waiting for their code go nowhere."""
    await conn.execute(
        text(
            "UPDATE triage.pending_logins SET used_at = :now "
            "WHERE workspace_id = :ws AND user_id = :user AND used_at IS NULL"
        ),
        {"now": now, "ws": workspace_id, "user": user_id},
    )


async def workspace_name(conn: AsyncConnection, workspace_id: uuid.UUID) -> str | None:
    name = (
        await conn.execute(
            text("SELECT name FROM triage.workspaces WHERE id = :ws"), {"ws": workspace_id}
        )
    ).scalar()
    return None if name is None else str(name)


@dataclass(frozen=True, slots=True)
class NewLink:
    """A one-time link to keep: whose (``user_id``) or for whom (an invitation's e-mail and
    role), and by whom."""

    workspace_id: uuid.UUID
    id: uuid.UUID
    kind: str
    user_id: uuid.UUID | None
    email: str | None
    role: str | None
    display_name: str
    created_by: uuid.UUID | None


async def insert_link(
    conn: AsyncConnection, link: NewLink, token: str, now: datetime, expires_at: datetime
) -> None:
    """Keep a link by its token's digest. It replaces the same person's unused link of the
    same kind, and links dead for 30 days go (from the directory too): they never pile up."""
    gone = await conn.execute(
        text(
            """
        DELETE FROM triage.account_links
        WHERE workspace_id = :ws AND (
            (kind = :kind AND used_at IS NULL
             AND (user_id = :user OR (user_id IS NULL AND lower(email) = lower(:email))))
            OR coalesce(used_at, revoked_at, expires_at) < :forget)
        RETURNING digest
        """
        ),
        {
            "ws": link.workspace_id,
            "kind": link.kind,
            "user": link.user_id,
            "email": link.email,
            "forget": now - timedelta(days=30),
        },
    )
    await forget_credentials(conn, [bytes(r.digest) for r in gone])
    await file_credential(conn, token_digest(token), link.workspace_id)
    await conn.execute(
        text(
            """
        INSERT INTO triage.account_links (digest, workspace_id, id, kind, user_id, email, role,
                                          display_name, created_by, created_at, expires_at)
        VALUES (:digest, :ws, :id, :kind, :user, :email, :role, :name, :by, :now, :expires)
        """
        ),
        {
            "digest": token_digest(token),
            "ws": link.workspace_id,
            "id": link.id,
            "kind": link.kind,
            "user": link.user_id,
            "email": link.email,
            "role": link.role,
            "name": link.display_name,
            "by": link.created_by,
            "now": now,
            "expires": expires_at,
        },
    )


# What a link is: its workspace's name and whom it is for (an invitation's e-mail and role,
# else its user's); ``{links}`` is the table, or the rows an UPDATE returned.
_LINK_VIEW = """
    SELECT l.workspace_id, l.id, l.kind, l.user_id, l.expires_at, l.display_name,
           coalesce(u.email, l.email) AS email, coalesce(u.role, l.role) AS role,
           w.name AS workspace_name
    FROM {links} AS l
    JOIN triage.workspaces AS w ON w.id = l.workspace_id
    LEFT JOIN triage.users AS u ON u.workspace_id = l.workspace_id AND u.id = l.user_id
"""
_LIVE = "l.used_at IS NULL AND l.revoked_at IS NULL AND l.expires_at > :now"


async def live_link(conn: AsyncConnection, token: str, now: datetime) -> Row[Any] | None:
    """What a live link (not used, revoked or expired) is, read only; None if not live."""
    return await by_token(
        conn,
        token,
        text(
            _LINK_VIEW.format(links="triage.account_links")
            + f"WHERE l.workspace_id = :ws AND l.digest = :digest AND {_LIVE}"
        ),
        now=now,
    )


async def use_link(conn: AsyncConnection, token: str, now: datetime) -> Row[Any] | None:
    """Mark a live link used — once: of two concurrent uses, the second finds it used — and
    say what it was (as ``live_link``); None if it was not live."""
    return await by_token(
        conn,
        token,
        text(
            f"""
    WITH used AS (
        UPDATE triage.account_links AS l SET used_at = :now
        WHERE l.workspace_id = :ws AND l.digest = :digest AND {_LIVE}
        RETURNING l.*
    )
    """
            + _LINK_VIEW.format(links="used")
        ),
        now=now,
    )


async def live_invitations(
    conn: AsyncConnection, workspace_id: uuid.UUID, now: datetime
) -> list[Row[Any]]:
    """(id, email, role, display_name, created_by, created_at, expires_at) of the workspace's
    invitations not yet accepted, revoked or expired, the newest first."""
    rows = await all_rows(
        conn,
        """
        SELECT id, email, role, display_name, created_by, created_at, expires_at
        FROM triage.account_links
        WHERE workspace_id = :ws AND kind = 'invitation' AND used_at IS NULL
          AND revoked_at IS NULL AND expires_at > :now
        ORDER BY created_at DESC
        """,
        {"ws": workspace_id, "now": now},
    )
    return list(rows)


async def revoke_invitation(
    conn: AsyncConnection, workspace_id: uuid.UUID, link_id: uuid.UUID, now: datetime
) -> bool:
    """Revoke an unused invitation; False if there is no such one."""
    return await returns_row(
        conn,
        "UPDATE triage.account_links SET revoked_at = :now "
        "WHERE workspace_id = :ws AND id = :id AND kind = 'invitation' "
        "AND used_at IS NULL AND revoked_at IS NULL RETURNING 1",
        {"now": now, "ws": workspace_id, "id": link_id},
    )


async def revoke_user_links(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> int:
    """Revoke every unused link of the user (password reset, sign-in); how many."""
    return await row_count(
        conn,
        "UPDATE triage.account_links SET revoked_at = :now "
        "WHERE workspace_id = :ws AND user_id = :user AND used_at IS NULL "
        "AND revoked_at IS NULL",
        {"now": now, "ws": workspace_id, "user": user_id},
    )


# ---- two-factor ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: bytes  # sealed
    enabled: bool
    last_step: int | None


async def enrolment(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> Enrolment | None:
    row = await first_row(
        conn,
        "SELECT secret, enabled_at IS NOT NULL AS enabled, last_step "
        "FROM triage.two_factor WHERE workspace_id = :ws AND user_id = :user",
        {"ws": workspace_id, "user": user_id},
    )
    return Enrolment(bytes(row.secret), row.enabled, row.last_step) if row else None


async def replace_secret(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, old: bytes, new: bytes
) -> bool:
    """Store ``new`` only if the row still holds ``old`` (a new enrolment in between is
    left alone)."""
    return await returns_row(
        conn,
        "UPDATE triage.two_factor SET secret = :new "
        "WHERE workspace_id = :ws AND user_id = :user AND secret = :old RETURNING 1",
        {"ws": workspace_id, "user": user_id, "old": old, "new": new},
    )


async def begin_enrolment(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, sealed: bytes, now: datetime
) -> bool:
    """Store a new secret awaiting its first code; False if two-factor is already on."""
    return await returns_row(
        conn,
        """
        INSERT INTO triage.two_factor (workspace_id, user_id, secret, created_at)
        VALUES (:ws, :user, :secret, :now)
        ON CONFLICT (workspace_id, user_id) DO UPDATE
            SET secret = EXCLUDED.secret, created_at = EXCLUDED.created_at, last_step = NULL
            WHERE triage.two_factor.enabled_at IS NULL
        RETURNING 1
        """,
        {"ws": workspace_id, "user": user_id, "secret": sealed, "now": now},
    )


async def take_step(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, step: int, *, enabled: bool
) -> bool:
    """Record ``step`` as used if it is later than every step used before (atomically)."""
    return await returns_row(
        conn,
        """
        UPDATE triage.two_factor SET last_step = :step
        WHERE workspace_id = :ws AND user_id = :user
          AND (enabled_at IS NOT NULL) = :enabled
          AND (last_step IS NULL OR last_step < :step)
        RETURNING 1
        """,
        {"ws": workspace_id, "user": user_id, "step": step, "enabled": enabled},
    )


async def enable_two_factor(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> None:
    await conn.execute(
        text(
            "UPDATE triage.two_factor SET enabled_at = :now "
            "WHERE workspace_id = :ws AND user_id = :user"
        ),
        {"ws": workspace_id, "user": user_id, "now": now},
    )


async def replace_recovery_digests(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, digests: list[bytes]
) -> None:
    """The user's recovery codes become these (by digest); the old ones stop working."""
    await conn.execute(
        text("DELETE FROM triage.recovery_codes WHERE workspace_id = :ws AND user_id = :user"),
        {"ws": workspace_id, "user": user_id},
    )
    await conn.execute(
        text(
            "INSERT INTO triage.recovery_codes (workspace_id, user_id, digest) "
            "SELECT :ws, :user, unnest(CAST(:digests AS bytea[]))"
        ),
        {"ws": workspace_id, "user": user_id, "digests": digests},
    )


async def spend_recovery_digest(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, digest: bytes, now: datetime
) -> bool:
    """Mark a recovery code used; False if unknown or already used."""
    return await returns_row(
        conn,
        """
        UPDATE triage.recovery_codes SET used_at = :now
        WHERE workspace_id = :ws AND user_id = :user AND digest = :digest AND used_at IS NULL
        RETURNING 1
        """,
        {"ws": workspace_id, "user": user_id, "digest": digest, "now": now},
    )


async def recovery_codes_left(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> int:
    return int(
        (
            await conn.execute(
                text(
                    "SELECT count(*) FROM triage.recovery_codes "
                    "WHERE workspace_id = :ws AND user_id = :user AND used_at IS NULL"
                ),
                {"ws": workspace_id, "user": user_id},
            )
        ).scalar_one()
    )


async def remove_two_factor(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    """Turn two-factor off (secret and recovery codes gone); False if it was not on."""
    await conn.execute(
        text("DELETE FROM triage.recovery_codes WHERE workspace_id = :ws AND user_id = :user"),
        {"ws": workspace_id, "user": user_id},
    )
    row = await first_row(
        conn,
        "DELETE FROM triage.two_factor WHERE workspace_id = :ws AND user_id = :user "
        "RETURNING enabled_at IS NOT NULL AS enabled",
        {"ws": workspace_id, "user": user_id},
    )
    return bool(row and row.enabled)


async def lock_secrets_after(
    conn: AsyncConnection, after: tuple[uuid.UUID, uuid.UUID], limit: int
) -> list[Row[Any]]:
    """(workspace_id, user_id, secret) of the next ``limit`` rows after ``after`` in key
    order, locked until the transaction ends."""
    rows = await all_rows(
        conn,
        """
        SELECT workspace_id, user_id, secret FROM triage.two_factor
        WHERE (workspace_id, user_id) > (:ws, :user)
        ORDER BY workspace_id, user_id LIMIT :n FOR UPDATE
        """,
        {"ws": after[0], "user": after[1], "n": limit},
    )
    return list(rows)


async def insert_pending(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    token: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    """Keep a pending sign-in by its token's digest (the workspace's expired ones go, from the
    directory too)."""
    gone = await conn.execute(
        text(
            "DELETE FROM triage.pending_logins WHERE workspace_id = :ws AND expires_at < :now "
            "RETURNING digest"
        ),
        {"ws": workspace_id, "now": now},
    )
    await forget_credentials(conn, [bytes(r.digest) for r in gone])
    await file_credential(conn, token_digest(token), workspace_id)
    await conn.execute(
        text(
            "INSERT INTO triage.pending_logins (digest, workspace_id, user_id, created_at, "
            "expires_at) VALUES (:d, :ws, :user, :now, :expires)"
        ),
        {
            "d": token_digest(token),
            "ws": workspace_id,
            "user": user_id,
            "now": now,
            "expires": expires_at,
        },
    )


async def claim_pending(
    conn: AsyncConnection, token: str, now: datetime, max_attempts: int
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(workspace, user) of a live pending sign-in, counting one attempt; None if it is
    unknown, expired, used or out of attempts."""
    row = await by_token(
        conn,
        token,
        text(
            """
    UPDATE triage.pending_logins SET attempts = attempts + 1
    WHERE workspace_id = :ws AND digest = :digest AND used_at IS NULL AND expires_at > :now
      AND attempts < :max
    RETURNING workspace_id, user_id
    """
        ),
        now=now,
        max=max_attempts,
    )
    return (row.workspace_id, row.user_id) if row else None


async def close_pending(conn: AsyncConnection, token: str, now: datetime) -> None:
    digest = token_digest(token)
    await conn.execute(
        text(
            "UPDATE triage.pending_logins SET used_at = :now "
            "WHERE workspace_id = :ws AND digest = :d"
        ),
        {"ws": await workspace_of(conn, digest), "d": digest, "now": now},
    )


async def two_factor_policy(conn: AsyncConnection, workspace_id: uuid.UUID) -> str:
    return str(
        (
            await conn.execute(
                text("SELECT two_factor_policy FROM triage.workspaces WHERE id = :ws"),
                {"ws": workspace_id},
            )
        ).scalar_one()
    )


async def set_two_factor_policy(conn: AsyncConnection, workspace_id: uuid.UUID, value: str) -> str:
    """Set the policy; returns the previous one."""
    previous = await scalar_one(
        conn,
        "UPDATE triage.workspaces AS w SET two_factor_policy = :p "
        "FROM triage.workspaces AS old WHERE w.id = :ws AND old.id = w.id "
        "RETURNING old.two_factor_policy",
        {"ws": workspace_id, "p": value},
    )
    return str(previous)
