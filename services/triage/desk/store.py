"""SQL of the agents' desk: claims, the conversation view, replies, notes, saved replies.

A claim is a lease (``assignee_id`` until ``claim_expires_at``) so two agents never hold
the same conversation and a forgotten claim frees itself. Every statement names the
workspace; another workspace's id simply finds nothing (the API answers 404).
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.db import all_rows, first_row, returns_row, scalar_one
from services.infra.platforms import MODERATED_KINDS, MODERATION
from services.triage.domain.calendar import Calendar, business_seconds
from services.triage.domain.conversation import ConversationState
from services.triage.domain.moderation import Target, allowed_actions
from services.triage.domain.sla import SLA_STATES
from services.triage.incidents.store import incident_of_conversation
from services.triage.moderation.store import latest_by_message
from services.triage.sla.store import queue_order_by
from services.triage.tags.store import tags_of

CLAIM_LEASE = timedelta(minutes=15)
LOCK_NOT_AVAILABLE = "55P03"
IDENTICAL_WINDOW = timedelta(hours=24)


def text_digest(value: str) -> bytes:
    """Replies compare by the digest of their whitespace-folded, case-folded text."""
    return hashlib.sha256(" ".join(value.split()).casefold().encode()).digest()


async def claim(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    conversation_id: int,
    user_id: uuid.UUID,
    now: datetime,
) -> str:
    """'claimed' (or renewed), 'held' by someone else, or 'missing'."""
    row = await first_row(
        conn,
        """
        UPDATE triage.conversations SET assignee_id = :me, claim_expires_at = :until
        WHERE workspace_id = :ws AND id = :id
          AND (assignee_id IS NULL OR assignee_id = :me OR claim_expires_at < :now)
        RETURNING id
        """,
        {
            "ws": workspace_id,
            "id": conversation_id,
            "me": user_id,
            "now": now,
            "until": now + CLAIM_LEASE,
        },
    )
    if row is not None:
        return "claimed"
    exists = await first_row(
        conn,
        "SELECT 1 FROM triage.conversations WHERE workspace_id = :ws AND id = :id",
        {"ws": workspace_id, "id": conversation_id},
    )
    return "held" if exists else "missing"


_CLAIM_MANY = text(
    """
    UPDATE triage.conversations AS c SET assignee_id = x.me, claim_expires_at = :until
    FROM unnest(CAST(:ids AS bigint[]), CAST(:users AS uuid[])) AS x(id, me)
    WHERE c.workspace_id = :ws AND c.id = x.id
      AND (c.assignee_id IS NULL OR c.assignee_id = x.me OR c.claim_expires_at < :now)
    RETURNING c.id
    """
)


async def claim_many(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    pairs: Sequence[tuple[int, uuid.UUID]],
    now: datetime,
) -> set[int]:
    """``claim`` for many (conversation, agent) pairs in one statement, the same lease: the
    ids claimed (a routing round's hundred claims one by one were most of its time)."""
    if not pairs:
        return set()
    ids, users = (list(c) for c in zip(*pairs, strict=True))
    params = {"ws": workspace_id, "ids": ids, "users": users, "now": now}
    rows = await conn.execute(_CLAIM_MANY, {**params, "until": now + CLAIM_LEASE})
    return {int(r.id) for r in rows}


_CLAIMABLE = """
    SELECT workspace_id, id FROM triage.conversations
    WHERE workspace_id = :ws AND status = 'open' AND needs_answer
      AND (assignee_id IS NULL OR claim_expires_at < :now)
"""
_CLAIM_NEXT = f"""
    WITH next AS (
        {_CLAIMABLE}
        ORDER BY {queue_order_by()}
        LIMIT 1
        FOR UPDATE {{wait}}
    )
    UPDATE triage.conversations AS c SET assignee_id = :me, claim_expires_at = :until
    FROM next WHERE c.workspace_id = next.workspace_id AND c.id = next.id
    RETURNING c.id
"""
_TAKE_FREE = text(_CLAIM_NEXT.format(wait="SKIP LOCKED"))
_TAKE_WAITING = text(_CLAIM_NEXT.format(wait=""))
_ANY_CLAIMABLE = text(_CLAIMABLE + " LIMIT 1")
# How long an agent's request waits for a row another transaction holds for a moment.
ROW_LOCK_WAIT = "2s"
CLAIM_NEXT_ATTEMPTS = 3


class QueueBusy(Exception):
    """Conversations wait, but every one stayed locked longer than ``ROW_LOCK_WAIT``."""


async def claim_next(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> int | None:
    """Take the most urgent unclaimed conversation (queue order); None when nothing waits.

    Rows other agents are taking are skipped. When every waiting row is locked (an agent's
    claim, the SLA scheduler re-ranking, the consumer adding a message), the request waits
    for the first one rather than answer "nothing is waiting"; if it was taken meanwhile,
    it looks again.
    """
    params = {"ws": workspace_id, "me": user_id, "now": now, "until": now + CLAIM_LEASE}
    for _ in range(CLAIM_NEXT_ATTEMPTS):
        row = (await conn.execute(_TAKE_FREE, params)).first()
        if row is not None:
            return int(row.id)
        try:
            async with conn.begin_nested():
                await conn.execute(text(f"SET LOCAL lock_timeout = '{ROW_LOCK_WAIT}'"))
                row = (await conn.execute(_TAKE_WAITING, params)).first()
                await conn.execute(text("SET LOCAL lock_timeout = DEFAULT"))
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            raise QueueBusy from error
        if row is not None:
            return int(row.id)
        if not await _anything_claimable(conn, params):
            return None
    raise QueueBusy


async def _anything_claimable(conn: AsyncConnection, params: dict[str, Any]) -> bool:
    return (await conn.execute(_ANY_CLAIMABLE, params)).first() is not None


async def release(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    conversation_id: int,
    user_id: uuid.UUID,
    any_holder: bool,
) -> bool:
    return await returns_row(
        conn,
        """
        UPDATE triage.conversations SET assignee_id = NULL, claim_expires_at = NULL
        WHERE workspace_id = :ws AND id = :id AND (assignee_id = :me OR :any)
        RETURNING id
        """,
        {"ws": workspace_id, "id": conversation_id, "me": user_id, "any": any_holder},
    )


async def holder(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int, now: datetime
) -> tuple[str, uuid.UUID | None, int | None] | None:
    """(status, current holder, latest inbound message) of a conversation, or None."""
    row = await first_row(
        conn,
        """
        SELECT status, CASE WHEN claim_expires_at > :now THEN assignee_id END AS holder,
               last_message_id
        FROM triage.conversations WHERE workspace_id = :ws AND id = :id
        """,
        {"ws": workspace_id, "id": conversation_id, "now": now},
    )
    return (row.status, row.holder, row.last_message_id) if row else None


async def platform_and_kind(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int
) -> tuple[str, str] | None:
    """(platform, kind) of a conversation, or None: what a reply's length is measured by."""
    row = await first_row(
        conn,
        "SELECT platform, kind FROM triage.conversations WHERE workspace_id = :ws AND id = :id",
        {"ws": workspace_id, "id": conversation_id},
    )
    return (row.platform, row.kind) if row else None


async def last_customer_message_at(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int
) -> datetime | None:
    """When the customer last wrote in the conversation (WhatsApp's window starts there)."""
    found = await scalar_one(
        conn,
        "SELECT max(created_at) FROM triage.messages WHERE workspace_id = :ws "
        "AND conversation_id = :id AND direction = 'in'",
        {"ws": workspace_id, "id": conversation_id},
    )
    return found if isinstance(found, datetime) else None


async def renew_claim(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int, now: datetime
) -> None:
    await conn.execute(
        text(
            "UPDATE triage.conversations SET claim_expires_at = :until "
            "WHERE workspace_id = :ws AND id = :id"
        ),
        {"until": now + CLAIM_LEASE, "ws": workspace_id, "id": conversation_id},
    )


async def reply_by_client_key(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, client_key: str
) -> dict[str, Any] | None:
    row = await first_row(
        conn,
        "SELECT * FROM triage.replies WHERE workspace_id = :ws AND author_id = :me "
        "AND client_key = :key",
        {"ws": workspace_id, "me": user_id, "key": client_key},
    )
    return reply_view(row) if row else None


async def identical_elsewhere(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    conversation_id: int,
    digest: bytes,
    now: datetime,
) -> int:
    """Replies with the same text sent to other conversations in the last 24 hours."""
    return int(
        (
            await conn.execute(
                text(
                    """
        SELECT count(*) FROM triage.replies
        WHERE workspace_id = :ws AND text_digest = :digest AND created_at > :since
          AND conversation_id <> :conversation
        """
                ),
                {
                    "ws": workspace_id,
                    "digest": digest,
                    "since": now - IDENTICAL_WINDOW,
                    "conversation": conversation_id,
                },
            )
        ).scalar_one()
    )


async def insert_reply(conn: AsyncConnection, values: dict[str, Any]) -> dict[str, Any] | None:
    """The new reply, or None when this author already sent one with the same client key
    (a double submit, even a concurrent one: the unique index decides)."""
    row = await first_row(
        conn,
        """
        INSERT INTO triage.replies (workspace_id, id, conversation_id, in_reply_to_id, author_id,
                                    text, text_digest, client_key, saved_reply_id,
                                    unchanged_saved, private, created_at, updated_at)
        VALUES (:ws, :id, :conversation, :in_reply_to, :author, :text, :digest, :client_key,
                :saved, :unchanged, :private, :now, :now)
        ON CONFLICT (workspace_id, author_id, client_key) WHERE client_key IS NOT NULL
        DO NOTHING
        RETURNING *
        """,
        values,
    )
    return reply_view(row) if row else None


def reply_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "text": row.text,
        "state": row.state,
        "failure_reason": row.failure_reason,
        "failure_detail": row.failure_detail,
        "platform_message_id": row.platform_message_id,
        "private": row.private,
        "author_id": row.author_id,
        "author_name": row._mapping.get("author_name"),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


async def reply_delivered(
    conn: AsyncConnection, workspace_id: uuid.UUID, reply_id: uuid.UUID, platform_message_id: str
) -> None:
    await conn.execute(
        text(
            "UPDATE triage.replies SET state = 'delivered', platform_message_id = :pid, "
            "failure_reason = NULL, failure_detail = NULL, updated_at = now() "
            "WHERE workspace_id = :ws AND id = :id"
        ),
        {"pid": platform_message_id, "ws": workspace_id, "id": reply_id},
    )


async def reply_failed(
    conn: AsyncConnection, workspace_id: uuid.UUID, reply_id: uuid.UUID, reason: str, detail: str
) -> None:
    """The platform refused the reply. An erased reply (its digest emptied by the erasure)
    keeps the bounded reason but not the platform's words, which may name the person. A
    delivered reply fails only as ``undelivered``: the platform took it, then could not bring
    it to the customer (WhatsApp's failed status)."""
    await conn.execute(
        text(
            "UPDATE triage.replies SET state = 'failed', failure_reason = :reason, "
            "failure_detail = CASE WHEN text_digest = '\\x'::bytea THEN NULL ELSE :detail END, "
            "updated_at = now() WHERE workspace_id = :ws AND id = :id "
            "AND (state <> 'delivered' OR :reason = 'undelivered')"
        ),
        {"reason": reason, "detail": detail, "ws": workspace_id, "id": reply_id},
    )


async def add_note(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    conversation_id: int,
    author_id: uuid.UUID,
    body: str,
    now: datetime,
) -> dict[str, Any]:
    row = (
        await conn.execute(
            text(
                """
        INSERT INTO triage.notes (workspace_id, id, conversation_id, author_id, text, created_at)
        VALUES (:ws, :id, :conversation, :author, :text, :now) RETURNING *
        """
            ),
            {
                "ws": workspace_id,
                "id": uuid.uuid4(),
                "conversation": conversation_id,
                "author": author_id,
                "text": body,
                "now": now,
            },
        )
    ).one()
    return {
        "id": row.id,
        "text": row.text,
        "author_id": row.author_id,
        "created_at": row.created_at,
    }


async def conversation_view(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int
) -> dict[str, Any] | None:
    """The whole conversation as an agent sees it: thread, decisions, replies, notes, and
    its incident with the status note a reply may start from."""
    c = await first_row(
        conn,
        "SELECT c.*, u.display_name AS assignee_name FROM triage.conversations AS c "
        "LEFT JOIN triage.users AS u "
        "ON u.workspace_id = c.workspace_id AND u.id = c.assignee_id "
        "WHERE c.workspace_id = :ws AND c.id = :id",
        {"ws": workspace_id, "id": conversation_id},
    )
    if c is None:
        return None
    params = {"ws": workspace_id, "id": conversation_id}
    messages = await _thread(conn, params)
    corrected = await _corrections_by_message(conn, params)
    replies = await all_rows(
        conn,
        "SELECT r.*, coalesce(u.display_name, u.email) AS author_name "
        "FROM triage.replies AS r LEFT JOIN triage.users AS u "
        "ON u.workspace_id = r.workspace_id AND u.id = r.author_id "
        "WHERE r.workspace_id = :ws AND r.conversation_id = :id ORDER BY r.created_at",
        params,
    )
    notes = await all_rows(
        conn,
        "SELECT * FROM triage.notes WHERE workspace_id = :ws AND conversation_id = :id "
        "ORDER BY created_at",
        params,
    )
    incident = await incident_of_conversation(conn, workspace_id, conversation_id)
    resolved = await _resolved_by(conn, params) if c.status == "resolved" else None
    moderated = await latest_by_message(conn, workspace_id, conversation_id)
    return {
        "tags": await tags_of(conn, workspace_id, conversation_id),
        "id": c.id,
        "platform": c.platform,
        "channel": c.channel,
        "kind": c.kind,
        "status": c.status,
        "incident": incident,
        "needs_answer": c.needs_answer,
        "priority": f"P{c.priority}",
        "intent": c.intent,
        "abuse": c.abuse,
        "reasons": list(c.reasons),
        "waiting_since": c.waiting_since,
        "assignee_id": c.assignee_id,
        "claim_expires_at": c.claim_expires_at,
        "assignee_name": c.assignee_name,
        "resolved_by_name": resolved.name if resolved else None,
        "resolved_at": resolved.at if resolved else None,
        "messages": [
            _message_view(m, corrected.get(m.id, []), c.platform, moderated.get(m.id))
            for m in messages
        ],
        "replies": [reply_view(r) for r in replies],
        "notes": [
            {"id": n.id, "text": n.text, "author_id": n.author_id, "created_at": n.created_at}
            for n in notes
        ],
    }


async def _resolved_by(conn: AsyncConnection, params: dict[str, Any]) -> Any:
    """Who resolved the conversation last, and when (from the audit log), or None."""
    return (
        await conn.execute(
            text(
                "SELECT coalesce(u.display_name, u.email) AS name, a.at "
                "FROM triage.audit_log AS a LEFT JOIN triage.users AS u "
                "ON u.workspace_id = a.workspace_id AND u.id = a.user_id "
                "WHERE a.workspace_id = :ws AND a.conversation_id = :id "
                "AND a.action = 'resolve' ORDER BY a.at DESC, a.id DESC LIMIT 1"
            ),
            params,
        )
    ).first()


async def _thread(conn: AsyncConnection, params: dict[str, Any]) -> Sequence[Any]:
    """A conversation's messages in time order, each with its triage decision (if any)."""
    return (
        await conn.execute(
            text(
                """
        SELECT m.*, d.needs_answer, d.intent, d.abuse, d.language, d.priority, d.confidence,
               d.reasons, d.model_version
        FROM triage.messages AS m
        LEFT JOIN triage.decisions AS d ON d.workspace_id = m.workspace_id AND d.message_id = m.id
        WHERE m.workspace_id = :ws AND m.conversation_id = :id
        ORDER BY m.created_at, m.id
        """
            ),
            params,
        )
    ).all()


async def _corrections_by_message(
    conn: AsyncConnection, params: dict[str, Any]
) -> dict[int, list[dict[str, Any]]]:
    """The agents' corrections of a conversation's messages, oldest first, by message."""
    fixes = await all_rows(
        conn,
        "SELECT message_id, field, old_value, new_value, user_id, created_at "
        "FROM triage.corrections WHERE workspace_id = :ws AND message_id IN "
        "(SELECT id FROM triage.messages WHERE workspace_id = :ws "
        "AND conversation_id = :id) ORDER BY created_at, id",
        params,
    )
    corrected: dict[int, list[dict[str, Any]]] = {}
    for f in fixes:
        corrected.setdefault(f.message_id, []).append(
            {
                "field": f.field,
                "old_value": f.old_value,
                "new_value": f.new_value,
                "user_id": f.user_id,
                "created_at": f.created_at,
            }
        )
    return corrected


def _message_view(
    m: Any, corrections: list[dict[str, Any]], platform: str, moderation: dict[str, Any] | None
) -> dict[str, Any]:
    """A message of the thread, with its latest moderation and the actions a lead may ask."""
    deleted = moderation is not None and moderation["visibility"] == "deleted"
    target = Target(
        platform, m.kind, m.direction, m.erased_at is not None, "delete" if deleted else None
    )
    actions = allowed_actions(target, MODERATION, MODERATED_KINDS)
    return {
        "id": m.id,
        "direction": m.direction,
        "kind": m.kind,
        "text": m.text,
        "held": m.held,
        "created_at": m.created_at,
        "author": {
            "handle": m.author_handle,
            "display_name": m.author_name,
            "external_id": m.author_external_id,
        },
        "triage": None
        if m.intent is None
        else {
            "needs_answer": m.needs_answer,
            "intent": m.intent,
            "abuse": m.abuse,
            "language": m.language,
            "priority": f"P{m.priority}",
            "confidence": m.confidence,
            "reasons": list(m.reasons),
            "model_version": m.model_version,
        },
        "corrections": corrections,
        "moderation": moderation,
        "moderation_actions": actions,
    }


async def add_saved_reply(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, title: str, body: str
) -> dict[str, Any]:
    row = (
        await conn.execute(
            text(
                "INSERT INTO triage.saved_replies (workspace_id, id, title, text, created_by) "
                "VALUES (:ws, :id, :title, :text, :user) RETURNING id, title, text, created_at"
            ),
            {"ws": workspace_id, "id": uuid.uuid4(), "title": title, "text": body, "user": user_id},
        )
    ).one()
    return {"id": row.id, "title": row.title, "text": row.text, "created_at": row.created_at}


_ENSURE_CONVERSATIONS = text(
    """
    INSERT INTO triage.conversations (workspace_id, id, platform, channel, kind)
    SELECT * FROM unnest(CAST(:ws AS uuid[]), CAST(:ids AS bigint[]), CAST(:platforms AS text[]),
                         CAST(:channels AS text[]), CAST(:kinds AS text[]))
    ORDER BY 1, 2
    ON CONFLICT (workspace_id, id) DO NOTHING
    """
)
_LOCK_CONVERSATIONS = text(
    """
    SELECT c.* FROM triage.conversations AS c
    JOIN unnest(CAST(:ws AS uuid[]), CAST(:ids AS bigint[])) AS k(workspace_id, id)
      ON c.workspace_id = k.workspace_id AND c.id = k.id
    ORDER BY c.workspace_id, c.id
    FOR UPDATE OF c
    """
)

StateKey = tuple[uuid.UUID, int]


async def lock_conversations(
    conn: AsyncConnection, conversations: Sequence[tuple[uuid.UUID, int, str, str, str]]
) -> dict[StateKey, ConversationState]:
    """Create missing conversations and lock all of them (in key order: no deadlock)."""
    rows = sorted(set(conversations))
    columns: list[list[Any]] = [list(c) for c in zip(*rows, strict=True)] or [[]] * 5
    await conn.execute(
        _ENSURE_CONVERSATIONS,
        {
            "ws": list(columns[0]),
            "ids": list(columns[1]),
            "platforms": list(columns[2]),
            "channels": list(columns[3]),
            "kinds": list(columns[4]),
        },
    )
    locked = (
        await conn.execute(_LOCK_CONVERSATIONS, {"ws": list(columns[0]), "ids": list(columns[1])})
    ).all()
    return {
        (r.workspace_id, r.id): ConversationState(
            status=r.status,
            needs_answer=r.needs_answer,
            priority=r.priority,
            intent=r.intent,
            abuse=r.abuse,
            reasons=tuple(r.reasons),
            waiting_since=r.waiting_since,
            last_inbound_at=r.last_inbound_at,
            last_outbound_at=r.last_outbound_at,
            last_message_id=r.last_message_id,
        )
        for r in locked
    }


_UPDATE_CONVERSATIONS = text(
    """
    UPDATE triage.conversations AS c SET
        status = u.status, needs_answer = u.needs_answer, priority = u.priority,
        intent = u.intent, abuse = u.abuse, reasons = string_to_array(u.reasons, E'\\x1f'),
        waiting_since = u.waiting_since, last_inbound_at = u.last_inbound_at,
        last_outbound_at = u.last_outbound_at, last_message_id = u.last_message_id,
        language = CASE WHEN u.last_message_id IS DISTINCT FROM c.last_message_id
                        THEN (SELECT d.language FROM triage.decisions AS d
                              WHERE d.workspace_id = c.workspace_id
                                AND d.message_id = u.last_message_id)
                        ELSE c.language END,
        updated_at = now()
    FROM unnest(CAST(:ws AS uuid[]), CAST(:ids AS bigint[]), CAST(:statuses AS text[]),
                CAST(:needs_answer AS boolean[]), CAST(:priorities AS smallint[]),
                CAST(:intents AS text[]), CAST(:abuse AS boolean[]), CAST(:reasons AS text[]),
                CAST(:waiting AS timestamptz[]), CAST(:inbound AS timestamptz[]),
                CAST(:outbound AS timestamptz[]), CAST(:last_ids AS bigint[]))
         AS u(ws, id, status, needs_answer, priority, intent, abuse, reasons, waiting_since,
              last_inbound_at, last_outbound_at, last_message_id)
    WHERE c.workspace_id = u.ws AND c.id = u.id
    """
)


def join_reasons(reasons: Sequence[str]) -> str:
    """Reasons travel to ``text[]`` as one unit-separated string (unnest cannot nest arrays)."""
    return "\x1f".join(r.replace("\x1f", " ") for r in reasons)


async def save_conversations(
    conn: AsyncConnection, states: dict[StateKey, ConversationState]
) -> None:
    if not states:
        return
    keys = sorted(states)
    s = [states[k] for k in keys]
    await conn.execute(
        _UPDATE_CONVERSATIONS,
        {
            "ws": [k[0] for k in keys],
            "ids": [k[1] for k in keys],
            "statuses": [x.status for x in s],
            "needs_answer": [x.needs_answer for x in s],
            "priorities": [x.priority for x in s],
            "intents": [x.intent for x in s],
            "abuse": [x.abuse for x in s],
            "reasons": [join_reasons(x.reasons) for x in s],
            "waiting": [x.waiting_since for x in s],
            "inbound": [x.last_inbound_at for x in s],
            "outbound": [x.last_outbound_at for x in s],
            "last_ids": [x.last_message_id for x in s],
        },
    )


# Each filter of the queue, as the condition it adds; each has an index in the queue's order
# (migration t0023; ``mine`` the holder index of t0013; ``tag`` and ``incident`` read their
# own conversations by key, through conversation_tags_by_tag and the members' key, so they
# cost what the tag or incident holds). ``unassigned`` walks the queue's own index past the
# conversations held right now: as many as the team holds, not as many as wait.
_QUEUE_FILTERS = {
    "priority": "c.priority = :priority",
    "platform": "c.platform = :platform",
    "intent": "c.intent = :intent",
    "rank": "c.sla_rank = :rank",
    "language": "c.language = :language",
    "mine": "c.assignee_id = :mine AND c.claim_expires_at > :now",
    "unassigned": "(c.assignee_id IS NULL OR c.claim_expires_at <= :now)",
    "channel": "c.channel = :channel",
    # An incident's or a tag's conversations are read first, then looked up by key: as a
    # join the planner preferred walking every open conversation (22 ms at 100,000).
    "incident": "c.id = ANY(ARRAY(SELECT f.conversation_id FROM triage.incident_members AS f "
    "WHERE f.workspace_id = :ws AND f.incident_id = :incident))",
    "tag": "c.id = ANY(ARRAY(SELECT ct.conversation_id FROM triage.conversation_tags AS ct "
    "WHERE ct.workspace_id = :ws AND ct.tag_id = :tag))",
}
# The most a page holds (the API's limit). The inner LIMIT is this constant, so the plan
# Postgres keeps for the statement (its generic plan, after five calls) is the one for a
# page: given ``LIMIT $n`` it would plan for a tenth of the open conversations and choose
# a sort of all of them. The outer LIMIT stops the walk at the page asked for.
QUEUE_PAGE_MAX = 500
_QUEUE_SQL = f"""
    WITH page AS (
        SELECT * FROM (
            SELECT c.workspace_id, c.id, c.platform, c.channel, c.kind, c.priority, c.intent,
                   c.abuse, c.reasons, c.waiting_since, c.sla_rank, c.sla_due_at,
                   c.assignee_id, c.claim_expires_at, c.language, c.last_message_id
            FROM triage.conversations AS c
            WHERE c.workspace_id = :ws AND c.status = 'open' AND c.needs_answer {{filters}}
            ORDER BY {queue_order_by("c")}
            LIMIT {QUEUE_PAGE_MAX}
        ) AS c
        LIMIT :limit
    )
    -- The message, holder, incident and tags are looked up for the page only.
    SELECT page.*, m.id AS message_id, m.text, m.author_handle, m.author_name, m.created_at,
           u.display_name AS assignee_name,
           inc.id AS incident_id, inc.label AS incident_label,
           inc.status AS incident_status, inc.kind AS incident_kind,
           tg.ids AS tag_ids, tg.names AS tag_names, tg.colours AS tag_colours
    FROM page
    LEFT JOIN triage.messages AS m
      ON m.workspace_id = page.workspace_id AND m.id = page.last_message_id
    LEFT JOIN triage.users AS u
      ON u.workspace_id = page.workspace_id AND u.id = page.assignee_id
     AND page.claim_expires_at > :now
    LEFT JOIN LATERAL (  -- its incident: an open one before a closed one, then the latest
        SELECT i.id, i.label, i.status, i.kind
        FROM triage.incident_members AS im
        JOIN triage.incidents AS i ON i.workspace_id = im.workspace_id AND i.id = im.incident_id
        WHERE im.workspace_id = page.workspace_id AND im.conversation_id = page.id
        ORDER BY i.status = 'open' DESC, i.last_seen DESC, i.id DESC
        LIMIT 1
    ) AS inc ON true
    LEFT JOIN LATERAL (  -- its tags, by name
        SELECT array_agg(t.id ORDER BY lower(t.name), t.id) AS ids,
               array_agg(t.name ORDER BY lower(t.name), t.id) AS names,
               array_agg(t.colour ORDER BY lower(t.name), t.id) AS colours
        FROM triage.conversation_tags AS ct
        JOIN triage.tags AS t ON t.workspace_id = ct.workspace_id AND t.id = ct.tag_id
        WHERE ct.workspace_id = page.workspace_id AND ct.conversation_id = page.id
    ) AS tg ON true
    ORDER BY {queue_order_by("page")}
    """


@functools.cache
def queue_statement(filters: frozenset[str]) -> TextClause:
    """The queue's statement with only the conditions of the filters given: one statement
    per combination, each with a plan of its own that Postgres can keep (a single statement
    with every filter optional, ``(:x IS NULL OR ...)``, was planned again on every call;
    its generic plan walked every open conversation: 691 ms)."""
    conditions = "".join(f" AND {_QUEUE_FILTERS[name]}" for name in sorted(filters))
    return text(_QUEUE_SQL.format(filters=conditions))


async def queue(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    limit: int,
    now: datetime,
    calendar: Calendar,
    filters: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Open conversations needing an answer in the queue's order (``queue_order_by``), at
    most ``QUEUE_PAGE_MAX``.

    ``filters`` may hold priority (1-4), platform, intent, rank (SLA state), language,
    mine (a user id: conversations that user holds), unassigned (True: nobody holds them),
    channel, incident (an incident id: its conversations) and tag (a tag id: the
    conversations carrying it); a None or False value does not filter. Each row carries its
    incident (id, label, status, kind) or None, and its tags.
    """
    given = {k: v for k, v in (filters or {}).items() if v is not None and v is not False}
    unknown = set(given) - set(_QUEUE_FILTERS)
    if unknown:
        raise ValueError(f"unknown queue filters: {sorted(unknown)}")
    params = {"ws": workspace_id, "limit": min(limit, QUEUE_PAGE_MAX), "now": now, **given}
    params.pop("unassigned", None)
    # Mappings, not Row attributes: on a 50-row page, attribute access cost ~0.9 ms per
    # request (measured), key access ~0.13 ms; this is the desk's hottest read.
    statement = queue_statement(frozenset(given))
    rows = (await conn.execute(statement, params)).mappings().all()
    return [_queue_item(r, now, calendar) for r in rows]


def _time_left(calendar: Calendar, now: datetime, due: datetime) -> int:
    """Business seconds to the deadline (plain time for a team that never closes)."""
    if calendar.always_open:
        return round((due - now).total_seconds())
    return round(business_seconds(calendar, now, due))


def _queue_item(r: Any, now: datetime, calendar: Calendar) -> dict[str, Any]:
    """One queue row as the desk shows it (``r`` a mapping: the hot path, see ``queue``)."""
    return {
        "conversation_id": r["id"],
        "platform": r["platform"],
        "channel": r["channel"],
        "kind": r["kind"],
        "priority": f"P{r['priority']}",
        "intent": r["intent"],
        "abuse": r["abuse"],
        "reasons": list(r["reasons"]),
        "waiting_since": r["waiting_since"],
        "waiting_seconds": (
            max(0, int((now - r["waiting_since"]).total_seconds())) if r["waiting_since"] else 0
        ),
        "language": r["language"],
        "assignee_id": r["assignee_id"]
        if r["claim_expires_at"] and r["claim_expires_at"] > now
        else None,
        "assignee_name": r["assignee_name"],
        "sla": {
            "state": SLA_STATES[r["sla_rank"]],
            "due_at": r["sla_due_at"],
            "time_left_seconds": None
            if r["sla_due_at"] is None
            else _time_left(calendar, now, r["sla_due_at"]),
        },
        "incident": None
        if r["incident_id"] is None
        else {
            "id": r["incident_id"],
            "label": r["incident_label"],
            "status": r["incident_status"],
            "kind": r["incident_kind"],
        },
        "tags": [
            {"id": i, "name": n, "colour": c}
            for i, n, c in zip(
                r["tag_ids"] or (), r["tag_names"] or (), r["tag_colours"] or (), strict=True
            )
        ],
        "latest_message": None
        if r["message_id"] is None
        else {
            "id": r["message_id"],
            "text": r["text"],
            "created_at": r["created_at"],
            "author": {"handle": r["author_handle"], "display_name": r["author_name"]},
        },
    }


async def conversation_exists(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int
) -> bool:
    return await returns_row(
        conn,
        "SELECT 1 FROM triage.conversations WHERE workspace_id = :ws AND id = :id",
        {"ws": workspace_id, "id": conversation_id},
    )


async def conversation_key(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int
) -> tuple[uuid.UUID, int, str, str, str]:
    """What ``lock_conversations`` needs of an existing conversation."""
    row = (
        await conn.execute(
            text(
                "SELECT platform, channel, kind FROM triage.conversations "
                "WHERE workspace_id = :ws AND id = :id"
            ),
            {"ws": workspace_id, "id": conversation_id},
        )
    ).one()
    return (workspace_id, conversation_id, row.platform, row.channel, row.kind)


async def message_kind(conn: AsyncConnection, workspace_id: uuid.UUID, message_id: int) -> str:
    """The kind of a stored message: mention, dm, comment or reply."""
    found = await conn.execute(
        text("SELECT kind FROM triage.messages WHERE workspace_id = :ws AND id = :id"),
        {"ws": workspace_id, "id": message_id},
    )
    return str(found.scalar_one_or_none() or "")


async def conversation_of_message(
    conn: AsyncConnection, workspace_id: uuid.UUID, message_id: int
) -> int:
    """The conversation an existing message belongs to."""
    return int(
        (
            await conn.execute(
                text(
                    "SELECT conversation_id FROM triage.messages "
                    "WHERE workspace_id = :ws AND id = :id"
                ),
                {"ws": workspace_id, "id": message_id},
            )
        ).scalar_one()
    )


# Corrections ------------------------------------------------------------------------------

_CURRENT_LABELS = text(
    """
    SELECT m.id,
           d.intent, d.needs_answer, d.abuse, d.priority,
           (SELECT c.new_value FROM triage.corrections AS c
             WHERE c.workspace_id = m.workspace_id AND c.message_id = m.id AND c.field = :field
             ORDER BY c.created_at DESC, c.id DESC LIMIT 1) AS corrected
    FROM triage.messages AS m
    LEFT JOIN triage.decisions AS d ON d.workspace_id = m.workspace_id AND d.message_id = m.id
    WHERE m.workspace_id = :ws AND m.id = :message
    FOR UPDATE OF m
    """
)
_INSERT_CORRECTION = text(
    """
    INSERT INTO triage.corrections
        (workspace_id, message_id, field, old_value, new_value, user_id, created_at)
    VALUES (:ws, :message, :field, :old, :new, :user, :now)
    RETURNING id
    """
)


async def lock_labels(
    conn: AsyncConnection, workspace_id: uuid.UUID, message_id: int, field: str
) -> Any | None:
    """A message's decided labels and the latest correction of ``field`` (``corrected``),
    its row locked until the transaction ends; None for no such message."""
    return (
        await conn.execute(
            _CURRENT_LABELS, {"ws": workspace_id, "message": message_id, "field": field}
        )
    ).first()


async def insert_correction(conn: AsyncConnection, values: dict[str, Any]) -> int:
    """Store one correction (ws, message, field, old, new, user, now); returns its id."""
    return int((await conn.execute(_INSERT_CORRECTION, values)).scalar_one())


async def correction_rows(
    conn: AsyncConnection, workspace_id: uuid.UUID, message_id: int
) -> Sequence[Any]:
    """A message's correction history, oldest first."""
    return (
        await conn.execute(
            text(
                """
        SELECT workspace_id, id, message_id, field, old_value, new_value, user_id, created_at
        FROM triage.corrections WHERE workspace_id = :ws AND message_id = :message
        ORDER BY created_at, id
        """
            ),
            {"ws": workspace_id, "message": message_id},
        )
    ).all()


_LATEST_CORRECTIONS = text(
    """
    SELECT DISTINCT ON (c.workspace_id, c.message_id, c.field)
           c.workspace_id, c.message_id, c.field, c.new_value, m.text, d.language
    FROM triage.corrections AS c
    JOIN triage.messages AS m ON m.workspace_id = c.workspace_id AND m.id = c.message_id
    LEFT JOIN triage.decisions AS d
      ON d.workspace_id = c.workspace_id AND d.message_id = c.message_id
    WHERE (CAST(:ws AS uuid) IS NULL OR c.workspace_id = CAST(:ws AS uuid))
    ORDER BY c.workspace_id, c.message_id, c.field, c.created_at DESC, c.id DESC
    """
)


async def latest_corrections(
    conn: AsyncConnection, workspace_id: uuid.UUID | None
) -> Sequence[Any]:
    """The latest correction of each corrected field, with the message's text and language
    (``workspace_id`` None: every workspace)."""
    return (await conn.execute(_LATEST_CORRECTIONS, {"ws": workspace_id})).all()
