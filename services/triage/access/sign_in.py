"""Signing in: a password, then (with two-factor on) a code, open a session.

With two-factor on, sign-in takes two steps: the password answers a pending token (valid
5 minutes, 5 tries, good for nothing but the second step), and the code (or a recovery code)
sent with it opens the session. Wrong, expired and replayed codes get one and the same answer
and count as failed sign-ins. An unknown e-mail and a wrong password cost the same time and
get the same answer.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.infra.secretbox import SecretBox
from services.triage.access import accounts, limits, passwords, store, two_factor
from services.triage.access.accounts import SessionLimits


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A session opened: its cookie and CSRF tokens (shown once), and who signed in."""

    token: str
    csrf: str
    workspace_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    role: str
    must_enrol: bool


@dataclass(frozen=True, slots=True)
class CodeNeeded:
    """The password was right and two-factor is on: the second step needs this token."""

    pending_token: str


class WrongCredentials(Exception):
    """Unknown e-mail, wrong password, or a wrong, expired or already used code."""


class ChooseWorkspace(Exception):
    """The e-mail and password sign in to several workspaces."""

    def __init__(self, workspaces: list[uuid.UUID]) -> None:
        super().__init__(workspaces)
        self.workspaces = workspaces


class CannotCheckCodes(Exception):
    """The user has two-factor on but this server has no key to read TOTP secrets."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """Where a sign-in comes from (its address counts failures), and this server's rules."""

    address: str | None
    user_agent: str
    limits: SessionLimits
    box: SecretBox | None  # None: this server cannot check codes
    now: datetime


async def with_password(
    engine: AsyncEngine,
    email: str,
    password: str,
    workspace_id: uuid.UUID | None,
    attempt: Attempt,
) -> SignedIn | CodeNeeded:
    """The first step: a session, or (two-factor on) a pending token for the second."""

    async def check(conn: AsyncConnection) -> list[tuple[uuid.UUID, uuid.UUID]] | None:
        candidates = [
            c for c in await store.find_login(conn, email) if workspace_id in (None, c[0])
        ]
        return await _matching(conn, password, candidates) or None

    keys = limits.keys(f"email:{email.lower()}", attempt.address)
    matching = await limits.counted_attempt(engine, keys, attempt.now, check)
    if matching is None:
        raise WrongCredentials
    if len(matching) > 1:
        raise ChooseWorkspace([ws for ws, _ in matching])
    workspace_id, user_id = matching[0]
    async with engine.begin() as conn:
        current = await store.enrolment(conn, workspace_id, user_id)
        if current is not None and current.enabled:
            if attempt.box is None:
                raise CannotCheckCodes
            pending = await two_factor.open_pending(conn, workspace_id, user_id, attempt.now)
            return CodeNeeded(pending)
        return await _open(conn, workspace_id, user_id, attempt, "password")


async def _matching(
    conn: AsyncConnection,
    password: str,
    candidates: list[tuple[uuid.UUID, uuid.UUID, str, str | None]],
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(workspace, user) of the candidates whose password this is; an outdated hash of a
    right password is replaced (argon2id) in the same transaction. No candidate costs one
    check all the same."""
    if not candidates:
        await asyncio.to_thread(passwords.check, password, None)
        return []
    matching = []
    for workspace_id, user_id, _, stored in candidates:
        checked = await asyncio.to_thread(passwords.check, password, stored)
        if checked.right:
            matching.append((workspace_id, user_id))
            if checked.upgrade is not None:
                await store.set_password_hash(conn, workspace_id, user_id, checked.upgrade)
    return matching


async def with_code(
    engine: AsyncEngine, pending_token: str, code: str, attempt: Attempt
) -> SignedIn:
    """The second step: the pending token and a TOTP or recovery code open the session."""
    box, now = attempt.box, attempt.now

    async def claim(conn: AsyncConnection) -> tuple[uuid.UUID, uuid.UUID] | None:
        pending = await store.claim_pending(
            conn, pending_token, now, two_factor.PENDING_MAX_ATTEMPTS
        )
        return pending if box is not None else None  # the attempt counts all the same

    pending = await limits.counted_attempt(engine, limits.keys(None, attempt.address), now, claim)
    if pending is None or box is None:
        raise WrongCredentials
    workspace_id, user_id = pending

    async def prove(conn: AsyncConnection) -> SignedIn | None:
        method = await two_factor.check_second_factor(conn, box, workspace_id, user_id, code, now)
        if method is None:
            return None
        await store.close_pending(conn, pending_token, now)
        if method == "recovery_code":
            left = await store.recovery_codes_left(conn, workspace_id, user_id)
            await store.audit(
                conn, workspace_id, user_id, "recovery_code_used", detail={"left": left}
            )
        return await _open(conn, workspace_id, user_id, attempt, method)

    keys = two_factor.code_keys(workspace_id, user_id, attempt.address)
    signed_in = await limits.counted_attempt(engine, keys, now, prove)
    if signed_in is None:
        raise WrongCredentials
    return signed_in


async def _open(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    attempt: Attempt,
    method: str,
) -> SignedIn:
    """Open the session, audited, and say who signed in and whether they must enrol."""
    token, csrf = await accounts.open_session(
        conn, workspace_id, user_id, attempt.now, attempt.limits, method, attempt.user_agent
    )
    await store.audit(conn, workspace_id, user_id, "signed_in", detail={"method": method})
    user = await store.signing_in(conn, workspace_id, user_id)
    return SignedIn(token, csrf, workspace_id, user_id, user.email, user.role, user.must_enrol)


async def session_or_code(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    attempt: Attempt,
    method: str,
) -> SignedIn | CodeNeeded:
    """After a first proof other than the sign-in form's (a one-time link): the session, or,
    with two-factor on, a pending token for the code step, as after a password."""
    current = await store.enrolment(conn, workspace_id, user_id)
    if current is not None and current.enabled:
        if attempt.box is None:
            raise CannotCheckCodes
        return CodeNeeded(await two_factor.open_pending(conn, workspace_id, user_id, attempt.now))
    return await _open(conn, workspace_id, user_id, attempt, method)
