"""SQL of people: a person's identities, conversations and notes, and the links agents make.

Identities travel as a JSON list of ``{platform, author_id, handle}`` (``who``) like privacy's
erasures, but the matching is written so that the indexes answer it (``messages_author_id``,
``messages_author_handle``): the panel is read each time a conversation opens, an erasure is
rare.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.domain.people import PersonKey

MAX_CONVERSATIONS = 50
MAX_NOTES = 100

_WHO = "json_to_recordset(CAST(:who AS json)) AS i(platform text, author_id text, handle text)"

_THEIRS = f"""
    who AS (SELECT row_number() OVER () AS n, i.* FROM {_WHO}),
    theirs AS (
        SELECT who.n, m.id, m.conversation_id, m.created_at, m.author_external_id,
               m.author_handle, m.author_name
        FROM who
        CROSS JOIN LATERAL (
            SELECT id, conversation_id, created_at, author_external_id, author_handle,
                   author_name
            FROM triage.messages
            WHERE who.author_id <> '' AND workspace_id = :ws
              AND author_external_id = who.author_id AND erased_at IS NULL AND direction = 'in'
            UNION
            SELECT id, conversation_id, created_at, author_external_id, author_handle,
                   author_name
            FROM triage.messages
            WHERE who.handle <> '' AND workspace_id = :ws
              AND lower(author_handle) = who.handle AND erased_at IS NULL AND direction = 'in'
        ) AS m
        CROSS JOIN LATERAL (  -- OFFSET 0: one primary-key probe per message, never a hash
            SELECT 1 FROM triage.conversations AS c   -- of every conversation
            WHERE c.workspace_id = :ws AND c.id = m.conversation_id AND c.platform = who.platform
            OFFSET 0
        ) AS on_platform
    )
"""
"""The messages each identity (``n``: its place in ``who``) wrote on its platform: one index
scan per way of naming it (platform id: ``messages_author_id``; handle:
``messages_author_handle``), never an OR the planner would answer with a scan of every
message."""


def _who(keys: Sequence[PersonKey]) -> str:
    return orjson.dumps([k.as_dict() for k in keys]).decode()


_LATEST = text(
    f"""
    WITH {_THEIRS}, latest AS (
        SELECT DISTINCT ON (n) n, author_external_id, author_handle, author_name
        FROM theirs ORDER BY n, created_at DESC, id DESC
    )
    SELECT who.platform, who.author_id, who.handle, l.author_external_id, l.author_handle,
           l.author_name
    FROM who LEFT JOIN latest AS l ON l.n = who.n
    ORDER BY who.n
    """
)


async def latest_names(
    conn: AsyncConnection, workspace_id: uuid.UUID, keys: Sequence[PersonKey]
) -> list[Any]:
    """Per identity (in order), what its latest message calls the author: id, handle, name
    (all None when it never wrote in this workspace)."""
    return list((await conn.execute(_LATEST, {"ws": workspace_id, "who": _who(keys)})).all())


_LINKS = text(
    """
    SELECT l.id, l.linked_platform AS platform, l.linked_author_id AS author_id,
           l.linked_handle AS handle, l.linked_at, coalesce(u.display_name, u.email) AS linked_by
    FROM triage.person_links AS l
    LEFT JOIN triage.users AS u ON u.workspace_id = l.workspace_id AND u.id = l.linked_by
    WHERE l.workspace_id = :ws AND l.platform = :platform AND l.author_id = :author_id
    UNION ALL
    SELECT l.id, l.platform, l.author_id, l.handle, l.linked_at,
           coalesce(u.display_name, u.email)
    FROM triage.person_links AS l
    LEFT JOIN triage.users AS u ON u.workspace_id = l.workspace_id AND u.id = l.linked_by
    WHERE l.workspace_id = :ws AND l.linked_platform = :platform
      AND (l.linked_author_id = :author_id OR (l.linked_handle <> '' AND l.linked_handle = :handle))
    ORDER BY linked_at, id
    """
)


async def links_of(conn: AsyncConnection, workspace_id: uuid.UUID, key: PersonKey) -> list[Any]:
    """The identities linked to ``key`` by hand, in either direction: id (the link's),
    platform, author_id, handle, linked_at, linked_by (a name)."""
    params = {"ws": workspace_id, **key.as_dict()}
    return list((await conn.execute(_LINKS, params)).all())


_CONVERSATIONS = text(
    f"""
    WITH {_THEIRS}
    SELECT c.id, c.platform, c.channel, c.kind, c.status, f.created_at AS started_at,
           greatest(c.last_inbound_at, c.last_outbound_at, f.created_at) AS last_at,
           f.text AS first_text
    FROM (SELECT DISTINCT conversation_id FROM theirs) AS hits
    JOIN triage.conversations AS c ON c.workspace_id = :ws AND c.id = hits.conversation_id
    CROSS JOIN LATERAL (
        SELECT m.text, m.created_at FROM triage.messages AS m
        WHERE m.workspace_id = :ws AND m.conversation_id = c.id AND m.direction = 'in'
        ORDER BY m.created_at, m.id LIMIT 1
    ) AS f
    ORDER BY last_at DESC, c.id DESC
    LIMIT {MAX_CONVERSATIONS}
    """
)


async def conversations_of(
    conn: AsyncConnection, workspace_id: uuid.UUID, keys: Sequence[PersonKey]
) -> list[Any]:
    """The conversations any of these identities wrote in, the latest activity first."""
    params = {"ws": workspace_id, "who": _who(keys)}
    return list((await conn.execute(_CONVERSATIONS, params)).all())


_NOTES = text(
    f"""
    SELECT n.id, n.platform, n.text, n.created_at, n.written_by,
           coalesce(u.display_name, u.email) AS author_name
    FROM triage.person_notes AS n
    LEFT JOIN triage.users AS u ON u.workspace_id = n.workspace_id AND u.id = n.written_by
    WHERE n.workspace_id = :ws AND EXISTS (
        SELECT 1 FROM {_WHO}
        WHERE n.platform = i.platform
          AND ((i.author_id <> '' AND n.author_id = i.author_id)
               OR (i.handle <> '' AND n.handle = i.handle)))
    ORDER BY n.created_at DESC, n.id DESC
    LIMIT {MAX_NOTES}
    """
)


async def notes_of(
    conn: AsyncConnection, workspace_id: uuid.UUID, keys: Sequence[PersonKey]
) -> list[Any]:
    """Notes written about any of these identities, the newest first."""
    return list((await conn.execute(_NOTES, {"ws": workspace_id, "who": _who(keys)})).all())


_ADD_LINK = text(
    """
    INSERT INTO triage.person_links (workspace_id, platform, author_id, handle, linked_platform,
                                     linked_author_id, linked_handle, linked_by, linked_at)
    VALUES (:ws, :platform, :author_id, :handle, :linked_platform, :linked_author_id,
            :linked_handle, :user, :now)
    ON CONFLICT (workspace_id, platform, author_id, linked_platform, linked_author_id,
                 linked_handle) DO NOTHING
    RETURNING id
    """
)
_FIND_LINK = text(
    "SELECT id FROM triage.person_links WHERE workspace_id = :ws AND platform = :platform "
    "AND author_id = :author_id AND linked_platform = :linked_platform "
    "AND linked_author_id = :linked_author_id AND linked_handle = :linked_handle"
)


async def add_link(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    key: PersonKey,
    linked: PersonKey,
    user_id: uuid.UUID,
    now: Any,
) -> tuple[int, bool]:
    """The link's id, and whether it is new (the same link again is the one made before)."""
    params = {
        "ws": workspace_id,
        **key.as_dict(),
        "linked_platform": linked.platform,
        "linked_author_id": linked.author_id,
        "linked_handle": linked.handle,
        "user": user_id,
        "now": now,
    }
    made = (await conn.execute(_ADD_LINK, params)).scalar_one_or_none()
    if made is not None:
        return int(made), True
    return int((await conn.execute(_FIND_LINK, params)).scalar_one()), False


async def remove_link(
    conn: AsyncConnection, workspace_id: uuid.UUID, key: PersonKey, link_id: int
) -> bool:
    """Remove a link that touches ``key`` (either side); False when there is none such."""
    row = await conn.execute(
        text(
            "DELETE FROM triage.person_links WHERE workspace_id = :ws AND id = :id "
            "AND ((platform = :platform AND author_id = :author_id) "
            "     OR (linked_platform = :platform AND (linked_author_id = :author_id "
            "         OR (linked_handle <> '' AND linked_handle = :handle)))) RETURNING id"
        ),
        {"ws": workspace_id, "id": link_id, **key.as_dict()},
    )
    return row.first() is not None


async def add_note(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    key: PersonKey,
    note: str,
    user_id: uuid.UUID,
    now: Any,
) -> int:
    return int(
        (
            await conn.execute(
                text(
                    "INSERT INTO triage.person_notes (workspace_id, platform, author_id, handle, "
                    "text, written_by, created_at) "
                    "VALUES (:ws, :platform, :author_id, :handle, :text, :user, :now) RETURNING id"
                ),
                {"ws": workspace_id, **key.as_dict(), "text": note, "user": user_id, "now": now},
            )
        ).scalar_one()
    )


_FORGET = text(
    f"""
    WITH who AS (SELECT * FROM {_WHO}),
    links AS (
        DELETE FROM triage.person_links AS l USING who AS i
        WHERE l.workspace_id = :ws AND (
            (l.platform = i.platform
             AND ((i.author_id <> '' AND l.author_id = i.author_id)
                  OR (i.handle <> '' AND l.handle = i.handle)))
         OR (l.linked_platform = i.platform
             AND ((i.author_id <> '' AND l.linked_author_id = i.author_id)
                  OR (i.handle <> '' AND l.linked_handle = i.handle))))
        RETURNING l.*
    ), person AS (
        SELECT platform, author_id, handle FROM who
        UNION SELECT platform, author_id, handle FROM links
        UNION SELECT linked_platform, linked_author_id, linked_handle FROM links
    ), notes AS (
        DELETE FROM triage.person_notes AS n USING person AS i
        WHERE n.workspace_id = :ws AND n.platform = i.platform
          AND ((i.author_id <> '' AND n.author_id = i.author_id)
               OR (i.handle <> '' AND n.handle = i.handle))
        RETURNING n.id
    )
    SELECT (SELECT count(*) FROM links) AS links, (SELECT count(DISTINCT id) FROM notes) AS notes
    """
)


async def forget(
    conn: AsyncConnection, workspace_id: uuid.UUID, keys: Sequence[PersonKey]
) -> tuple[int, int]:
    """Erase the links that touch these identities and the notes about them or about the
    identities linked to them (the same person): (links, notes) removed."""
    row = (await conn.execute(_FORGET, {"ws": workspace_id, "who": _who(keys)})).one()
    return int(row.links), int(row.notes)
