"""Who may use the desk: passwords (scrypt), sessions with CSRF tokens, login rate limits.

A session is a random token in an HttpOnly, SameSite=Strict cookie; the database keeps only
its SHA-256 digest. Every state-changing request made with a session cookie must also carry
the session's CSRF token in ``X-CSRF-Token`` (API tokens, sent as Bearer, need none).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.auth import token_digest

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_MAX_FAILURES = 10  # per e-mail
LOGIN_MAX_PER_ADDRESS = 50  # per client address (offices share one)
ROLES = ("agent", "lead", "admin")


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


# Verified against when the user does not exist, so both answers cost the same.
_DUMMY = hash_password("not a password", b"0123456789abcdef")


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check; an unknown user or a user without a password costs the same."""
    encoded = stored or _DUMMY
    try:
        _, n, r, p, salt, digest = encoded.split("$")
        candidate = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate, base64.b64decode(digest)) and stored is not None


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """How long a session lives: unused (``idle``) and at most (``absolute``)."""

    idle: timedelta = timedelta(hours=2)
    absolute: timedelta = timedelta(hours=12)


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


async def find_login(
    conn: AsyncConnection, email: str
) -> list[tuple[uuid.UUID, uuid.UUID, str, str | None]]:
    """(workspace, user, role, password hash) of every user with this e-mail."""
    rows = (
        await conn.execute(
            text(
                "SELECT workspace_id, id, role, password_hash FROM triage.users "
                "WHERE lower(email) = lower(:email)"
            ),
            {"email": email},
        )
    ).all()
    return [(r.workspace_id, r.id, r.role, r.password_hash) for r in rows]


async def too_many_failures(conn: AsyncConnection, keys: list[str], now: datetime) -> bool:
    """Whether any key (an e-mail, an address) failed too often in the last 15 minutes."""
    rows = (
        await conn.execute(
            text(
                "SELECT key, count(*) AS n FROM triage.login_attempts "
                "WHERE key = ANY(CAST(:keys AS text[])) AND at > :since GROUP BY key"
            ),
            {"keys": keys, "since": now - LOGIN_WINDOW},
        )
    ).all()
    return any(
        r.n >= (LOGIN_MAX_PER_ADDRESS if r.key.startswith("ip:") else LOGIN_MAX_FAILURES)
        for r in rows
    )


async def record_failure(conn: AsyncConnection, keys: list[str], now: datetime) -> None:
    await conn.execute(
        text(
            "INSERT INTO triage.login_attempts (key, at) SELECT unnest(CAST(:keys AS text[])), :at"
        ),
        {"keys": keys, "at": now},
    )
    await conn.execute(
        text("DELETE FROM triage.login_attempts WHERE at < :old"), {"old": now - 2 * LOGIN_WINDOW}
    )


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
            "expires": now + limits.absolute,
            "method": method,
            "agent": user_agent[:200],
        },
    )
    return token, csrf


# Whether the caller must still enrol in two-factor, from the workspace's policy.
ENROLMENT_SQL = """
    (w.two_factor_policy = 'everyone'
     OR (w.two_factor_policy = 'leads_and_admins' AND u.role IN ('lead', 'admin')))
    AND NOT EXISTS (SELECT 1 FROM triage.two_factor AS tf
                    WHERE tf.workspace_id = u.workspace_id AND tf.user_id = u.id
                      AND tf.enabled_at IS NOT NULL) AS must_enrol
"""


async def caller_of_session(
    conn: AsyncConnection, token: str, now: datetime, limits: SessionLimits
) -> Caller | None:
    """The caller of a live session (not revoked, not idle too long, not too old)."""
    row = (
        await conn.execute(
            text(
                f"""
        UPDATE triage.sessions AS s SET last_seen_at = :now
        FROM triage.users AS u JOIN triage.workspaces AS w ON w.id = u.workspace_id
        WHERE s.digest = :digest AND s.revoked_at IS NULL AND s.expires_at > :now
          AND s.last_seen_at > :idle AND u.workspace_id = s.workspace_id AND u.id = s.user_id
        RETURNING s.workspace_id, s.user_id, u.role, s.csrf_digest, s.id, {ENROLMENT_SQL}
        """
            ),
            {"digest": token_digest(token), "now": now, "idle": now - limits.idle},
        )
    ).first()
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
    row = (
        await conn.execute(
            text(
                f"""
        SELECT {ENROLMENT_SQL} FROM triage.sessions AS s
        JOIN triage.users AS u ON u.workspace_id = s.workspace_id AND u.id = s.user_id
        JOIN triage.workspaces AS w ON w.id = u.workspace_id
        WHERE s.digest = :digest AND s.revoked_at IS NULL AND s.expires_at > :now
          AND s.last_seen_at > :idle
        """
            ),
            {"digest": token_digest(token), "now": now, "idle": now - limits.idle},
        )
    ).first()
    return row is not None and not row.must_enrol


async def close_session(conn: AsyncConnection, token: str, now: datetime) -> None:
    await conn.execute(
        text("UPDATE triage.sessions SET revoked_at = :now WHERE digest = :d"),
        {"now": now, "d": token_digest(token)},
    )


async def caller_of_token(conn: AsyncConnection, token: str) -> Caller | None:
    row = (
        await conn.execute(
            text(
                f"""
        SELECT t.workspace_id, t.user_id, u.role, {ENROLMENT_SQL} FROM triage.api_tokens AS t
        JOIN triage.users AS u ON u.workspace_id = t.workspace_id AND u.id = t.user_id
        JOIN triage.workspaces AS w ON w.id = u.workspace_id
        WHERE t.digest = :digest AND t.revoked_at IS NULL
        """
            ),
            {"digest": token_digest(token)},
        )
    ).first()
    if row is None:
        return None
    return Caller(row.workspace_id, row.user_id, row.role, must_enrol=row.must_enrol)


async def revoke_sessions(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
    keep: uuid.UUID | None = None,
) -> int:
    """End every live session of the user but ``keep`` (the caller's own); how many ended."""
    result = await conn.execute(
        text(
            "UPDATE triage.sessions SET revoked_at = :now "
            "WHERE workspace_id = :ws AND user_id = :user AND revoked_at IS NULL "
            "AND expires_at > :now AND id IS DISTINCT FROM :keep"
        ),
        {"now": now, "ws": workspace_id, "user": user_id, "keep": keep},
    )
    return int(result.rowcount)


async def revoke_tokens(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> int:
    """Revoke every API token of the user; how many were live."""
    result = await conn.execute(
        text(
            "UPDATE triage.api_tokens SET revoked_at = :now "
            "WHERE workspace_id = :ws AND user_id = :user AND revoked_at IS NULL"
        ),
        {"now": now, "ws": workspace_id, "user": user_id},
    )
    return int(result.rowcount)


async def set_password(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, password: str
) -> None:
    await conn.execute(
        text("UPDATE triage.users SET password_hash = :h WHERE workspace_id = :ws AND id = :id"),
        {"h": hash_password(password), "ws": workspace_id, "id": user_id},
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
