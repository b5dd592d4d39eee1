"""SQL of rules: a workspace's rules, and what the intake reads and writes when they fire."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.db import first_row

StateKey = tuple[uuid.UUID, int]


class NameTaken(Exception):
    """Another rule of the workspace has this name (whatever its case)."""


_COLUMNS = "id, name, position, enabled, conditions, actions"


def _rule(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "position": r.position,
        "enabled": r.enabled,
        "when": r.conditions,
        "then": r.actions,
    }


def _values(workspace_id: uuid.UUID, rule: dict[str, Any]) -> dict[str, Any]:
    return {
        "ws": workspace_id,
        "name": rule["name"],
        "position": rule["position"],
        "enabled": rule["enabled"],
        "conditions": orjson.dumps(rule["when"]).decode(),
        "actions": orjson.dumps(rule["then"]).decode(),
    }


async def list_rules(conn: AsyncConnection, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    """The workspace's rules in the order they run."""
    rows = await conn.execute(
        text(f"SELECT {_COLUMNS} FROM triage.rules WHERE workspace_id = :ws ORDER BY position, id"),
        {"ws": workspace_id},
    )
    return [_rule(r) for r in rows]


async def create_rule(
    conn: AsyncConnection, workspace_id: uuid.UUID, user_id: uuid.UUID, rule: dict[str, Any]
) -> dict[str, Any]:
    """The new rule; ``NameTaken`` when the workspace has one of that name."""
    row = await first_row(
        conn,
        "INSERT INTO triage.rules "
        "(workspace_id, name, position, enabled, conditions, actions, created_by) "
        "VALUES (:ws, :name, :position, :enabled, CAST(:conditions AS jsonb), "
        "        CAST(:actions AS jsonb), :user) "
        f"ON CONFLICT (workspace_id, lower(name)) DO NOTHING RETURNING {_COLUMNS}",
        {**_values(workspace_id, rule), "user": user_id},
    )
    if row is None:
        raise NameTaken(rule["name"])
    return _rule(row)


async def replace_rule(
    conn: AsyncConnection, workspace_id: uuid.UUID, rule_id: int, rule: dict[str, Any]
) -> dict[str, Any] | None:
    """The rule as replaced, None when there is no such rule (``NameTaken`` as above)."""
    taken = await conn.execute(
        text(
            "SELECT 1 FROM triage.rules WHERE workspace_id = :ws AND lower(name) = lower(:name) "
            "AND id <> :id"
        ),
        {"ws": workspace_id, "name": rule["name"], "id": rule_id},
    )
    if taken.first() is not None:
        raise NameTaken(rule["name"])
    row = await first_row(
        conn,
        "UPDATE triage.rules SET name = :name, position = :position, enabled = :enabled, "
        "conditions = CAST(:conditions AS jsonb), actions = CAST(:actions AS jsonb), "
        f"updated_at = now() WHERE workspace_id = :ws AND id = :id RETURNING {_COLUMNS}",
        {**_values(workspace_id, rule), "id": rule_id},
    )
    return _rule(row) if row else None


async def delete_rule(conn: AsyncConnection, workspace_id: uuid.UUID, rule_id: int) -> bool:
    gone = await conn.execute(
        text("DELETE FROM triage.rules WHERE workspace_id = :ws AND id = :id RETURNING id"),
        {"ws": workspace_id, "id": rule_id},
    )
    return gone.first() is not None


# ---- what the intake reads when rules run ---------------------------------------------------


async def enabled_rules(
    conn: AsyncConnection, workspace_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The enabled rules of each workspace, in order; each action of kind "tag" carries its
    tag's name (a deleted tag: no name, and the intake's insert skips it)."""
    rows = await conn.execute(
        text(
            f"SELECT workspace_id, {_COLUMNS} FROM triage.rules "
            "WHERE workspace_id = ANY(CAST(:ws AS uuid[])) AND enabled ORDER BY position, id"
        ),
        {"ws": sorted(set(workspace_ids))},
    )
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for r in rows:
        found.setdefault(r.workspace_id, []).append(_rule(r))
    if found:
        names = await _tag_names(conn, list(found))
        for ws, rules in found.items():
            for rule in rules:
                for action in rule["then"]:
                    if action["kind"] == "tag":
                        action["tag_name"] = names.get((ws, action["tag_id"]), "")
    return found


async def _tag_names(
    conn: AsyncConnection, workspace_ids: list[uuid.UUID]
) -> dict[tuple[uuid.UUID, int], str]:
    rows = await conn.execute(
        text(
            "SELECT workspace_id, id, name FROM triage.tags "
            "WHERE workspace_id = ANY(CAST(:ws AS uuid[]))"
        ),
        {"ws": workspace_ids},
    )
    return {(r.workspace_id, r.id): r.name for r in rows}


_SEEN_BEFORE = text(
    """
    SELECT k.ws, k.id FROM unnest(CAST(:ws AS uuid[]), CAST(:ids AS bigint[]),
                                  CAST(:authors AS text[]), CAST(:created AS timestamptz[]))
         AS k(ws, id, author, created)
    WHERE k.author <> '' AND EXISTS (
        SELECT 1 FROM triage.messages AS m
        WHERE m.workspace_id = k.ws AND m.author_external_id = k.author
          AND m.erased_at IS NULL AND m.direction = 'in'
          AND m.created_at < k.created AND m.id <> k.id)
    """
)


async def authors_seen_before(
    conn: AsyncConnection, messages: Sequence[tuple[uuid.UUID, int, str, datetime]]
) -> set[StateKey]:
    """Of (workspace, message id, author id, written at), the messages whose author wrote
    to the workspace before."""
    if not messages:
        return set()
    ws, ids, authors, created = (list(c) for c in zip(*messages, strict=True))
    params = {"ws": ws, "ids": ids, "authors": authors, "created": created}
    return {(r.ws, r.id) for r in await conn.execute(_SEEN_BEFORE, params)}


async def in_open_incident(conn: AsyncConnection, keys: Sequence[StateKey]) -> set[StateKey]:
    """The conversations among ``keys`` that belong to an open incident."""
    if not keys:
        return set()
    rows = await conn.execute(
        text(
            """
            SELECT DISTINCT k.ws, k.cid
            FROM unnest(CAST(:ws AS uuid[]), CAST(:cids AS bigint[])) AS k(ws, cid)
            JOIN triage.incident_members AS im
              ON im.workspace_id = k.ws AND im.conversation_id = k.cid
            JOIN triage.incidents AS i
              ON i.workspace_id = im.workspace_id AND i.id = im.incident_id
            WHERE i.status = 'open'
            """
        ),
        {"ws": [k[0] for k in keys], "cids": [k[1] for k in keys]},
    )
    return {(r.ws, r.cid) for r in rows}


async def set_routes(
    conn: AsyncConnection, routes: Sequence[tuple[uuid.UUID, int, str | None, str | None]]
) -> None:
    """The skill each conversation was routed to: (workspace, conversation, language,
    channel); a None leaves that part as it was."""
    if not routes:
        return
    ws, cids, languages, channels = (list(c) for c in zip(*routes, strict=True))
    await conn.execute(
        text(
            """
            UPDATE triage.conversations AS c
            SET route_language = coalesce(u.language, c.route_language),
                route_channel = coalesce(u.channel, c.route_channel)
            FROM unnest(CAST(:ws AS uuid[]), CAST(:cids AS bigint[]),
                        CAST(:languages AS text[]), CAST(:channels AS text[]))
                 AS u(ws, cid, language, channel)
            WHERE c.workspace_id = u.ws AND c.id = u.cid
            """
        ),
        {"ws": ws, "cids": cids, "languages": languages, "channels": channels},
    )
