"""Two-factor in the database: secrets (sealed), accepted steps, recovery codes, pending
sign-ins and the workspace's policy. The decisions live in ``domain/two_factor.py``.

A secret opened with an old key (``TRIAGE_TWO_FACTOR_OLD_KEYS``) is sealed again with the
current key when it is next used successfully, in the same transaction (``reseal``);
``python -m services.triage.access.reseal_two_factor`` does every row at once.

Reuse protection is one conditional UPDATE: a code is accepted only if it moves
``last_step`` forward, so of two concurrent sign-ins with the same code, Postgres lets exactly
one row update happen (the other re-checks the condition after the first commits and finds
the step taken). A recovery code is spent the same way (``used_at IS NULL`` in the UPDATE).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.auth import token_digest
from services.infra.secretbox import Opened, SecretBox
from services.triage.domain import two_factor as rules

PENDING_LIFETIME = timedelta(minutes=5)
PENDING_MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: bytes  # sealed
    enabled: bool
    last_step: int | None


def _context(workspace_id: uuid.UUID, user_id: uuid.UUID) -> bytes:
    return f"totp:{workspace_id}:{user_id}".encode()


def seal(box: SecretBox, workspace_id: uuid.UUID, user_id: uuid.UUID, secret: bytes) -> bytes:
    return box.seal(secret, _context(workspace_id, user_id))


def unseal(box: SecretBox, workspace_id: uuid.UUID, user_id: uuid.UUID, sealed: bytes) -> Opened:
    """The secret, and whether it is sealed with an old key (``SecretBoxError`` if no key
    opens it)."""
    return box.open(sealed, _context(workspace_id, user_id))


async def reseal(
    conn: AsyncConnection,
    box: SecretBox,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    opened: Opened,
    sealed: bytes,
) -> bool:
    """Store the secret sealed with the current key if it is not already, and only if the
    row still holds ``sealed`` (a new enrolment in between is left alone)."""
    if not opened.needs_reseal:
        return False
    row = (
        await conn.execute(
            text(
                "UPDATE triage.two_factor SET secret = :new "
                "WHERE workspace_id = :ws AND user_id = :user AND secret = :old RETURNING 1"
            ),
            {
                "ws": workspace_id,
                "user": user_id,
                "old": sealed,
                "new": seal(box, workspace_id, user_id, opened.plain),
            },
        )
    ).first()
    return row is not None


async def enrolment(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> Enrolment | None:
    row = (
        await conn.execute(
            text(
                "SELECT secret, enabled_at IS NOT NULL AS enabled, last_step "
                "FROM triage.two_factor WHERE workspace_id = :ws AND user_id = :user"
            ),
            {"ws": workspace_id, "user": user_id},
        )
    ).first()
    return Enrolment(bytes(row.secret), row.enabled, row.last_step) if row else None


async def begin(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, sealed: bytes, now: datetime
) -> bool:
    """Store a new secret awaiting its first code; False if two-factor is already on."""
    row = (
        await conn.execute(
            text(
                """
        INSERT INTO triage.two_factor (workspace_id, user_id, secret, created_at)
        VALUES (:ws, :user, :secret, :now)
        ON CONFLICT (workspace_id, user_id) DO UPDATE
            SET secret = EXCLUDED.secret, created_at = EXCLUDED.created_at, last_step = NULL
            WHERE triage.two_factor.enabled_at IS NULL
        RETURNING 1
        """
            ),
            {"ws": workspace_id, "user": user_id, "secret": sealed, "now": now},
        )
    ).first()
    return row is not None


async def take_step(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, step: int, *, enabled: bool
) -> bool:
    """Record ``step`` as used if it is later than every step used before (atomically)."""
    row = (
        await conn.execute(
            text(
                """
        UPDATE triage.two_factor SET last_step = :step
        WHERE workspace_id = :ws AND user_id = :user
          AND (enabled_at IS NOT NULL) = :enabled
          AND (last_step IS NULL OR last_step < :step)
        RETURNING 1
        """
            ),
            {"ws": workspace_id, "user": user_id, "step": step, "enabled": enabled},
        )
    ).first()
    return row is not None


async def enable(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> list[str]:
    """Turn two-factor on and issue fresh recovery codes (returned once, stored hashed)."""
    await conn.execute(
        text(
            "UPDATE triage.two_factor SET enabled_at = :now "
            "WHERE workspace_id = :ws AND user_id = :user"
        ),
        {"ws": workspace_id, "user": user_id, "now": now},
    )
    return await replace_recovery_codes(conn, workspace_id, user_id)


async def replace_recovery_codes(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> list[str]:
    codes = rules.new_recovery_codes()
    await conn.execute(
        text("DELETE FROM triage.recovery_codes WHERE workspace_id = :ws AND user_id = :user"),
        {"ws": workspace_id, "user": user_id},
    )
    digests = [rules.recovery_digest(c.replace("-", "")) for c in codes]
    await conn.execute(
        text(
            "INSERT INTO triage.recovery_codes (workspace_id, user_id, digest) "
            "SELECT :ws, :user, unnest(CAST(:digests AS bytea[]))"
        ),
        {"ws": workspace_id, "user": user_id, "digests": digests},
    )
    return codes


async def spend_recovery_code(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, code: str, now: datetime
) -> bool:
    """Use a recovery code once; False if unknown or already used."""
    stored = rules.normalise_recovery_code(code)
    if stored is None:
        return False
    row = (
        await conn.execute(
            text(
                """
        UPDATE triage.recovery_codes SET used_at = :now
        WHERE workspace_id = :ws AND user_id = :user AND digest = :digest AND used_at IS NULL
        RETURNING 1
        """
            ),
            {
                "ws": workspace_id,
                "user": user_id,
                "digest": rules.recovery_digest(stored),
                "now": now,
            },
        )
    ).first()
    return row is not None


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


async def remove(conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Turn two-factor off (secret and recovery codes gone); False if it was not on."""
    await conn.execute(
        text("DELETE FROM triage.recovery_codes WHERE workspace_id = :ws AND user_id = :user"),
        {"ws": workspace_id, "user": user_id},
    )
    row = (
        await conn.execute(
            text(
                "DELETE FROM triage.two_factor WHERE workspace_id = :ws AND user_id = :user "
                "RETURNING enabled_at IS NOT NULL AS enabled"
            ),
            {"ws": workspace_id, "user": user_id},
        )
    ).first()
    return bool(row and row.enabled)


async def check_second_factor(
    conn: AsyncConnection,
    box: SecretBox,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    code: str,
    now: datetime,
) -> str | None:
    """How the code proves the user (``totp``, ``recovery_code``), spending it; else None.

    A TOTP code needs the secret: ``SecretBoxError`` if no configured key opens it (a
    recovery code still works). A secret opened with an old key is sealed again."""
    current = await enrolment(conn, workspace_id, user_id)
    if current is None or not current.enabled:
        return None
    code = code.strip()
    if rules.is_totp_shaped(code):
        opened = unseal(box, workspace_id, user_id, current.secret)
        step = rules.matching_step(opened.plain, code, now, current.last_step)
        if step is not None and await take_step(conn, workspace_id, user_id, step, enabled=True):
            await reseal(conn, box, workspace_id, user_id, opened, current.secret)
            return "totp"
        return None
    if await spend_recovery_code(conn, workspace_id, user_id, code, now):
        return "recovery_code"
    return None


async def open_pending(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> str:
    """A password-checked sign-in awaiting its code: a token that grants nothing else."""
    token = secrets.token_urlsafe(32)
    await conn.execute(
        text("DELETE FROM triage.pending_logins WHERE expires_at < :now"), {"now": now}
    )
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
            "expires": now + PENDING_LIFETIME,
        },
    )
    return token


async def claim_pending(
    conn: AsyncConnection, token: str, now: datetime
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(workspace, user) of a live pending sign-in, counting one attempt; None if it is
    unknown, expired, used or out of attempts."""
    row = (
        await conn.execute(
            text(
                """
        UPDATE triage.pending_logins SET attempts = attempts + 1
        WHERE digest = :d AND used_at IS NULL AND expires_at > :now AND attempts < :max
        RETURNING workspace_id, user_id
        """
            ),
            {"d": token_digest(token), "now": now, "max": PENDING_MAX_ATTEMPTS},
        )
    ).first()
    return (row.workspace_id, row.user_id) if row else None


async def close_pending(conn: AsyncConnection, token: str, now: datetime) -> None:
    await conn.execute(
        text("UPDATE triage.pending_logins SET used_at = :now WHERE digest = :d"),
        {"d": token_digest(token), "now": now},
    )


async def policy(conn: AsyncConnection, workspace_id: uuid.UUID) -> str:
    return str(
        (
            await conn.execute(
                text("SELECT two_factor_policy FROM triage.workspaces WHERE id = :ws"),
                {"ws": workspace_id},
            )
        ).scalar_one()
    )


async def set_policy(conn: AsyncConnection, workspace_id: uuid.UUID, value: str) -> str:
    """Set the policy; returns the previous one."""
    previous = (
        await conn.execute(
            text(
                "UPDATE triage.workspaces AS w SET two_factor_policy = :p "
                "FROM triage.workspaces AS old WHERE w.id = :ws AND old.id = w.id "
                "RETURNING old.two_factor_policy"
            ),
            {"ws": workspace_id, "p": value},
        )
    ).scalar_one()
    return str(previous)
