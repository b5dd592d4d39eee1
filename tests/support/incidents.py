"""Incidents made by hand for desk tests: rows as the detector writes them (t0006 schema)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import text

from services.infra.db import create_engine


async def make_incident(
    database_url: str,
    workspace_id: uuid.UUID,
    conversation_ids: Sequence[int],
    label: str = "wifi down",
    *,
    kind: str = "customer",
    note: str = "",
) -> int:
    """An open incident whose members are the inbound messages of these conversations."""
    engine = create_engine(database_url, 1)
    try:
        async with engine.begin() as conn:
            messages = (
                await conn.execute(
                    text(
                        """
                SELECT m.id, m.conversation_id, m.author_handle, m.created_at, c.platform,
                       coalesce(d.language, 'other') AS language
                FROM triage.messages AS m
                JOIN triage.conversations AS c
                  ON c.workspace_id = m.workspace_id AND c.id = m.conversation_id
                LEFT JOIN triage.decisions AS d
                  ON d.workspace_id = m.workspace_id AND d.message_id = m.id
                WHERE m.workspace_id = :ws AND m.direction = 'in'
                  AND m.conversation_id = ANY(CAST(:ids AS bigint[]))
                ORDER BY m.created_at, m.id
                """
                    ),
                    {"ws": workspace_id, "ids": list(conversation_ids)},
                )
            ).all()
            assert messages, "the conversations have no inbound message yet"
            incident_id = (
                await conn.execute(
                    text(
                        """
                INSERT INTO triage.incidents (workspace_id, kind, label, terms, first_seen,
                    opened_at, last_seen, message_count, author_count, platforms, languages,
                    status_note)
                VALUES (:ws, :kind, :label, :terms, :first, now(), :last, :count, :authors,
                        :platforms, :languages, :note)
                RETURNING id
                """
                    ),
                    {
                        "ws": workspace_id,
                        "kind": kind,
                        "label": label,
                        "terms": label.split(),
                        "first": messages[0].created_at,
                        "last": messages[-1].created_at,
                        "count": len(messages),
                        "authors": len({m.author_handle for m in messages}),
                        "platforms": sorted({m.platform for m in messages}),
                        "languages": sorted({m.language for m in messages}),
                        "note": note,
                    },
                )
            ).scalar_one()
            for m in messages:
                await conn.execute(
                    text(
                        """
                INSERT INTO triage.incident_members (workspace_id, incident_id, message_id,
                    conversation_id, author, platform, language, at)
                VALUES (:ws, :incident, :id, :conversation, :author, :platform, :language, :at)
                """
                    ),
                    {
                        "ws": workspace_id,
                        "incident": incident_id,
                        "id": m.id,
                        "conversation": m.conversation_id,
                        "author": m.author_handle or "",
                        "platform": m.platform,
                        "language": m.language,
                        "at": m.created_at,
                    },
                )
            await conn.execute(
                text(
                    "INSERT INTO triage.incident_history (workspace_id, incident_id, change) "
                    "VALUES (:ws, :id, 'opened')"
                ),
                {"ws": workspace_id, "id": incident_id},
            )
    finally:
        await engine.dispose()
    return int(incident_id)
