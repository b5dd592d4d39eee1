"""SQL of data protection in triage: erase a person or a conversation, export, retention
(the use cases that combine these statements are in ``usecases``).

Erasing keeps each row as a tombstone (ids, times, labels) and removes what belongs to the
person: message text, handle, name and platform id; the words triage quoted as reasons; the
agents' replies addressed to them; the agents' notes on their conversations; and the
incident detector's per-message terms and sketches. Counts and SLA history stay true.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.db import all_rows, first_row, returns_row
from services.triage.domain.privacy import Identity, erasure_locks, identities_digest

_THEIR_MESSAGES = text(
    """
    SELECT m.id, m.conversation_id, c.kind
    FROM json_to_recordset(CAST(:who AS json)) AS i(platform text, author_id text, handle text)
    JOIN triage.conversations AS c ON c.workspace_id = :ws AND c.platform = i.platform
    JOIN triage.messages AS m ON m.workspace_id = c.workspace_id AND m.conversation_id = c.id
    WHERE m.direction = 'in'
      AND ((i.author_id <> '' AND m.author_external_id = i.author_id)
           OR (i.handle <> '' AND lower(ltrim(m.author_handle, '@')) = i.handle))
    """
)


@dataclass(frozen=True, slots=True)
class Footprint:
    """Where a person appears: their messages, the conversations they wrote in, their DMs."""

    message_ids: list[int]
    conversation_ids: list[int]
    direct_conversation_ids: list[int]


def _who(identities: Sequence[Identity]) -> str:
    return orjson.dumps([i.as_dict() for i in identities]).decode()


async def footprint(
    conn: AsyncConnection, workspace_id: uuid.UUID, identities: Sequence[Identity]
) -> Footprint:
    rows = (
        await conn.execute(_THEIR_MESSAGES, {"ws": workspace_id, "who": _who(identities)})
    ).all()
    return Footprint(
        sorted({r.id for r in rows}),
        sorted({r.conversation_id for r in rows}),
        sorted({r.conversation_id for r in rows if r.kind == "dm"}),
    )


@dataclass(frozen=True, slots=True)
class Erased:
    """What an erasure emptied: how many messages, and the conversations they were in."""

    messages: int
    conversation_ids: set[int]


async def erase_content(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    message_ids: Sequence[int],
    whole_conversations: Sequence[int],
    note_conversations: Sequence[int],
    now: datetime,
) -> Erased:
    """Erase these messages, every message of ``whole_conversations`` and the replies
    addressed to them, the notes of ``note_conversations``."""
    params: dict[str, Any] = {
        "ws": workspace_id,
        "ids": list(message_ids),
        "whole": list(whole_conversations),
        "notes": list(note_conversations),
        "now": now,
    }
    # Lock the conversations first, in key order as the consumer does: no deadlock with it.
    await conn.execute(_LOCK_CONVERSATIONS, params)
    erased = (await conn.execute(_BLANK_MESSAGES, params)).all()
    params["erased"] = [r.id for r in erased]
    for statement in _ERASE_TRACES:
        await conn.execute(statement, params)
    await _forget_incident_words(conn, params)
    return Erased(len(erased), {r.conversation_id for r in erased})


_LOCK_CONVERSATIONS = text(
    """
    SELECT c.id FROM triage.conversations AS c
    WHERE c.workspace_id = :ws AND (c.id = ANY(CAST(:whole AS bigint[])) OR c.id IN (
        SELECT conversation_id FROM triage.messages
        WHERE workspace_id = :ws AND id = ANY(CAST(:ids AS bigint[]))))
    ORDER BY c.id FOR UPDATE
    """
)
_BLANK_MESSAGES = text(
    """
    UPDATE triage.messages
    SET text = '', author_handle = '', author_name = '', author_external_id = '',
        erased_at = coalesce(erased_at, :now)
    WHERE workspace_id = :ws
      AND (id = ANY(CAST(:ids AS bigint[])) OR conversation_id = ANY(CAST(:whole AS bigint[])))
    RETURNING id, conversation_id
    """
)
# What else quotes or names the person: the reasons triage quoted, the replies to them, the
# notes on their conversations, the platform's words about a moderation of their message, the
# detector's terms and sketches.
_ERASE_TRACES = tuple(
    text(statement)
    for statement in (
        "UPDATE triage.decisions SET reasons = '{}' "
        "WHERE workspace_id = :ws AND message_id = ANY(CAST(:erased AS bigint[]))",
        "UPDATE triage.conversations SET reasons = '{}' WHERE workspace_id = :ws "
        "AND (last_message_id = ANY(CAST(:erased AS bigint[])) "
        "OR id = ANY(CAST(:whole AS bigint[])))",
        """
        UPDATE triage.replies
        SET text = '', text_digest = '\\x', failure_detail = NULL, updated_at = :now,
            failure_reason = CASE WHEN state = 'queued' THEN 'erased' ELSE failure_reason END,
            state = CASE WHEN state = 'queued' THEN 'failed' ELSE state END
        WHERE workspace_id = :ws AND (in_reply_to_id = ANY(CAST(:erased AS bigint[]))
                                      OR conversation_id = ANY(CAST(:whole AS bigint[])))
        """,
        "DELETE FROM triage.notes "
        "WHERE workspace_id = :ws AND conversation_id = ANY(CAST(:notes AS bigint[]))",
        "UPDATE triage.moderations SET failure_detail = NULL WHERE workspace_id = :ws "
        "AND (message_id = ANY(CAST(:erased AS bigint[])) "
        "OR conversation_id = ANY(CAST(:whole AS bigint[])))",
        "DELETE FROM triage.incident_signals "
        "WHERE workspace_id = :ws AND message_id = ANY(CAST(:erased AS bigint[]))",
    )
)


async def _forget_incident_words(conn: AsyncConnection, params: dict[str, Any]) -> None:
    """Erased members lose their author key; an incident made only of erased messages keeps
    its counts, not their words."""
    incidents = await all_rows(
        conn,
        "UPDATE triage.incident_members SET author = '' WHERE workspace_id = :ws "
        "AND message_id = ANY(CAST(:erased AS bigint[])) RETURNING incident_id",
        params,
    )
    if incidents:
        await conn.execute(
            text(
                """
            UPDATE triage.incidents AS i SET terms = '{}', sketch = '{}', label = ''
            WHERE i.workspace_id = :ws AND i.id = ANY(CAST(:incidents AS bigint[]))
              AND NOT EXISTS (
                SELECT 1 FROM triage.incident_members AS im
                JOIN triage.messages AS m
                  ON m.workspace_id = im.workspace_id AND m.id = im.message_id
                WHERE im.workspace_id = i.workspace_id AND im.incident_id = i.id
                  AND m.erased_at IS NULL)
            """
            ),
            {"ws": params["ws"], "incidents": sorted({r.incident_id for r in incidents})},
        )


# Erasure requests -------------------------------------------------------------------------


def request_view(row: Any) -> dict[str, Any]:
    def service(done_at: datetime | None, **counts: Any) -> dict[str, Any]:
        return {"state": "done" if done_at else "pending", "done_at": done_at, **counts}

    return {
        "id": row.id,
        "identities": row.identities,
        "requested_at": row.requested_at,
        "requested_by": row.requested_by,
        "state": "done" if row.triage_done_at and row.inbox_done_at else "pending",
        "services": {
            "triage": service(row.triage_done_at, messages_erased=row.triage_messages),
            "inbox": service(
                row.inbox_done_at,
                messages_erased=row.inbox_messages,
                authors_erased=row.inbox_authors,
            ),
        },
    }


async def open_request(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    identities: tuple[Identity, ...],
    user_id: uuid.UUID,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """The pending request for these identities, or a new one; True if it is new."""
    digest = identities_digest(identities)
    row = await first_row(
        conn,
        """
        INSERT INTO triage.erasure_requests (workspace_id, id, identities, identities_digest,
                                             requested_by, requested_at)
        VALUES (:ws, :id, CAST(:who AS jsonb), :digest, :user, :now)
        ON CONFLICT (workspace_id, identities_digest) WHERE triage_done_at IS NULL DO NOTHING
        RETURNING *
        """,
        {
            "ws": workspace_id,
            "id": uuid.uuid4(),
            "who": _who(identities),
            "digest": digest,
            "user": user_id,
            "now": now,
        },
    )
    if row is not None:
        return request_view(row), True
    existing = (
        await conn.execute(
            text(
                "SELECT * FROM triage.erasure_requests WHERE workspace_id = :ws "
                "AND identities_digest = :digest AND triage_done_at IS NULL"
            ),
            {"ws": workspace_id, "digest": digest},
        )
    ).one()
    return request_view(existing), False


async def record_triage_pass(
    conn: AsyncConnection, workspace_id: uuid.UUID, request_id: uuid.UUID, erased: int
) -> None:
    await conn.execute(
        text(
            "UPDATE triage.erasure_requests SET triage_messages = triage_messages + :n "
            "WHERE workspace_id = :ws AND id = :id"
        ),
        {"ws": workspace_id, "id": request_id, "n": erased},
    )


async def get_request(
    conn: AsyncConnection, workspace_id: uuid.UUID, request_id: uuid.UUID
) -> dict[str, Any] | None:
    row = await first_row(
        conn,
        "SELECT * FROM triage.erasure_requests WHERE workspace_id = :ws AND id = :id",
        {"ws": workspace_id, "id": request_id},
    )
    return None if row is None else request_view(row)


async def list_requests(
    conn: AsyncConnection, workspace_id: uuid.UUID, limit: int = 100
) -> list[dict[str, Any]]:
    rows = await all_rows(
        conn,
        "SELECT * FROM triage.erasure_requests WHERE workspace_id = :ws "
        "ORDER BY requested_at DESC, id LIMIT :limit",
        {"ws": workspace_id, "limit": limit},
    )
    return [request_view(r) for r in rows]


async def lock_request(
    conn: AsyncConnection, workspace_id: uuid.UUID, request_id: uuid.UUID
) -> bool:
    """Lock an erasure request until the transaction ends; False if there is none."""
    return await returns_row(
        conn,
        "SELECT id FROM triage.erasure_requests WHERE workspace_id = :ws AND id = :id FOR UPDATE",
        {"ws": workspace_id, "id": request_id},
    )


async def conversations_of_messages(
    conn: AsyncConnection, workspace_id: uuid.UUID, message_ids: Sequence[int]
) -> list[int]:
    return list(
        (
            await conn.execute(
                text(
                    "SELECT DISTINCT conversation_id FROM triage.messages "
                    "WHERE workspace_id = :ws AND id = ANY(CAST(:ids AS bigint[]))"
                ),
                {"ws": workspace_id, "ids": list(message_ids)},
            )
        ).scalars()
    )


async def mark_request_done(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    request_id: uuid.UUID,
    erased: int,
    inbox_messages: int,
    inbox_authors: int,
    now: datetime,
) -> None:
    """Both services erased their copy: the request is done, with each one's counts."""
    await conn.execute(
        text(
            """
        UPDATE triage.erasure_requests
        SET triage_messages = greatest(triage_messages, :erased),
            triage_done_at = coalesce(triage_done_at, :now),
            inbox_messages = :inbox, inbox_authors = :authors,
            inbox_done_at = coalesce(inbox_done_at, :now)
        WHERE workspace_id = :ws AND id = :id
        """
        ),
        {
            "ws": workspace_id,
            "id": request_id,
            "erased": erased,
            "inbox": inbox_messages,
            "authors": inbox_authors,
            "now": now,
        },
    )


# Late messages ----------------------------------------------------------------------------

_LOCK_SPACE = 0x0E5A  # advisory-lock namespace: erasure news against the messages applied


async def hold_erasure_locks(
    conn: AsyncConnection, applying: Sequence[uuid.UUID], erasing: Sequence[uuid.UUID]
) -> None:
    """Take, until the transaction ends, the workspace locks that keep the inbox's erasure
    news and the messages applied beside it in one order (see ``erasure_locks``). Taken
    before any row lock, so no one holding a row ever waits here."""
    for key, exclusive in erasure_locks(applying, erasing):
        lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        await conn.execute(text(f"SELECT {lock}(:space, :key)"), {"space": _LOCK_SPACE, "key": key})


async def remember_erased(
    conn: AsyncConnection, workspace_id: uuid.UUID, message_ids: Sequence[int], now: datetime
) -> None:
    """Remember the inbox messages an erasure removed, for those triage has not seen yet."""
    await conn.execute(
        text(
            """
        INSERT INTO triage.erased_messages (workspace_id, message_id, erased_at)
        SELECT :ws, id, :now FROM unnest(CAST(:ids AS bigint[])) AS id
        ON CONFLICT (workspace_id, message_id) DO NOTHING
        """
        ),
        {"ws": workspace_id, "ids": sorted(set(message_ids)), "now": now},
    )


async def erased_among(
    conn: AsyncConnection, keys: Sequence[tuple[uuid.UUID, int]]
) -> set[tuple[uuid.UUID, int]]:
    """Which of these (workspace, inbox message id) an erasure already removed."""
    if not keys:
        return set()
    rows = await all_rows(
        conn,
        """
        SELECT e.workspace_id, e.message_id FROM triage.erased_messages AS e
        JOIN unnest(CAST(:ws AS uuid[]), CAST(:ids AS bigint[])) AS k(workspace_id, id)
          ON e.workspace_id = k.workspace_id AND e.message_id = k.id
        """,
        {"ws": [k[0] for k in keys], "ids": [k[1] for k in keys]},
    )
    return {(r.workspace_id, r.message_id) for r in rows}


# Export -----------------------------------------------------------------------------------


async def person_records(
    conn: AsyncConnection, workspace_id: uuid.UUID, found: Footprint
) -> dict[str, list[dict[str, Any]]]:
    """What triage holds about a person found there: the conversations they wrote in, their
    messages and those addressed to them (a DM conversation is wholly theirs), the triage
    decisions, the replies, and the agents' notes on those conversations (the notes an
    erasure deletes)."""
    params = {
        "ws": workspace_id,
        "ids": found.message_ids,
        "conversations": found.conversation_ids,
        "direct": found.direct_conversation_ids,
    }
    records = {
        kind: [dict(r) for r in (await conn.execute(statement, params)).mappings()]
        for kind, statement in _EXPORTS.items()
    }
    records["messages"] = [_with_author(m) for m in records["messages"]]
    return records


def _with_author(message: dict[str, Any]) -> dict[str, Any]:
    """A message as exported: its author's columns as one ``author``."""
    author = {name: message.pop(name) for name in ("author_id", "handle", "display_name")}
    return message | {"author": author}


# Each kind of record an export holds, one statement each, its columns named and valued as
# the export says them (a priority as "P1").
_EXPORTS = {
    "conversations": text(
        "SELECT id, platform, channel, kind, status, 'P' || priority AS priority, intent, "
        "abuse, last_inbound_at, last_outbound_at FROM triage.conversations "
        "WHERE workspace_id = :ws AND id = ANY(CAST(:conversations AS bigint[])) "
        "ORDER BY id"
    ),
    "messages": text(
        """
        SELECT id, conversation_id, direction, kind, author_external_id AS author_id,
               author_handle AS handle, author_name AS display_name, text, created_at,
               received_at
        FROM triage.messages
        WHERE workspace_id = :ws AND erased_at IS NULL
          AND (id = ANY(CAST(:ids AS bigint[])) OR conversation_id = ANY(CAST(:direct AS bigint[])))
        ORDER BY created_at, id
        """
    ),
    "decisions": text(
        "SELECT message_id, needs_answer, intent, abuse, language, 'P' || priority AS priority, "
        "confidence, reasons, model_version, decided_at FROM triage.decisions "
        "WHERE workspace_id = :ws AND message_id = ANY(CAST(:ids AS bigint[])) "
        "ORDER BY message_id"
    ),
    "replies": text(
        """
        SELECT id, conversation_id, in_reply_to_id, text, state, platform_message_id,
               created_at
        FROM triage.replies
        WHERE workspace_id = :ws AND (in_reply_to_id = ANY(CAST(:ids AS bigint[]))
                                      OR conversation_id = ANY(CAST(:direct AS bigint[])))
        ORDER BY created_at, id
        """
    ),
    "notes": text(
        "SELECT id, conversation_id, text, created_at FROM triage.notes "
        "WHERE workspace_id = :ws "
        "AND conversation_id = ANY(CAST(:conversations AS bigint[])) "
        "ORDER BY created_at, id"
    ),
}


# Retention --------------------------------------------------------------------------------


async def retention_setting(
    conn: AsyncConnection, workspace_id: uuid.UUID
) -> tuple[bool, int | None]:
    """(has its own setting, days or None for keep-forever)."""
    row = await first_row(
        conn,
        "SELECT conversation_days FROM triage.retention_settings WHERE workspace_id = :ws",
        {"ws": workspace_id},
    )
    return (False, None) if row is None else (True, row.conversation_days)


async def set_retention(
    conn: AsyncConnection, workspace_id: uuid.UUID, days: int | None, user_id: uuid.UUID
) -> None:
    await conn.execute(
        text(
            """
        INSERT INTO triage.retention_settings (workspace_id, conversation_days, updated_by)
        VALUES (:ws, :days, :user)
        ON CONFLICT (workspace_id) DO UPDATE
        SET conversation_days = EXCLUDED.conversation_days, updated_by = EXCLUDED.updated_by,
            updated_at = now()
        """
        ),
        {"ws": workspace_id, "days": days, "user": user_id},
    )


async def retention_settings(conn: AsyncConnection) -> list[tuple[uuid.UUID, bool, int | None]]:
    """Every workspace with (has its own setting, its days)."""
    rows = (
        await conn.execute(
            text(
                "SELECT w.id, r.workspace_id IS NOT NULL AS has_setting, r.conversation_days "
                "FROM triage.workspaces AS w "
                "LEFT JOIN triage.retention_settings AS r ON r.workspace_id = w.id ORDER BY w.id"
            )
        )
    ).all()
    return [(r.id, r.has_setting, r.conversation_days) for r in rows]


CLAIM_IDLE = text(
    """
    SELECT id FROM triage.conversations
    WHERE workspace_id = :ws AND purged_at IS NULL
      AND greatest(last_inbound_at, last_outbound_at, updated_at) < :before
    ORDER BY greatest(last_inbound_at, last_outbound_at, updated_at), id LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)


async def claim_idle(
    conn: AsyncConnection, workspace_id: uuid.UUID, before: datetime, limit: int
) -> list[int]:
    """Up to ``limit`` conversations not purged yet, last active before ``before``, locked.

    Claimed with SKIP LOCKED, so several workers never purge the same conversation twice;
    the longest idle first, over the ``conversations_idle`` index (it reads only what it
    returns, however large the workspace).
    """
    params = {"ws": workspace_id, "before": before, "limit": limit}
    return [r.id for r in (await conn.execute(CLAIM_IDLE, params)).all()]


async def mark_purged(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_ids: Sequence[int], now: datetime
) -> None:
    await conn.execute(
        text(
            "UPDATE triage.conversations SET purged_at = :now "
            "WHERE workspace_id = :ws AND id = ANY(CAST(:ids AS bigint[]))"
        ),
        {"ws": workspace_id, "ids": list(conversation_ids), "now": now},
    )
