"""What changed on the desk, for live updates: a log written with the change itself.

Writers call ``record`` inside the transaction that changes a conversation, so a change is
visible exactly when it is true. Readers (the stream) page the log by id and also re-read
the last few seconds, so a transaction that committed late with a smaller id is not skipped.
NOTIFY only wakes the streams; the log is the delivery.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.db import all_rows

WAKE_DESK = "ecoute_desk"
LATE_COMMIT_MARGIN = timedelta(seconds=5)
KEEP = timedelta(days=2)


async def record(
    conn: AsyncConnection, changes: Iterable[tuple[uuid.UUID, int]], change: str
) -> None:
    """Log that these (workspace, conversation) pairs changed; wake the live streams."""
    rows = [{"w": str(w), "c": c} for w, c in sorted(set(changes))]
    if not rows:
        return
    await conn.execute(
        text(
            """
        INSERT INTO triage.changes (workspace_id, conversation_id, change)
        SELECT r.w, r.c, :change FROM json_to_recordset(CAST(:rows AS json)) AS r(w uuid, c bigint)
        """
        ),
        {"rows": orjson.dumps(rows).decode(), "change": change},
    )
    await conn.execute(text(f"SELECT pg_notify('{WAKE_DESK}', '')"))


async def since(
    conn: AsyncConnection, workspace_id: uuid.UUID, after_id: int, now: datetime, limit: int = 500
) -> list[dict[str, Any]]:
    """Changes after ``after_id``, plus those of the last seconds (late commits)."""
    rows = await all_rows(
        conn,
        """
        SELECT id, conversation_id, change, at FROM triage.changes
        WHERE workspace_id = :ws AND (id > :after OR at > :recent)
        ORDER BY id LIMIT :limit
        """,
        {
            "ws": workspace_id,
            "after": after_id,
            "recent": now - LATE_COMMIT_MARGIN,
            "limit": limit,
        },
    )
    return [
        {"id": r.id, "conversation_id": r.conversation_id, "change": r.change, "at": r.at}
        for r in rows
    ]


async def purge(conn: AsyncConnection, now: datetime) -> None:
    await conn.execute(text("DELETE FROM triage.changes WHERE at < :old"), {"old": now - KEEP})


async def latest_id(conn: AsyncConnection, workspace_id: uuid.UUID) -> int:
    """The id of the workspace's last change (0 before any): where a new stream starts."""
    return int(
        (
            await conn.execute(
                text("SELECT coalesce(max(id), 0) FROM triage.changes WHERE workspace_id = :ws"),
                {"ws": workspace_id},
            )
        ).scalar_one()
    )
