"""The credential directory (digest -> workspace, migrations t0021/i0008) only routes.

A request brings only its secret; the directory says in which workspace to look, and the
credential's own row, found by (workspace, digest), is what authenticates. So a token given
to a second workspace stays the first's, a directory entry pointing elsewhere opens
nothing, and the directory holds digests only, never a usable credential.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.inbox.ingest.store import create_ingest_token, holder_of_token
from services.infra.auth import token_digest
from services.triage.access import store

NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
IDLE = NOW - timedelta(hours=1)


async def _workspace(engine: AsyncEngine, name: str) -> tuple[uuid.UUID, uuid.UUID]:
    async with engine.begin() as conn:
        ws = await store.create_workspace(conn, name)
        user = await store.create_user(conn, ws, f"agent@{name}.example", "Agent", "agent")
    return ws, user


async def test_a_token_given_to_a_second_workspace_stays_the_firsts(engine: AsyncEngine) -> None:
    first, first_user = await _workspace(engine, "first")
    second, second_user = await _workspace(engine, "second")
    async with engine.begin() as conn:
        await store.create_api_token(conn, first, first_user, "eca_shared", "a")
        await store.create_api_token(conn, second, second_user, "eca_shared", "b")
        await create_ingest_token(conn, first, "eci_shared", "a")
        await create_ingest_token(conn, second, "eci_shared", "b")
    async with engine.begin() as conn:
        owner = await store.token_owner(conn, "eca_shared")
        holder = await holder_of_token(conn, "eci_shared")
        second_rows = await conn.scalar(
            text("SELECT count(*) FROM triage.api_tokens WHERE workspace_id = :ws"),
            {"ws": second},
        )
    assert owner is not None and (owner.workspace_id, owner.user_id) == (first, first_user)
    assert holder == (first, "ingest")
    assert second_rows == 0


async def test_a_directory_entry_pointing_elsewhere_opens_nothing(engine: AsyncEngine) -> None:
    victim, victim_user = await _workspace(engine, "victim")
    other, _ = await _workspace(engine, "other")
    async with engine.begin() as conn:
        await store.insert_session(
            conn,
            victim,
            victim_user,
            "cookie",
            "csrf",
            NOW,
            NOW + timedelta(hours=8),
            "password",
            "",
        )
        await store.create_api_token(conn, victim, victim_user, "eca_victim", "a")
        # Point the digests at another workspace, as a stale or tampered entry would.
        await conn.execute(
            text("UPDATE triage.credential_directory SET workspace_id = :other"),
            {"other": other},
        )
    async with engine.begin() as conn:
        assert await store.touch_session(conn, "cookie", NOW, IDLE) is None
        assert await store.token_owner(conn, "eca_victim") is None


async def test_the_directory_holds_digests_only(engine: AsyncEngine) -> None:
    ws, user = await _workspace(engine, "digests")
    async with engine.begin() as conn:
        await store.insert_session(
            conn, ws, user, "cookie-secret", "csrf", NOW, NOW + timedelta(hours=8), "password", ""
        )
        await store.create_api_token(conn, ws, user, "eca_secret", "a")
        await create_ingest_token(conn, ws, "eci_secret", "a")
        filed = set(
            (
                await conn.execute(
                    text(
                        "SELECT digest FROM triage.credential_directory "
                        "UNION ALL SELECT digest FROM inbox.token_directory"
                    )
                )
            ).scalars()
        )
    assert filed == {token_digest(t) for t in ("cookie-secret", "eca_secret", "eci_secret")}
