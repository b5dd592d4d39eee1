"""Every SQL statement of routing: presence, skills, the workspace's switch, the team's load,
and the conversations waiting for an agent.

The claim itself is the desk's (``desk.store.claim``): an assignment is the same lease an
agent's own claim is, so a vanished agent's conversations return to the pool by themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.sla.store import queue_order_by

ROUTING_LOCK = 0x524F  # advisory lock class of routing ("RO"); the object is the workspace


async def settings(conn: AsyncConnection, workspace_id: uuid.UUID) -> Row[Any] | None:
    """(auto_assign, max_open_claims) of the workspace, or None if never set."""
    return (
        await conn.execute(
            text(
                "SELECT auto_assign, max_open_claims FROM triage.routing_settings "
                "WHERE workspace_id = :ws"
            ),
            {"ws": workspace_id},
        )
    ).first()


async def save_settings(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    auto_assign: bool,
    max_open_claims: int | None,
    user_id: uuid.UUID,
) -> None:
    await conn.execute(
        text(
            """
        INSERT INTO triage.routing_settings (workspace_id, auto_assign, max_open_claims,
                                             updated_by)
        VALUES (:ws, :auto, :max, :user)
        ON CONFLICT (workspace_id) DO UPDATE
        SET auto_assign = EXCLUDED.auto_assign, max_open_claims = EXCLUDED.max_open_claims,
            updated_by = EXCLUDED.updated_by, updated_at = now()
        """
        ),
        {"ws": workspace_id, "auto": auto_assign, "max": max_open_claims, "user": user_id},
    )


async def set_presence(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, state: str, now: datetime
) -> None:
    await conn.execute(
        text(
            """
        INSERT INTO triage.agent_routing (workspace_id, user_id, presence, presence_at)
        VALUES (:ws, :user, :state, :now)
        ON CONFLICT (workspace_id, user_id) DO UPDATE
        SET presence = EXCLUDED.presence, presence_at = EXCLUDED.presence_at
        """
        ),
        {"ws": workspace_id, "user": user_id, "state": state, "now": now},
    )


async def set_skills(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    max_open_claims: int | None,
    languages: Sequence[str],
    channels: Sequence[str],
) -> None:
    await conn.execute(
        text(
            """
        INSERT INTO triage.agent_routing (workspace_id, user_id, max_open_claims, languages,
                                          channels)
        VALUES (:ws, :user, :max, CAST(:languages AS text[]), CAST(:channels AS text[]))
        ON CONFLICT (workspace_id, user_id) DO UPDATE
        SET max_open_claims = EXCLUDED.max_open_claims, languages = EXCLUDED.languages,
            channels = EXCLUDED.channels
        """
        ),
        {
            "ws": workspace_id,
            "user": user_id,
            "max": max_open_claims,
            "languages": sorted(set(languages)),
            "channels": sorted(set(channels)),
        },
    )


_TEAM = text(
    """
    SELECT u.id AS user_id, u.display_name, u.role, r.presence, r.max_open_claims,
           coalesce(r.languages, '{}') AS languages, coalesce(r.channels, '{}') AS channels,
           r.last_assigned_at,
           greatest(r.presence_at, (
               SELECT max(s.last_seen_at) FROM triage.sessions AS s
               WHERE s.workspace_id = u.workspace_id AND s.user_id = u.id
                 AND s.revoked_at IS NULL AND s.expires_at > :now)) AS last_active,
           (SELECT count(*) FROM triage.conversations AS c
             WHERE c.workspace_id = u.workspace_id AND c.assignee_id = u.id
               AND c.status = 'open' AND c.claim_expires_at > :now) AS open_claims
    FROM triage.users AS u
    LEFT JOIN triage.agent_routing AS r ON r.workspace_id = u.workspace_id AND r.user_id = u.id
    WHERE u.workspace_id = :ws AND u.deactivated_at IS NULL
      AND (NOT :routed_only OR r.presence IS NOT NULL)
      AND (CAST(:user AS uuid) IS NULL OR u.id = CAST(:user AS uuid))
    ORDER BY u.display_name, u.id
    """
)


async def team(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    now: datetime,
    routed_only: bool = False,
    user_id: uuid.UUID | None = None,
) -> Sequence[Row[Any]]:
    """Every active user with their presence as set, last activity (latest session request
    or presence update), skills, maximum and open claims; ``routed_only``: only those who
    ever set a presence (the worker's candidates); ``user_id``: only that user."""
    params = {"ws": workspace_id, "now": now, "routed_only": routed_only, "user": user_id}
    return (await conn.execute(_TEAM, params)).all()


async def auto_assigning(conn: AsyncConnection) -> list[uuid.UUID]:
    """Workspaces that turned automatic assignment on."""
    rows = await conn.execute(
        text(
            "SELECT workspace_id FROM triage.routing_settings WHERE auto_assign "
            "ORDER BY workspace_id"
        )
    )
    return [r.workspace_id for r in rows]


async def lock_workspace(conn: AsyncConnection, workspace_id: uuid.UUID) -> bool:
    """Take the workspace's routing lock until the transaction ends; False when another
    worker holds it (that worker is assigning there: this one moves on)."""
    return bool(
        (
            await conn.execute(
                text("SELECT pg_try_advisory_xact_lock(:cls, hashtext(:ws))"),
                {"cls": ROUTING_LOCK, "ws": str(workspace_id)},
            )
        ).scalar_one()
    )


_WAITING = text(
    f"""
    SELECT c.id, coalesce(c.route_channel, c.channel) AS channel, c.waiting_since,
           coalesce(c.route_language, c.language) AS language
    FROM triage.conversations AS c
    WHERE c.workspace_id = :ws AND c.status = 'open' AND c.needs_answer
      AND (c.assignee_id IS NULL OR c.claim_expires_at < :now)
    ORDER BY {queue_order_by("c")}
    LIMIT :limit
    FOR UPDATE OF c SKIP LOCKED
    """
)


async def lock_waiting(
    conn: AsyncConnection, workspace_id: uuid.UUID, now: datetime, limit: int
) -> Sequence[Row[Any]]:
    """The most urgent unassigned conversations (the queue's order), locked; rows an agent
    or the consumer holds at this moment are skipped (the next round sees them)."""
    return (await conn.execute(_WAITING, {"ws": workspace_id, "now": now, "limit": limit})).all()


async def mark_assigned(
    conn: AsyncConnection, workspace_id: uuid.UUID, stamps: dict[uuid.UUID, datetime]
) -> None:
    """Record when each agent was last given a conversation (the fairness order)."""
    if not stamps:
        return
    await conn.execute(
        text(
            """
        INSERT INTO triage.agent_routing (workspace_id, user_id, last_assigned_at)
        SELECT :ws, u, t FROM unnest(CAST(:users AS uuid[]), CAST(:times AS timestamptz[]))
             AS x(u, t)
        ON CONFLICT (workspace_id, user_id) DO UPDATE
        SET last_assigned_at = EXCLUDED.last_assigned_at
        """
        ),
        {"ws": workspace_id, "users": list(stamps), "times": list(stamps.values())},
    )


async def lock_conversation(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int, now: datetime
) -> Row[Any] | None:
    """(status, holder under a live lease, waiting_since) of a conversation, its row locked
    for a hand assignment; None when the workspace has no such conversation."""
    return (
        await conn.execute(
            text(
                """
        SELECT status, waiting_since,
               CASE WHEN claim_expires_at > :now THEN assignee_id END AS holder
        FROM triage.conversations WHERE workspace_id = :ws AND id = :id
        FOR UPDATE
        """
            ),
            {"ws": workspace_id, "id": conversation_id, "now": now},
        )
    ).first()


async def holder_view(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int
) -> Row[Any]:
    """(assignee_id, display_name, claim_expires_at) of a conversation just assigned."""
    return (
        await conn.execute(
            text(
                """
        SELECT c.assignee_id, u.display_name, c.claim_expires_at
        FROM triage.conversations AS c
        JOIN triage.users AS u ON u.workspace_id = c.workspace_id AND u.id = c.assignee_id
        WHERE c.workspace_id = :ws AND c.id = :id
        """
            ),
            {"ws": workspace_id, "id": conversation_id},
        )
    ).one()


LOAD_BY_CLAIMS = text(
    """
    SELECT n AS open_claims, count(*) AS agents FROM (
        SELECT (SELECT count(*) FROM triage.conversations AS c
                 WHERE c.workspace_id = r.workspace_id AND c.assignee_id = r.user_id
                   AND c.status = 'open' AND c.claim_expires_at > :now) AS n
        FROM triage.agent_routing AS r WHERE r.presence <> 'offline') AS per_agent
    GROUP BY n
    """
)


async def load_by_claims(conn: AsyncConnection, now: datetime) -> Sequence[Row[Any]]:
    """Present agents (who ever set a presence) by their open claims, every workspace:
    (open_claims, agents) rows, for the load gauge."""
    return (await conn.execute(LOAD_BY_CLAIMS, {"now": now})).all()
