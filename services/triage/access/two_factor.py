"""Two-factor: secrets (sealed), accepted steps, recovery codes, pending sign-ins and the
workspace's policy, and what a user or an admin does with them. The decisions live in
``domain/two_factor.py``, the SQL in ``store.py``.

A secret opened with an old key (``TRIAGE_TWO_FACTOR_OLD_KEYS``) is sealed again with the
current key when it is next used successfully, in the same transaction (``reseal``);
``python -m services.triage reseal-two-factor`` does every row at once.

Reuse protection is one conditional UPDATE: a code is accepted only if it moves
``last_step`` forward, so of two concurrent sign-ins with the same code, Postgres lets exactly
one row update happen (the other re-checks the condition after the first commits and finds
the step taken). A recovery code is spent the same way (``used_at IS NULL`` in the UPDATE).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.infra.secretbox import Opened, SecretBox, SecretBoxError
from services.triage.access import accounts, limits, store
from services.triage.access.accounts import Caller
from services.triage.access.store import Enrolment
from services.triage.domain import two_factor as rules

PENDING_LIFETIME = timedelta(minutes=5)
PENDING_MAX_ATTEMPTS = 5
T = TypeVar("T")


class UnreadableSecret(Exception):
    """No configured key opens the user's TOTP secret (the key changed and the old one is not
    listed)."""

    def __init__(self, workspace_id: uuid.UUID, user_id: uuid.UUID, *, enabled: bool) -> None:
        super().__init__(workspace_id, user_id)
        self.workspace_id, self.user_id, self.enabled = workspace_id, user_id, enabled


class NoEnrolmentWaiting(LookupError):
    """No enrolment is waiting for its first code."""


def _context(workspace_id: uuid.UUID, user_id: uuid.UUID) -> bytes:
    return f"totp:{workspace_id}:{user_id}".encode()


def seal(box: SecretBox, workspace_id: uuid.UUID, user_id: uuid.UUID, secret: bytes) -> bytes:
    return box.seal(secret, _context(workspace_id, user_id))


def unseal(box: SecretBox, workspace_id: uuid.UUID, user_id: uuid.UUID, sealed: bytes) -> Opened:
    """The secret, and whether it is sealed with an old key (``SecretBoxError`` if no key
    opens it)."""
    return box.open(sealed, _context(workspace_id, user_id))


def _open(
    box: SecretBox, workspace_id: uuid.UUID, user_id: uuid.UUID, current: Enrolment
) -> Opened:
    """``unseal``, or ``UnreadableSecret``."""
    try:
        return unseal(box, workspace_id, user_id, current.secret)
    except SecretBoxError:
        raise UnreadableSecret(workspace_id, user_id, enabled=current.enabled) from None


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
    new = seal(box, workspace_id, user_id, opened.plain)
    return await store.replace_secret(conn, workspace_id, user_id, sealed, new)


def code_keys(workspace_id: uuid.UUID, user_id: uuid.UUID, address: str | None) -> limits.Keys:
    """The rate-limit keys of code checks by this user from this address."""
    return limits.keys(f"2fa:{workspace_id}:{user_id}", address)


# ---- codes -----------------------------------------------------------------------------


async def enable(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> list[str]:
    """Turn two-factor on and issue fresh recovery codes (returned once, stored hashed)."""
    await store.enable_two_factor(conn, workspace_id, user_id, now)
    return await replace_recovery_codes(conn, workspace_id, user_id)


async def replace_recovery_codes(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> list[str]:
    codes = rules.new_recovery_codes()
    digests = [rules.recovery_digest(c.replace("-", "")) for c in codes]
    await store.replace_recovery_digests(conn, workspace_id, user_id, digests)
    return codes


async def spend_recovery_code(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, code: str, now: datetime
) -> bool:
    """Use a recovery code once; False if unknown or already used."""
    stored = rules.normalise_recovery_code(code)
    if stored is None:
        return False
    digest = rules.recovery_digest(stored)
    return await store.spend_recovery_digest(conn, workspace_id, user_id, digest, now)


async def check_second_factor(
    conn: AsyncConnection,
    box: SecretBox,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    code: str,
    now: datetime,
) -> str | None:
    """How the code proves the user (``totp``, ``recovery_code``), spending it; else None.

    A TOTP code needs the secret: ``UnreadableSecret`` if no configured key opens it (a
    recovery code still works). A secret opened with an old key is sealed again."""
    current = await store.enrolment(conn, workspace_id, user_id)
    if current is None or not current.enabled:
        return None
    code = code.strip()
    if rules.is_totp_shaped(code):
        opened = _open(box, workspace_id, user_id, current)
        step = rules.matching_step(opened.plain, code, now, current.last_step)
        if step is not None and await store.take_step(
            conn, workspace_id, user_id, step, enabled=True
        ):
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
    await store.insert_pending(conn, workspace_id, user_id, token, now, now + PENDING_LIFETIME)
    return token


# ---- my two-factor ---------------------------------------------------------------------


async def status(conn: AsyncConnection, caller: Caller) -> dict[str, object]:
    """Whether the caller's two-factor is on, waiting for its first code, or required."""
    current = await store.enrolment(conn, caller.workspace_id, caller.user_id)
    policy = await store.two_factor_policy(conn, caller.workspace_id)
    left = await store.recovery_codes_left(conn, caller.workspace_id, caller.user_id)
    return {
        "enabled": bool(current and current.enabled),
        "pending": bool(current and not current.enabled),
        "required": rules.two_factor_required(policy, caller.role),
        "recovery_codes_left": left,
    }


async def start_enrolment(
    conn: AsyncConnection, box: SecretBox, caller: Caller, now: datetime
) -> tuple[str, str] | None:
    """A new secret awaiting its first code: (the key as text, its otpauth:// URI); None if
    two-factor is already on."""
    secret = rules.new_secret()
    sealed = seal(box, caller.workspace_id, caller.user_id, secret)
    if not await store.begin_enrolment(conn, caller.workspace_id, caller.user_id, sealed, now):
        return None
    email = await store.email_of(conn, caller.workspace_id, caller.user_id)
    await store.audit(conn, caller.workspace_id, caller.user_id, "two_factor_enrolling")
    return rules.secret_text(secret), rules.otpauth_uri(secret, email)


async def _waiting(conn: AsyncConnection, caller: Caller) -> Enrolment:
    current = await store.enrolment(conn, caller.workspace_id, caller.user_id)
    if current is None or current.enabled:
        raise NoEnrolmentWaiting(caller.user_id)
    return current


async def pending_uri(conn: AsyncConnection, box: SecretBox, caller: Caller) -> str:
    """The otpauth:// URI of the enrolment waiting for its first code (for its QR code)."""
    current = await _waiting(conn, caller)
    email = await store.email_of(conn, caller.workspace_id, caller.user_id)
    secret = _open(box, caller.workspace_id, caller.user_id, current).plain
    return rules.otpauth_uri(secret, email)


CodeProven = Callable[[AsyncConnection, SecretBox, Caller, str, datetime], Awaitable[T | None]]


async def proven_by_code(
    engine: AsyncEngine,
    box: SecretBox,
    caller: Caller,
    code: str,
    address: str | None,
    now: datetime,
    action: CodeProven[T],
) -> T | None:
    """``action`` (``confirm``, ``disable``, ``replace_codes``) if ``code`` proves the caller;
    None if not, counted against the user and the address (``TooManyFailures`` once too
    many)."""

    async def attempt(conn: AsyncConnection) -> T | None:
        return await action(conn, box, caller, code, now)

    keys = code_keys(caller.workspace_id, caller.user_id, address)
    return await limits.counted_attempt(engine, keys, now, attempt)


async def confirm(
    conn: AsyncConnection, box: SecretBox, caller: Caller, code: str, now: datetime
) -> tuple[list[str], int] | None:
    """The first code turns two-factor on: (ten recovery codes, shown this once; how many
    other sessions ended); None if the code is wrong."""
    ws, user = caller.workspace_id, caller.user_id
    current = await _waiting(conn, caller)
    opened = _open(box, ws, user, current)
    step = rules.matching_step(opened.plain, code, now, current.last_step)
    if step is None or not await store.take_step(conn, ws, user, step, enabled=False):
        return None
    await reseal(conn, box, ws, user, opened, current.secret)
    codes = await enable(conn, ws, user, now)
    return codes, await accounts.end_sessions(conn, caller, user, now, "two_factor_enabled")


async def disable(
    conn: AsyncConnection, box: SecretBox, caller: Caller, code: str, now: datetime
) -> int | None:
    """Two-factor off, proven by a fresh code (or a recovery code): how many other sessions
    ended; None if the code is wrong."""
    ws, user = caller.workspace_id, caller.user_id
    method = await check_second_factor(conn, box, ws, user, code, now)
    if method is None:
        return None
    await store.remove_two_factor(conn, ws, user)
    return await accounts.end_sessions(
        conn, caller, user, now, "two_factor_disabled", {"proof": method}
    )


async def replace_codes(
    conn: AsyncConnection, box: SecretBox, caller: Caller, code: str, now: datetime
) -> list[str] | None:
    """Ten fresh recovery codes (the old ones stop working), proven by a fresh TOTP code (a
    recovery code will not do); None if the code is wrong."""
    ws, user = caller.workspace_id, caller.user_id
    if not rules.is_totp_shaped(code.strip()):
        return None
    if await check_second_factor(conn, box, ws, user, code, now) is None:
        return None
    codes = await replace_recovery_codes(conn, ws, user)
    await store.audit(conn, ws, user, "recovery_codes_replaced")
    return codes


# ---- administration --------------------------------------------------------------------


async def users(conn: AsyncConnection, caller: Caller) -> list[dict[str, object]]:
    """The caller's workspace's users and their two-factor state."""
    policy = await store.two_factor_policy(conn, caller.workspace_id)
    return [
        {
            "id": r.id,
            "email": r.email,
            "display_name": r.display_name,
            "role": r.role,
            "two_factor": r.two_factor,
            "must_enrol": rules.two_factor_required(policy, r.role) and not r.two_factor,
            "active": r.deactivated_at is None,
            "deactivated_at": r.deactivated_at,
            "has_password": r.has_password,
        }
        for r in await store.users_and_two_factor(conn, caller.workspace_id)
    ]


async def reset(
    conn: AsyncConnection, caller: Caller, user_id: uuid.UUID, now: datetime
) -> tuple[bool, int]:
    """Turn a user's two-factor off (a lost phone) and end their sessions: (whether it was
    on, how many sessions ended)."""
    await accounts.check_user(conn, caller, user_id)
    was_on = await store.remove_two_factor(conn, caller.workspace_id, user_id)
    ended = await accounts.end_sessions(
        conn, caller, user_id, now, "two_factor_reset", {"was_enabled": was_on}
    )
    return was_on, ended


async def set_policy(conn: AsyncConnection, caller: Caller, policy: str) -> None:
    """Who must use two-factor in the caller's workspace; a change is audited."""
    previous = await store.set_two_factor_policy(conn, caller.workspace_id, policy)
    if previous != policy:
        await store.audit(
            conn,
            caller.workspace_id,
            caller.user_id,
            "two_factor_policy_changed",
            detail={"from": previous, "to": policy},
        )
