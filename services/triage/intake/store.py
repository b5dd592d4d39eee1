"""SQL of the triage schema. Every statement names the workspace."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.auth import token_digest
from services.triage.domain.calendar import Calendar, business_seconds
from services.triage.domain.conversation import ConversationState


async def create_workspace(
    conn: AsyncConnection, name: str, workspace_id: uuid.UUID | None = None
) -> uuid.UUID:
    workspace_id = workspace_id or uuid.uuid4()
    await conn.execute(
        text(
            "INSERT INTO triage.workspaces (id, name) VALUES (:id, :name) "
            "ON CONFLICT (id) DO NOTHING"
        ),
        {"id": workspace_id, "name": name},
    )
    return workspace_id


async def create_user(
    conn: AsyncConnection, workspace_id: uuid.UUID, email: str, display_name: str, role: str
) -> uuid.UUID:
    """Create the user, or return the existing one with that e-mail in the workspace."""
    row = (
        await conn.execute(
            text(
                """
        INSERT INTO triage.users (workspace_id, id, email, display_name, role)
        VALUES (:ws, :id, :email, :name, :role)
        ON CONFLICT (workspace_id, lower(email)) DO UPDATE SET role = EXCLUDED.role
        RETURNING id
        """
            ),
            {
                "ws": workspace_id,
                "id": uuid.uuid4(),
                "email": email,
                "name": display_name,
                "role": role,
            },
        )
    ).one()
    return uuid.UUID(str(row.id))


async def create_api_token(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, token: str, name: str
) -> None:
    await conn.execute(
        text(
            "INSERT INTO triage.api_tokens (digest, workspace_id, user_id, name) "
            "VALUES (:digest, :ws, :user, :name) ON CONFLICT (digest) DO NOTHING"
        ),
        {"digest": token_digest(token), "ws": workspace_id, "user": user_id, "name": name},
    )


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


_INSERT_MESSAGES = text(
    """
    INSERT INTO triage.messages (workspace_id, id, conversation_id, direction, kind,
                                 author_handle, author_external_id, author_name, text,
                                 created_at, received_at, erased_at)
    SELECT * FROM unnest(CAST(:ws AS uuid[]), CAST(:ids AS bigint[]),
                         CAST(:conversation_ids AS bigint[]), CAST(:directions AS text[]),
                         CAST(:kinds AS text[]), CAST(:handles AS text[]),
                         CAST(:author_ids AS text[]), CAST(:names AS text[]),
                         CAST(:texts AS text[]), CAST(:created AS timestamptz[]),
                         CAST(:received AS timestamptz[]), CAST(:erased AS timestamptz[]))
    ON CONFLICT (workspace_id, id) DO NOTHING
    RETURNING workspace_id, id
    """
)


async def insert_messages(conn: AsyncConnection, rows: list[dict[str, Any]]) -> set[StateKey]:
    """Insert messages; return the keys that were new (an event seen twice changes nothing).

    ``erased`` is None, or the time of a tombstone's erasure (its content already blank)."""
    if not rows:
        return set()
    params = {name: [r[name] for r in rows] for name in rows[0]}
    inserted = (await conn.execute(_INSERT_MESSAGES, params)).all()
    return {(r.workspace_id, r.id) for r in inserted}


_INSERT_DECISIONS = text(
    """
    INSERT INTO triage.decisions (workspace_id, message_id, needs_answer, intent, abuse,
                                  language, priority, confidence, reasons, model_version,
                                  decided_at)
    SELECT ws, id, needs_answer, intent, abuse, language, priority, confidence,
           string_to_array(reasons, E'\\x1f'), model_version, decided_at
    FROM unnest(CAST(:ws AS uuid[]), CAST(:ids AS bigint[]), CAST(:needs_answer AS boolean[]),
                CAST(:intents AS text[]), CAST(:abuse AS boolean[]), CAST(:languages AS text[]),
                CAST(:priorities AS smallint[]), CAST(:confidences AS real[]),
                CAST(:reasons AS text[]), CAST(:versions AS text[]),
                CAST(:decided AS timestamptz[]))
         AS d(ws, id, needs_answer, intent, abuse, language, priority, confidence, reasons,
              model_version, decided_at)
    ON CONFLICT (workspace_id, message_id) DO NOTHING
    """
)


async def insert_decisions(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(_INSERT_DECISIONS, {name: [r[name] for r in rows] for name in rows[0]})


_UPDATE_CONVERSATIONS = text(
    """
    UPDATE triage.conversations AS c SET
        status = u.status, needs_answer = u.needs_answer, priority = u.priority,
        intent = u.intent, abuse = u.abuse, reasons = string_to_array(u.reasons, E'\\x1f'),
        waiting_since = u.waiting_since, last_inbound_at = u.last_inbound_at,
        last_outbound_at = u.last_outbound_at, last_message_id = u.last_message_id,
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


_QUEUE = text(
    """
    WITH page AS (
        SELECT c.workspace_id, c.id, c.platform, c.channel, c.kind, c.priority, c.intent,
               c.abuse, c.reasons, c.waiting_since, c.sla_rank, c.sla_due_at, c.assignee_id,
               c.claim_expires_at, m.id AS message_id, m.text, m.author_handle, m.author_name,
               m.created_at, d.language, u.display_name AS assignee_name
        FROM triage.conversations AS c
        LEFT JOIN triage.messages AS m
          ON m.workspace_id = c.workspace_id AND m.id = c.last_message_id
        LEFT JOIN triage.decisions AS d
          ON d.workspace_id = m.workspace_id AND d.message_id = m.id
        LEFT JOIN triage.users AS u
          ON u.workspace_id = c.workspace_id AND u.id = c.assignee_id
         AND c.claim_expires_at > :now
        WHERE c.workspace_id = :ws AND c.status = 'open' AND c.needs_answer
          AND (CAST(:priority AS smallint) IS NULL OR c.priority = CAST(:priority AS smallint))
          AND (CAST(:platform AS text) IS NULL OR c.platform = CAST(:platform AS text))
          AND (CAST(:intent AS text) IS NULL OR c.intent = CAST(:intent AS text))
          AND (CAST(:rank AS smallint) IS NULL OR c.sla_rank = CAST(:rank AS smallint))
          AND (CAST(:language AS text) IS NULL OR d.language = CAST(:language AS text))
          AND (CAST(:mine AS uuid) IS NULL
               OR (c.assignee_id = CAST(:mine AS uuid) AND c.claim_expires_at > :now))
          AND (CAST(:incident AS bigint) IS NULL OR EXISTS (
               SELECT 1 FROM triage.incident_members AS f
               WHERE f.workspace_id = c.workspace_id AND f.conversation_id = c.id
                 AND f.incident_id = CAST(:incident AS bigint)))
        ORDER BY c.sla_rank, c.priority, c.sla_due_at NULLS LAST, c.waiting_since, c.id
        LIMIT :limit
    )
    -- The incident is looked up for the page only, not for every waiting conversation.
    SELECT page.*, inc.id AS incident_id, inc.label AS incident_label,
           inc.status AS incident_status, inc.kind AS incident_kind
    FROM page
    LEFT JOIN LATERAL (  -- its incident: an open one before a closed one, then the latest
        SELECT i.id, i.label, i.status, i.kind
        FROM triage.incident_members AS im
        JOIN triage.incidents AS i ON i.workspace_id = im.workspace_id AND i.id = im.incident_id
        WHERE im.workspace_id = page.workspace_id AND im.conversation_id = page.id
        ORDER BY i.status = 'open' DESC, i.last_seen DESC, i.id DESC
        LIMIT 1
    ) AS inc ON true
    ORDER BY page.sla_rank, page.priority, page.sla_due_at NULLS LAST, page.waiting_since,
             page.id
    """
)


SLA_STATES = {0: "breached", 1: "at_risk", 2: "ok", 3: "paused", 4: "none"}


async def queue(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    limit: int,
    now: datetime,
    calendar: Calendar,
    filters: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Open conversations needing an answer: breached, at risk, ok; then priority, deadline.

    ``filters`` may hold priority (1-4), platform, intent, rank (SLA state), language and
    mine (a user id: conversations that user holds) and incident (an incident id: its
    conversations). Each row carries its incident (id, label, status, kind) or None.
    """
    wanted = {
        "priority": None,
        "platform": None,
        "intent": None,
        "rank": None,
        "language": None,
        "mine": None,
        "incident": None,
        **(filters or {}),
    }
    # Mappings, not Row attributes: on a 50-row page, attribute access cost ~0.9 ms per
    # request (measured), key access ~0.13 ms; this is the desk's hottest read.
    rows = (
        (await conn.execute(_QUEUE, {"ws": workspace_id, "limit": limit, "now": now, **wanted}))
        .mappings()
        .all()
    )

    def left(due: datetime) -> int:
        """Business seconds to the deadline (plain time for a team that never closes)."""
        if calendar.always_open:
            return round((due - now).total_seconds())
        return round(business_seconds(calendar, now, due))

    return [
        {
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
                "time_left_seconds": None if r["sla_due_at"] is None else left(r["sla_due_at"]),
            },
            "incident": None
            if r["incident_id"] is None
            else {
                "id": r["incident_id"],
                "label": r["incident_label"],
                "status": r["incident_status"],
                "kind": r["incident_kind"],
            },
            "latest_message": None
            if r["message_id"] is None
            else {
                "id": r["message_id"],
                "text": r["text"],
                "created_at": r["created_at"],
                "author": {"handle": r["author_handle"], "display_name": r["author_name"]},
            },
        }
        for r in rows
    ]
