"""SQL of the inbox schema. Every statement names the workspace; batches are set-based.

``store_batch`` writes a whole ingest batch in one transaction with a handful of set-based
statements: channels, authors, conversations, messages and their message-ingested events.
A message is stored once per (workspace, channel, external id): a unique index decides, so
concurrent copies of the same message cannot both land. Row sets travel as one JSON document
(``json_to_recordset``): Postgres parses it on its own core, far cheaper than encoding a dozen
1,000-element arrays value by value in the service.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ecoute.v1 import events_pb2, message_pb2
from services.inbox.domain.messages import Incoming, first_occurrences
from services.inbox.domain.threading import conversation_kind, thread_keys
from services.infra.auth import token_digest
from services.infra.events import publish

MESSAGE_INGESTED = "message.ingested"


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What became of one item of a batch."""

    index: int
    external_id: str
    status: str  # "stored" | "duplicate"
    message_id: int
    conversation_id: int
    platform: str


async def workspace_of_ingest_token(conn: AsyncConnection, token: str) -> uuid.UUID | None:
    """The workspace an ingest token belongs to, if it is valid and not revoked."""
    row = (
        await conn.execute(
            text(
                "SELECT workspace_id FROM inbox.ingest_tokens "
                "WHERE digest = :digest AND revoked_at IS NULL"
            ),
            {"digest": token_digest(token)},
        )
    ).first()
    return row.workspace_id if row else None


async def create_ingest_token(
    conn: AsyncConnection, workspace_id: uuid.UUID, token: str, name: str
) -> None:
    """Store a new ingest token (its digest only). Re-adding the same token is a no-op."""
    await conn.execute(
        text(
            "INSERT INTO inbox.ingest_tokens (digest, workspace_id, name) "
            "VALUES (:digest, :ws, :name) ON CONFLICT (digest) DO NOTHING"
        ),
        {"digest": token_digest(token), "ws": workspace_id, "name": name},
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
          AND a.external_id = w.external_id AND w.handle <> ''
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


def _json(rows: list[dict[str, object]]) -> str:
    return orjson.dumps(rows, option=orjson.OPT_UTC_Z).decode()


async def _resolve(
    conn: AsyncConnection, statement: object, params: dict[str, object], wanted: int
) -> list[tuple[object, ...]]:
    """Run an insert-or-select; rerun once if a concurrent insert hid rows from our snapshot."""
    rows = [tuple(r) for r in (await conn.execute(statement, params)).all()]  # type: ignore[call-overload]
    if len({r[1:] for r in rows}) < wanted:
        rows = [tuple(r) for r in (await conn.execute(statement, params)).all()]  # type: ignore[call-overload]
    return rows


async def store_batch(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    messages: Sequence[Incoming],
    received_at: datetime,
) -> list[ItemResult]:
    """Store a batch exactly once per message; publish message-ingested for the new ones.

    Must run inside the caller's transaction: all of it commits, or none of it.
    """
    batch = list(messages)
    first, repeats = first_occurrences(batch)
    unique = [batch[i] for i in first]

    channel_pairs = sorted({(m.platform, m.channel) for m in unique})
    channel_rows = await _resolve(
        conn,
        _CHANNELS,
        {
            "ws": workspace_id,
            "platforms": [p for p, _ in channel_pairs],
            "keys": [k for _, k in channel_pairs],
        },
        len(channel_pairs),
    )
    channel_ids: dict[tuple[str, str], int] = {
        (str(r[1]), str(r[2])): int(r[0])  # type: ignore[call-overload]
        for r in channel_rows
    }

    def channel_of(m: Incoming) -> int:
        return channel_ids[(m.platform, m.channel)]

    # Which are already stored, and which stored messages do the new ones answer?
    lookups = sorted(
        {(channel_of(m), m.external_id) for m in unique}
        | {(channel_of(m), m.in_reply_to) for m in unique if m.in_reply_to}
    )
    known = (
        await conn.execute(
            _EXISTING,
            {
                "ws": workspace_id,
                "rows": _json([{"channel_id": c, "external_id": e} for c, e in lookups]),
            },
        )
    ).all()
    stored: dict[tuple[int, str], tuple[int, int, str]] = {
        (r.channel_id, r.external_id): (r.id, r.conversation_id, r.thread_key) for r in known
    }

    results: dict[int, ItemResult] = {}
    fresh_idx: list[int] = []
    for i in first:
        m = batch[i]
        hit = stored.get((channel_of(m), m.external_id))
        if hit is not None:
            results[i] = ItemResult(i, m.external_id, "duplicate", hit[0], hit[1], m.platform)
        else:
            fresh_idx.append(i)
    fresh = [batch[i] for i in fresh_idx]

    if fresh:
        by_channel = {v: k for k, v in channel_ids.items()}
        known_parents = {(*by_channel[ch], ext): key for (ch, ext), (_, _, key) in stored.items()}
        keys = thread_keys(fresh, known_parents)

        author_map: dict[tuple[str, str], Incoming] = {}
        for m in fresh:
            author_map[(m.platform, m.author_external_id)] = m
        author_keys = sorted(author_map)
        author_rows = await _resolve(
            conn,
            _AUTHORS,
            {
                "ws": workspace_id,
                "rows": _json(
                    [
                        {
                            "platform": p,
                            "external_id": e,
                            "handle": author_map[(p, e)].author_handle,
                            "display_name": author_map[(p, e)].author_display_name,
                        }
                        for p, e in author_keys
                    ]
                ),
            },
            len(author_keys),
        )
        author_ids = {(str(r[1]), str(r[2])): int(r[0]) for r in author_rows}  # type: ignore[call-overload]

        threads: dict[tuple[int, str], tuple[str, datetime]] = {}
        for m, key in zip(fresh, keys, strict=True):
            slot = (channel_of(m), key)
            kind, started = threads.get(slot, (conversation_kind(m), m.created_at))
            threads[slot] = (kind, min(started, m.created_at))
        thread_list = sorted(threads)
        conversation_rows = await _resolve(
            conn,
            _CONVERSATIONS,
            {
                "ws": workspace_id,
                "rows": _json(
                    [
                        {
                            "channel_id": c,
                            "thread_key": k,
                            "kind": threads[(c, k)][0],
                            "started_at": threads[(c, k)][1],
                        }
                        for c, k in thread_list
                    ]
                ),
            },
            len(thread_list),
        )
        conversation_ids = {(int(r[1]), str(r[2])): int(r[0]) for r in conversation_rows}  # type: ignore[call-overload]

        conv_of = [conversation_ids[(channel_of(m), k)] for m, k in zip(fresh, keys, strict=True)]
        rows: list[dict[str, object]] = [
            {
                "c": channel_of(m),
                "e": m.external_id,
                "v": conv_of[pos],
                "a": author_ids[(m.platform, m.author_external_id)],
                "d": m.direction,
                "k": m.kind,
                "t": m.text,
                "l": m.lang,
                "p": m.in_reply_to,
                "h": m.thread_id,
                "at": m.created_at,
                "raw": m.raw,
            }
            for pos, m in enumerate(fresh)
        ]
        inserted = (
            await conn.execute(
                _MESSAGES,
                {
                    "ws": workspace_id,
                    "received": received_at,
                    "rows": _json(rows),
                },
            )
        ).all()
        new_ids = {(r[1], r[2]): r[0] for r in inserted}

        raced = [
            i for i in fresh_idx if (channel_of(batch[i]), batch[i].external_id) not in new_ids
        ]
        if raced:  # a concurrent request stored these first: report its ids
            again = (
                await conn.execute(
                    _EXISTING,
                    {
                        "ws": workspace_id,
                        "rows": _json(
                            [
                                {
                                    "channel_id": channel_of(batch[i]),
                                    "external_id": batch[i].external_id,
                                }
                                for i in raced
                            ]
                        ),
                    },
                )
            ).all()
            for r in again:
                stored[(r.channel_id, r.external_id)] = (r.id, r.conversation_id, r.thread_key)

        events: list[bytes] = []
        received = _timestamp(received_at)
        workspace = str(workspace_id)
        for pos, i in enumerate(fresh_idx):
            m = batch[i]
            slot = (channel_of(m), m.external_id)
            message_id = new_ids.get(slot)
            if message_id is None:
                hit = stored[slot]
                results[i] = ItemResult(i, m.external_id, "duplicate", hit[0], hit[1], m.platform)
                continue
            results[i] = ItemResult(
                i, m.external_id, "stored", message_id, conv_of[pos], m.platform
            )
            events.append(
                _ingested_event(
                    workspace,
                    message_id,
                    conv_of[pos],
                    channel_of(m),
                    author_ids[(m.platform, m.author_external_id)],
                    m,
                    received,
                )
            )
        await publish(conn, MESSAGE_INGESTED, [workspace_id] * len(events), events)

    first_of = {(batch[i].platform, batch[i].channel, batch[i].external_id): i for i in first}
    for i in repeats:
        m = batch[i]
        original = results[first_of[(m.platform, m.channel, m.external_id)]]
        results[i] = ItemResult(
            i, m.external_id, "duplicate", original.message_id, original.conversation_id, m.platform
        )
    return [results[i] for i in range(len(batch))]


def _timestamp(moment: datetime) -> Timestamp:
    """A protobuf Timestamp, built directly (``FromDatetime`` costs a calendar conversion)."""
    return Timestamp(seconds=int(moment.timestamp() // 1), nanos=moment.microsecond * 1000)


def _ingested_event(
    workspace: str,
    message_id: int,
    conversation_id: int,
    channel_id: int,
    author_id: int,
    m: Incoming,
    received: Timestamp,
) -> bytes:
    event = events_pb2.MessageIngested(
        workspace_id=workspace,
        message_id=message_id,
        conversation_id=conversation_id,
        channel_id=channel_id,
        author_id=author_id,
        message=message_pb2.NormalizedMessage(
            platform=m.platform,
            channel=m.channel,
            external_id=m.external_id,
            kind=m.kind,
            direction=m.direction,
            author=message_pb2.Author(
                external_id=m.author_external_id,
                handle=m.author_handle,
                display_name=m.author_display_name,
            ),
            text=m.text,
            created_at=_timestamp(m.created_at),
            in_reply_to=m.in_reply_to,
            thread_id=m.thread_id,
            lang=m.lang,
        ),
        received_at=received,
    )
    return bytes(event.SerializeToString())
