"""SQL of tags: a workspace's tags, and which conversations carry them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.db import first_row


class NameTaken(Exception):
    """Another tag of the workspace has this name (whatever its case)."""


def _tag(r: Any) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "colour": r.colour}


async def list_tags(conn: AsyncConnection, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text(
            "SELECT id, name, colour FROM triage.tags WHERE workspace_id = :ws "
            "ORDER BY lower(name), id"
        ),
        {"ws": workspace_id},
    )
    return [_tag(r) for r in rows]


async def create_tag(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, name: str, colour: str
) -> dict[str, Any]:
    """The new tag; ``NameTaken`` when the name is the workspace's already."""
    row = await first_row(
        conn,
        "INSERT INTO triage.tags (workspace_id, name, colour, created_by) "
        "VALUES (:ws, :name, :colour, :user) "
        "ON CONFLICT (workspace_id, lower(name)) DO NOTHING RETURNING id, name, colour",
        {"ws": workspace_id, "name": name, "colour": colour, "user": user_id},
    )
    if row is None:
        raise NameTaken(name)
    return _tag(row)


async def update_tag(
    conn: AsyncConnection, workspace_id: uuid.UUID, tag_id: int, name: str, colour: str
) -> dict[str, Any] | None:
    """The tag renamed and recoloured, None when there is no such tag; ``NameTaken`` when
    another tag of the workspace has the name."""
    try:
        async with conn.begin_nested():
            row = await first_row(
                conn,
                "UPDATE triage.tags SET name = :name, colour = :colour "
                "WHERE workspace_id = :ws AND id = :tag RETURNING id, name, colour",
                {"ws": workspace_id, "tag": tag_id, "name": name, "colour": colour},
            )
    except IntegrityError:
        raise NameTaken(name) from None
    return _tag(row) if row else None


async def delete_tag(
    conn: AsyncConnection, workspace_id: uuid.UUID, tag_id: int
) -> list[int] | None:
    """The conversations that carried the tag, or None when there is no such tag."""
    tagged = (
        await conn.execute(
            text(
                "DELETE FROM triage.conversation_tags WHERE workspace_id = :ws AND tag_id = :tag "
                "RETURNING conversation_id"
            ),
            {"ws": workspace_id, "tag": tag_id},
        )
    ).scalars()
    conversations = sorted(tagged)
    gone = await conn.execute(
        text("DELETE FROM triage.tags WHERE workspace_id = :ws AND id = :tag RETURNING id"),
        {"ws": workspace_id, "tag": tag_id},
    )
    return conversations if gone.first() is not None else None


async def put_tag(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    conversation_id: int,
    tag_id: int,
    user_id: uuid.UUID,
) -> bool:
    """True when the conversation did not carry the tag yet."""
    row = await conn.execute(
        text(
            "INSERT INTO triage.conversation_tags "
            "(workspace_id, conversation_id, tag_id, tagged_by) "
            "VALUES (:ws, :conversation, :tag, :user) ON CONFLICT DO NOTHING RETURNING tag_id"
        ),
        {"ws": workspace_id, "conversation": conversation_id, "tag": tag_id, "user": user_id},
    )
    return row.first() is not None


async def take_tag(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int, tag_id: int
) -> bool:
    """True when the conversation carried the tag."""
    row = await conn.execute(
        text(
            "DELETE FROM triage.conversation_tags "
            "WHERE workspace_id = :ws AND conversation_id = :conversation AND tag_id = :tag "
            "RETURNING tag_id"
        ),
        {"ws": workspace_id, "conversation": conversation_id, "tag": tag_id},
    )
    return row.first() is not None


async def tags_of(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int
) -> list[dict[str, Any]]:
    """A conversation's tags, by name."""
    rows = await conn.execute(
        text(
            "SELECT t.id, t.name, t.colour FROM triage.conversation_tags AS ct "
            "JOIN triage.tags AS t ON t.workspace_id = ct.workspace_id AND t.id = ct.tag_id "
            "WHERE ct.workspace_id = :ws AND ct.conversation_id = :conversation "
            "ORDER BY lower(t.name), t.id"
        ),
        {"ws": workspace_id, "conversation": conversation_id},
    )
    return [_tag(r) for r in rows]


async def both_exist(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int, tag_id: int
) -> tuple[bool, bool]:
    """Whether the workspace has this conversation, and this tag."""
    row = (
        await conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM triage.conversations "
                "               WHERE workspace_id = :ws AND id = :conversation) AS conversation, "
                "       EXISTS (SELECT 1 FROM triage.tags "
                "               WHERE workspace_id = :ws AND id = :tag) AS tag"
            ),
            {"ws": workspace_id, "conversation": conversation_id, "tag": tag_id},
        )
    ).one()
    return bool(row.conversation), bool(row.tag)


async def put_tags_by_rules(
    conn: AsyncConnection, rows: list[tuple[uuid.UUID, int, int]]
) -> list[tuple[uuid.UUID, int, int]]:
    """Put tags on conversations for rules, set-based: (workspace, conversation, tag) rows;
    a tag deleted since the rule was written is skipped. The rows that were new."""
    if not rows:
        return []
    ws, cids, tags = (list(c) for c in zip(*sorted(set(rows)), strict=True))
    done = await conn.execute(
        text(
            """
            INSERT INTO triage.conversation_tags (workspace_id, conversation_id, tag_id)
            SELECT k.ws, k.cid, k.tag
            FROM unnest(CAST(:ws AS uuid[]), CAST(:cids AS bigint[]), CAST(:tags AS bigint[]))
                 AS k(ws, cid, tag)
            JOIN triage.tags AS t ON t.workspace_id = k.ws AND t.id = k.tag
            ON CONFLICT DO NOTHING
            RETURNING workspace_id, conversation_id, tag_id
            """
        ),
        {"ws": ws, "cids": cids, "tags": tags},
    )
    return [(r.workspace_id, r.conversation_id, r.tag_id) for r in done]


async def carriers(
    conn: AsyncConnection, workspace_id: uuid.UUID, tag_id: int
) -> list[tuple[uuid.UUID, int]]:
    """The conversations carrying a tag."""
    rows = await conn.execute(
        text(
            "SELECT conversation_id FROM triage.conversation_tags "
            "WHERE workspace_id = :ws AND tag_id = :tag ORDER BY conversation_id"
        ),
        {"ws": workspace_id, "tag": tag_id},
    )
    return [(workspace_id, c) for c in rows.scalars()]
