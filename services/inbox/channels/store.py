"""SQL for connected channels: configuration, claims for polling, cursors and health."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.inbox.connectors.base import Channel
from services.infra.platforms import MODERATION, NO_MODERATION
from services.infra.worker import workspace_after

WAKE_POLLER = "ecoute_channels"


def describe_channel(row: Any) -> Channel:
    cursor = row.cursor if isinstance(row.cursor, dict) else orjson.loads(row.cursor or "{}")
    return Channel(
        workspace_id=row.workspace_id,
        id=row.id,
        platform=row.platform,
        key=row.key,
        account_id=row.account_id,
        base_url=row.base_url,
        credentials_ref=row.credentials_ref,
        poll_seconds=row.poll_seconds,
        cursor={str(k): str(v) for k, v in cursor.items()},
    )


UNIQUE_VIOLATION = "23505"


class AccountTaken(Exception):
    """The platform account is connected to another channel already (of any workspace):
    webhooks are routed by account, so it may have one channel only."""


async def configure(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    platform: str,
    key: str,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """Create or update a channel's connection; polling starts at once when enabled.
    ``AccountTaken`` (the transaction is then aborted) when another channel has the account."""
    try:
        row = await _upsert(conn, workspace_id, platform, key, settings)
    except IntegrityError as error:
        taken = getattr(error.orig, "sqlstate", None) == UNIQUE_VIOLATION
        if taken and "channels_account" in str(error.orig):
            raise AccountTaken from None
        raise
    await conn.execute(text(f"SELECT pg_notify('{WAKE_POLLER}', '')"))
    return describe(row)


async def _upsert(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    platform: str,
    key: str,
    settings: dict[str, Any],
) -> Any:
    return (
        await conn.execute(
            text(
                """
        INSERT INTO inbox.channels (workspace_id, platform, key, account_id, base_url,
                                    credentials_ref, polling, poll_seconds, next_poll_at, health,
                                    health_detail, failures)
        VALUES (:ws, :platform, :key, :account_id, :base_url, :credentials_ref, :polling,
                :poll_seconds, now(), 'ok', '', 0)
        ON CONFLICT (workspace_id, platform, key) DO UPDATE SET
            account_id = EXCLUDED.account_id, base_url = EXCLUDED.base_url,
            credentials_ref = EXCLUDED.credentials_ref, polling = EXCLUDED.polling,
            poll_seconds = EXCLUDED.poll_seconds, next_poll_at = now(), health = 'ok',
            health_detail = '', failures = 0
        RETURNING *
        """
            ),
            {"ws": workspace_id, "platform": platform, "key": key, **settings},
        )
    ).one()


def describe(row: Any) -> dict[str, Any]:
    """A channel as the API shows it: never its credentials, only their reference."""
    return {
        "platform": row.platform,
        "key": row.key,
        "account_id": row.account_id,
        "base_url": row.base_url,
        "credentials_ref": row.credentials_ref,
        "polling": row.polling,
        "poll_seconds": row.poll_seconds,
        "health": row.health,
        "health_detail": row.health_detail,
        "cursor": row.cursor,
        "last_success_at": row.last_success_at,
        "next_poll_at": row.next_poll_at,
        "capabilities": capabilities(row.platform),
    }


def capabilities(platform: str) -> dict[str, Any]:
    """What Écoute can do on the platform besides reading and replying: the moderation
    actions on customers' comments, or why there are none."""
    actions = list(MODERATION.get(platform, ()))
    return {"moderation": actions, "moderation_note": "" if actions else NO_MODERATION[platform]}


async def list_channels(conn: AsyncConnection, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = (
        await conn.execute(
            text("SELECT * FROM inbox.channels WHERE workspace_id = :ws ORDER BY platform, key"),
            {"ws": workspace_id},
        )
    ).all()
    return [describe(r) for r in rows]


async def next_workspace_due(
    conn: AsyncConnection, now: datetime, after: uuid.UUID
) -> uuid.UUID | None:
    """The first workspace above ``after`` with a channel due for a poll (a read: it locks
    nothing); claims name one workspace, and the workspaces take turns (``Rotation``)."""
    return await workspace_after(
        conn,
        text(
            "SELECT workspace_id FROM inbox.channels WHERE polling AND next_poll_at <= :now "
            "AND (lease_until IS NULL OR lease_until < :now) AND workspace_id > :after "
            "ORDER BY workspace_id LIMIT 1"
        ),
        {"now": now, "after": after},
    )


async def claim_due(
    conn: AsyncConnection,
    now: datetime,
    lease_seconds: float,
    limit: int,
    workspace_id: uuid.UUID | None = None,
) -> list[Channel]:
    """Channels due for a poll, leased to this process (a crashed poller's lease expires):
    the workspace's, or (tests and tools driving pollers by hand) the first due anywhere."""
    if workspace_id is None:
        workspace_id = await next_workspace_due(conn, now, uuid.UUID(int=0))
        if workspace_id is None:
            return []
    rows = (
        await conn.execute(
            text(
                """
        UPDATE inbox.channels AS c
        SET lease_until = CAST(:now AS timestamptz) + make_interval(secs => :lease)
        FROM (SELECT workspace_id, id FROM inbox.channels
              WHERE workspace_id = :ws AND polling AND next_poll_at <= :now
                AND (lease_until IS NULL OR lease_until < :now)
              ORDER BY next_poll_at LIMIT :limit
              FOR UPDATE SKIP LOCKED) AS due
        WHERE c.workspace_id = due.workspace_id AND c.id = due.id
        RETURNING c.*
        """
            ),
            {"ws": workspace_id, "now": now, "lease": lease_seconds, "limit": limit},
        )
    ).all()
    return [describe_channel(r) for r in rows]


async def save_cursor(conn: AsyncConnection, channel: Channel, stream: str, cursor: str) -> None:
    """In the same transaction as the page's messages: the cursor never runs ahead of them."""
    await conn.execute(
        text(
            "UPDATE inbox.channels SET cursor = cursor || jsonb_build_object(CAST(:s AS text), "
            "CAST(:c AS text)) WHERE workspace_id = :ws AND id = :id"
        ),
        {"s": stream, "c": cursor, "ws": channel.workspace_id, "id": channel.id},
    )


async def spend_quota(conn: AsyncConnection, channel: Channel, day: str, units: int) -> None:
    """Add ``units`` to the channel's count for ``day`` (``cursor.quota`` is ``day:units``; a
    new day starts from zero). One statement, so a poll and a delivery never lose a count."""
    await conn.execute(
        text(
            "UPDATE inbox.channels SET cursor = cursor || jsonb_build_object('quota', "
            "CAST(:day AS text) || ':' || (CASE WHEN split_part(cursor->>'quota', ':', 1) = "
            "CAST(:day AS text) THEN CAST(split_part(cursor->>'quota', ':', 2) AS int) ELSE 0 END"
            " + CAST(:units AS int))) WHERE workspace_id = :ws AND id = :id"
        ),
        {"day": day, "units": units, "ws": channel.workspace_id, "id": channel.id},
    )


async def reset_cursor(conn: AsyncConnection, channel: Channel, stream: str) -> None:
    await conn.execute(
        text(
            "UPDATE inbox.channels SET cursor = cursor - CAST(:s AS text) "
            "WHERE workspace_id = :ws AND id = :id"
        ),
        {"s": stream, "ws": channel.workspace_id, "id": channel.id},
    )


async def finish(
    conn: AsyncConnection,
    channel: Channel,
    *,
    health: str,
    detail: str,
    next_poll_at: datetime,
    failures: int,
    succeeded_at: datetime | None,
) -> None:
    """Record how the poll went and when to poll next; release the lease."""
    await conn.execute(
        text(
            """
        UPDATE inbox.channels SET health = :health, health_detail = :detail,
            next_poll_at = :next, failures = :failures, lease_until = NULL,
            last_success_at = COALESCE(:ok, last_success_at)
        WHERE workspace_id = :ws AND id = :id
        """
        ),
        {
            "health": health,
            "detail": detail[:300],
            "next": next_poll_at,
            "failures": failures,
            "ok": succeeded_at,
            "ws": channel.workspace_id,
            "id": channel.id,
        },
    )


async def needs_reauthorisation(conn: AsyncConnection, channel: Channel, detail: str) -> None:
    """The platform refused the channel's credentials outside a poll (a push-only channel's
    moderation or reply): its health asks an admin to re-authorise it, as a poll would."""
    await conn.execute(
        text(
            "UPDATE inbox.channels SET health = 'needs_reauth', health_detail = :detail "
            "WHERE workspace_id = :ws AND id = :id"
        ),
        {"detail": detail[:300], "ws": channel.workspace_id, "id": channel.id},
    )


async def failures_of(conn: AsyncConnection, channel: Channel) -> int:
    return int(
        (
            await conn.execute(
                text("SELECT failures FROM inbox.channels WHERE workspace_id = :ws AND id = :id"),
                {"ws": channel.workspace_id, "id": channel.id},
            )
        ).scalar_one()
    )


async def seconds_to_next_poll(conn: AsyncConnection, now: datetime) -> float | None:
    nearest = (
        await conn.execute(
            text(
                "SELECT min(greatest(next_poll_at, coalesce(lease_until, next_poll_at))) "
                "FROM inbox.channels WHERE polling"
            )
        )
    ).scalar_one_or_none()
    return None if nearest is None else max(0.0, (nearest - now).total_seconds())


async def channels_of_account(
    conn: AsyncConnection, platforms: Sequence[str], account_id: str
) -> list[Any]:
    """Every channel connected to this platform account, in any workspace (webhooks)."""
    return list(
        (
            await conn.execute(
                text(
                    "SELECT workspace_id, id, platform, key, account_id, base_url, "
                    "credentials_ref, poll_seconds, cursor FROM inbox.channels "
                    "WHERE platform = ANY(CAST(:platforms AS text[])) AND account_id = :account"
                ),
                {"platforms": list(platforms), "account": account_id},
            )
        ).all()
    )


async def count_by_health(conn: AsyncConnection) -> dict[tuple[str, str], int]:
    """Channels by (platform, health): polled ones, and the pushed ones of Meta, WhatsApp and
    Threads."""
    rows = (
        await conn.execute(
            text(
                "SELECT platform, health, count(*) AS n FROM inbox.channels WHERE polling "
                "OR platform IN ('facebook', 'instagram', 'messenger', 'whatsapp', 'threads') "
                "AND account_id <> '' "
                "GROUP BY 1, 2"
            )
        )
    ).all()
    return {(r.platform, r.health): r.n for r in rows}


async def needs_reauth(conn: AsyncConnection, channel: Channel, detail: str) -> None:
    """The platform refused the channel's credentials outside a poll (a reply's delivery):
    the channel asks an admin to re-authorise it, as a poll would."""
    await conn.execute(
        text(
            "UPDATE inbox.channels SET health = 'needs_reauth', health_detail = :detail "
            "WHERE workspace_id = :ws AND id = :id"
        ),
        {"detail": detail[:300], "ws": channel.workspace_id, "id": channel.id},
    )


async def channel_by_key(
    conn: AsyncConnection, workspace_id: uuid.UUID, platform: str, key: str
) -> Any:
    """The workspace's channel of this platform and key (None: there is none)."""
    return (
        await conn.execute(
            text(
                "SELECT * FROM inbox.channels WHERE workspace_id = :ws AND platform = :p "
                "AND key = :key"
            ),
            {"ws": workspace_id, "p": platform, "key": key},
        )
    ).first()
