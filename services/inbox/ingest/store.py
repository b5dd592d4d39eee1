"""SQL of ingest: inbox tokens (of either scope), and messages stored exactly once. Every
statement names the workspace; batches are set-based.

``store_batch`` writes a whole ingest batch in one transaction with a handful of set-based
statements: channels, authors, conversations, messages and their message-ingested events;
what each statement is sent is planned in ``domain/batch.py``.
A message is stored once per (workspace, channel, external id): a unique index decides, so
concurrent copies of the same message cannot both land. Row sets travel as one JSON document
(``json_to_recordset``): Postgres parses it on its own core, far cheaper than encoding a dozen
1,000-element arrays value by value in the service.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

import orjson
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.inbox.domain.batch import (
    Author,
    AuthorKey,
    Batch,
    ChannelKey,
    ItemResult,
    MessageKey,
    NewMessage,
    Stored,
    Thread,
    ThreadKey,
)
from services.inbox.domain.messages import Incoming
from services.inbox.events import message_ingested
from services.infra.auth import token_digest
from services.infra.events import publish, timestamp

MESSAGE_INGESTED = "message.ingested"


SCOPES = ("ingest", "channels")
"""What an inbox token may do: send messages (a producer), or connect channels (an admin)."""


async def holder_of_token(conn: AsyncConnection, token: str) -> tuple[uuid.UUID, str] | None:
    """The workspace and scope of an inbox token, if it is valid and not revoked.

    The token brings no workspace: the directory (a Citus reference table, migration i0008)
    names it, so the token's own row is read by its full key."""
    digest = token_digest(token)
    workspace_id = (
        await conn.execute(
            text("SELECT workspace_id FROM inbox.token_directory WHERE digest = :digest"),
            {"digest": digest},
        )
    ).scalar_one_or_none()
    if workspace_id is None:
        return None
    row = (
        await conn.execute(
            text(
                "SELECT workspace_id, scope FROM inbox.ingest_tokens "
                "WHERE workspace_id = :ws AND digest = :digest AND revoked_at IS NULL"
            ),
            {"ws": workspace_id, "digest": digest},
        )
    ).first()
    return (row.workspace_id, row.scope) if row else None


async def create_ingest_token(
    conn: AsyncConnection, workspace_id: uuid.UUID, token: str, name: str, scope: str = "ingest"
) -> None:
    """Store a new inbox token (its digest only). Re-adding the same token is a no-op, and a
    token already another workspace's stays theirs."""
    digest = token_digest(token)
    await conn.execute(
        text(
            "INSERT INTO inbox.token_directory (digest, workspace_id) VALUES (:digest, :ws) "
            "ON CONFLICT (digest) DO NOTHING"
        ),
        {"digest": digest, "ws": workspace_id},
    )
    await conn.execute(
        text(
            "INSERT INTO inbox.ingest_tokens (digest, workspace_id, name, scope) "
            "SELECT :digest, :ws, :name, :scope FROM inbox.token_directory "
            "WHERE digest = :digest AND workspace_id = :ws "
            "ON CONFLICT (workspace_id, digest) DO NOTHING"
        ),
        {"digest": digest, "ws": workspace_id, "name": name, "scope": scope},
    )


_CHANNELS = text(
    """
    WITH wanted AS (
        SELECT * FROM unnest(CAST(:platforms AS text[]), CAST(:keys AS text[])) AS w(platform, key)
    ), added AS (
        INSERT INTO inbox.channels (workspace_id, platform, key)
        SELECT CAST(:ws AS uuid), platform, key FROM wanted ORDER BY platform, key
        ON CONFLICT (workspace_id, platform, key) DO NOTHING
        RETURNING id, platform, key
    )
    SELECT id, platform, key FROM added
    UNION ALL
    SELECT c.id, c.platform, c.key FROM inbox.channels AS c
    JOIN wanted AS w ON c.platform = w.platform AND c.key = w.key
    WHERE c.workspace_id = :ws
    """
)

_AUTHORS = text(
    """
    WITH wanted AS (
        SELECT * FROM json_to_recordset(CAST(:rows AS json))
                 AS w(platform text, external_id text, handle text, display_name text)
    ), added AS (
        INSERT INTO inbox.authors (workspace_id, platform, external_id, handle, display_name)
        SELECT CAST(:ws AS uuid), platform, external_id, handle, display_name FROM wanted
        ORDER BY platform, external_id
        ON CONFLICT (workspace_id, platform, external_id) DO NOTHING
        RETURNING id, platform, external_id
    ), renamed AS (
        UPDATE inbox.authors AS a SET handle = w.handle, display_name = w.display_name
        FROM wanted AS w
        WHERE a.workspace_id = :ws AND a.platform = w.platform
          AND a.external_id = w.external_id AND (w.handle <> '' OR w.display_name <> '')
          AND (a.handle, a.display_name) IS DISTINCT FROM (w.handle, w.display_name)
        RETURNING a.id
    )
    SELECT id, platform, external_id FROM added
    UNION ALL
    SELECT a.id, a.platform, a.external_id FROM inbox.authors AS a
    JOIN wanted AS w ON a.platform = w.platform AND a.external_id = w.external_id
    WHERE a.workspace_id = :ws
    """
)

_EXISTING = text(
    """
    SELECT m.id, m.channel_id, m.external_id, m.conversation_id, c.thread_key
    FROM json_to_recordset(CAST(:rows AS json)) AS w(channel_id bigint, external_id text)
    JOIN inbox.messages AS m
      ON m.workspace_id = :ws AND m.channel_id = w.channel_id AND m.external_id = w.external_id
    JOIN inbox.conversations AS c ON c.workspace_id = :ws AND c.id = m.conversation_id
    """
)

_CONVERSATIONS = text(
    """
    WITH wanted AS (
        SELECT * FROM json_to_recordset(CAST(:rows AS json))
                 AS w(channel_id bigint, thread_key text, kind text, started_at timestamptz)
    ), added AS (
        INSERT INTO inbox.conversations (workspace_id, channel_id, thread_key, kind, started_at)
        SELECT CAST(:ws AS uuid), channel_id, thread_key, kind, started_at FROM wanted
        ORDER BY channel_id, thread_key
        ON CONFLICT (workspace_id, channel_id, thread_key) DO NOTHING
        RETURNING id, channel_id, thread_key
    )
    SELECT id, channel_id, thread_key FROM added
    UNION ALL
    SELECT c.id, c.channel_id, c.thread_key FROM inbox.conversations AS c
    JOIN wanted AS w ON c.channel_id = w.channel_id AND c.thread_key = w.thread_key
    WHERE c.workspace_id = :ws
    """
)

_MESSAGES = text(
    """
    INSERT INTO inbox.messages (workspace_id, channel_id, external_id, conversation_id,
                                author_id, direction, kind, text, lang, in_reply_to, thread_id,
                                created_at, received_at, raw)
    SELECT CAST(:ws AS uuid), r.c, r.e, r.v, r.a, r.d, r.k, r.t, r.l, r.p, r.h, r.at,
           CAST(:received AS timestamptz), r.raw
    FROM json_to_recordset(CAST(:rows AS json))
         AS r(c bigint, e text, v bigint, a bigint, d text, k text, t text, l text, p text,
              h text, at timestamptz, raw jsonb)
    ORDER BY r.c, r.e
    ON CONFLICT (workspace_id, channel_id, external_id) DO NOTHING
    RETURNING id, channel_id, external_id
    """
)


def _json(rows: Sequence[object]) -> str:
    """Rows as one JSON document; a dataclass becomes an object keyed by its field names."""
    return orjson.dumps(rows, option=orjson.OPT_UTC_Z).decode()


async def _resolve(
    conn: AsyncConnection, statement: TextClause, params: dict[str, object], wanted: int
) -> list[tuple[object, ...]]:
    """Run an insert-or-select; rerun once if a concurrent insert hid rows from our snapshot."""
    rows = [tuple(r) for r in (await conn.execute(statement, params)).all()]
    if len({r[1:] for r in rows}) < wanted:
        rows = [tuple(r) for r in (await conn.execute(statement, params)).all()]
    return rows


async def store_batch(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    messages: Sequence[Incoming],
    received_at: datetime,
) -> list[ItemResult]:
    """Store a batch exactly once per message; publish message-ingested for the new ones.

    Must run inside the caller's transaction: all of it commits, or none of it. The plan
    (``domain/batch.py``) decides what each statement is sent.
    """
    batch = Batch.of(messages)
    channel_ids = await _channel_ids(conn, workspace_id, batch.channels())
    # Which are already stored, and which stored messages do the new ones answer?
    stored = await _stored(conn, workspace_id, batch.lookups(channel_ids))
    plan = batch.plan(channel_ids, stored)
    inserted: dict[MessageKey, int] = {}
    conversation_ids: dict[ThreadKey, int] = {}
    if plan.new:
        author_ids = await _author_ids(conn, workspace_id, plan.authors)
        conversation_ids = await _conversation_ids(conn, workspace_id, plan.threads)
        inserted = await _insert_messages(
            conn, workspace_id, plan.new, author_ids, conversation_ids, received_at
        )
        raced = plan.raced(inserted)
        if raced:  # a concurrent request stored these first: report its ids
            stored = {**stored, **await _stored(conn, workspace_id, raced)}
        received = timestamp(received_at)
        events = [
            message_ingested(
                workspace_id,
                inserted[n.key],
                conversation_ids[n.thread],
                author_ids[n.author],
                n,
                received,
            )
            for n in plan.new
            if n.key in inserted
        ]
        await publish(conn, MESSAGE_INGESTED, [workspace_id] * len(events), events)
    return plan.results(inserted, stored, conversation_ids)


async def _channel_ids(
    conn: AsyncConnection, workspace_id: uuid.UUID, channels: list[ChannelKey]
) -> dict[ChannelKey, int]:
    """The ids of these channels, created if new."""
    rows = await _resolve(
        conn,
        _CHANNELS,
        {
            "ws": workspace_id,
            "platforms": [p for p, _ in channels],
            "keys": [k for _, k in channels],
        },
        len(channels),
    )
    return {(str(r[1]), str(r[2])): int(r[0]) for r in rows}  # type: ignore[call-overload]


async def _stored(
    conn: AsyncConnection, workspace_id: uuid.UUID, keys: Sequence[MessageKey]
) -> dict[MessageKey, Stored]:
    """The messages among ``keys`` that are stored already, with their conversations."""
    rows = (
        await conn.execute(
            _EXISTING,
            {
                "ws": workspace_id,
                "rows": _json([{"channel_id": c, "external_id": e} for c, e in keys]),
            },
        )
    ).all()
    return {
        (r.channel_id, r.external_id): Stored(r.id, r.conversation_id, r.thread_key) for r in rows
    }


async def _author_ids(
    conn: AsyncConnection, workspace_id: uuid.UUID, authors: list[Author]
) -> dict[AuthorKey, int]:
    """The ids of these authors (``Author`` fields are the statement's columns), created if
    new, renamed if their handle changed."""
    params = {"ws": workspace_id, "rows": _json(authors)}
    rows = await _resolve(conn, _AUTHORS, params, len(authors))
    return {(str(r[1]), str(r[2])): int(r[0]) for r in rows}  # type: ignore[call-overload]


async def _conversation_ids(
    conn: AsyncConnection, workspace_id: uuid.UUID, threads: list[Thread]
) -> dict[ThreadKey, int]:
    """The ids of these conversations (``Thread`` fields are the statement's columns)."""
    params = {"ws": workspace_id, "rows": _json(threads)}
    rows = await _resolve(conn, _CONVERSATIONS, params, len(threads))
    return {(int(r[1]), str(r[2])): int(r[0]) for r in rows}  # type: ignore[call-overload]


async def _insert_messages(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    new: list[NewMessage],
    author_ids: Mapping[AuthorKey, int],
    conversation_ids: Mapping[ThreadKey, int],
    received_at: datetime,
) -> dict[MessageKey, int]:
    """Insert the new messages; the ids of those no concurrent request stored first."""
    rows: list[dict[str, object]] = [
        {
            "c": n.channel_id,
            "e": n.message.external_id,
            "v": conversation_ids[n.thread],
            "a": author_ids[n.author],
            "d": n.message.direction,
            "k": n.message.kind,
            "t": n.message.text,
            "l": n.message.lang,
            "p": n.message.in_reply_to,
            "h": n.message.thread_id,
            "at": n.message.created_at,
            "raw": n.message.raw,
        }
        for n in new
    ]
    inserted = (
        await conn.execute(
            _MESSAGES, {"ws": workspace_id, "received": received_at, "rows": _json(rows)}
        )
    ).all()
    return {(r[1], r[2]): r[0] for r in inserted}


_KNOWN_PROFILES = text(
    """
    SELECT external_id, handle, display_name, profile_checked_at >= :fresh_after AS fresh
    FROM inbox.authors
    WHERE workspace_id = :ws AND platform = :platform
      AND external_id = ANY(CAST(:ids AS text[])) AND profile_checked_at IS NOT NULL
    """
)

_REMEMBER_PROFILES = text(
    """
    INSERT INTO inbox.authors (workspace_id, platform, external_id, handle, display_name,
                               profile_checked_at)
    SELECT CAST(:ws AS uuid), :platform, w.external_id, w.handle, w.display_name,
           CAST(:now AS timestamptz)
    FROM json_to_recordset(CAST(:rows AS json))
         AS w(external_id text, handle text, display_name text)
    ORDER BY w.external_id
    ON CONFLICT (workspace_id, platform, external_id) DO UPDATE
    SET handle = excluded.handle, display_name = excluded.display_name,
        profile_checked_at = excluded.profile_checked_at
    """
)


async def known_profiles(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    platform: str,
    external_ids: Sequence[str],
    fresh_after: datetime,
) -> dict[str, tuple[str, str, bool]]:
    """Names looked up before: external id → (handle, display name, still fresh)."""
    rows = await conn.execute(
        _KNOWN_PROFILES,
        {
            "ws": workspace_id,
            "platform": platform,
            "ids": list(external_ids),
            "fresh_after": fresh_after,
        },
    )
    return {r.external_id: (r.handle, r.display_name, bool(r.fresh)) for r in rows}


async def remember_profiles(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    platform: str,
    names: Mapping[str, tuple[str, str]],
    now: datetime,
) -> None:
    """Cache names a platform gave (external id → (handle, display name)) as of ``now``."""
    if not names:
        return
    rows = [{"external_id": k, "handle": h, "display_name": d} for k, (h, d) in names.items()]
    await conn.execute(
        _REMEMBER_PROFILES,
        {"ws": workspace_id, "platform": platform, "rows": _json(rows), "now": now},
    )
