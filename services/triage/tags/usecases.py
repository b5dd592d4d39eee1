"""Tags: leads define them, agents put them on conversations; each change audited and sent
to the desks (the change log) so every open queue and conversation shows it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.access.accounts import Caller
from services.triage.access.store import audit
from services.triage.news import store as changes
from services.triage.tags import store
from services.triage.tags.store import NameTaken

CHANGE = "tags"
__all__ = ["NameTaken", "NoSuchConversation", "NoSuchTag"]


class NoSuchTag(LookupError):
    pass


class NoSuchConversation(LookupError):
    pass


async def create(conn: AsyncConnection, caller: Caller, name: str, colour: str) -> dict[str, Any]:
    """The new tag (``NameTaken`` when the workspace has one of that name)."""
    tag = await store.create_tag(conn, caller.workspace_id, caller.user_id, name.strip(), colour)
    detail: dict[str, object] = {"tag_id": tag["id"]}
    await audit(conn, caller.workspace_id, caller.user_id, "tag.create", None, detail)
    return tag


async def change(
    conn: AsyncConnection, caller: Caller, tag_id: int, name: str, colour: str
) -> dict[str, Any]:
    """Rename and recolour a tag; the desks show it on every conversation that carries it."""
    ws = caller.workspace_id
    tag = await store.update_tag(conn, ws, tag_id, name.strip(), colour)
    if tag is None:
        raise NoSuchTag(tag_id)
    await audit(conn, ws, caller.user_id, "tag.change", None, {"tag_id": tag_id})
    await changes.record(conn, await store.carriers(conn, ws, tag_id), CHANGE)
    return tag


async def delete(conn: AsyncConnection, caller: Caller, tag_id: int) -> int:
    """Remove a tag from the workspace and from every conversation that carried it; how
    many carried it."""
    ws = caller.workspace_id
    tagged = await store.delete_tag(conn, ws, tag_id)
    if tagged is None:
        raise NoSuchTag(tag_id)
    detail: dict[str, object] = {"tag_id": tag_id, "conversations": len(tagged)}
    await audit(conn, ws, caller.user_id, "tag.delete", None, detail)
    await changes.record(conn, [(ws, c) for c in tagged], CHANGE)
    return len(tagged)


async def _check(conn: AsyncConnection, ws: uuid.UUID, conversation_id: int, tag_id: int) -> None:
    has_conversation, has_tag = await store.both_exist(conn, ws, conversation_id, tag_id)
    if not has_conversation:
        raise NoSuchConversation(conversation_id)
    if not has_tag:
        raise NoSuchTag(tag_id)


async def put_on(
    conn: AsyncConnection, caller: Caller, conversation_id: int, tag_id: int
) -> list[dict[str, Any]]:
    """Tag a conversation (again: no change); its tags afterwards."""
    ws = caller.workspace_id
    await _check(conn, ws, conversation_id, tag_id)
    if await store.put_tag(conn, ws, conversation_id, tag_id, caller.user_id):
        await audit(conn, ws, caller.user_id, "tag.put", conversation_id, {"tag_id": tag_id})
        await changes.record(conn, [(ws, conversation_id)], CHANGE)
    return await store.tags_of(conn, ws, conversation_id)


async def take_off(
    conn: AsyncConnection, caller: Caller, conversation_id: int, tag_id: int
) -> list[dict[str, Any]]:
    """Untag a conversation (one without the tag: no change); its tags afterwards."""
    ws = caller.workspace_id
    await _check(conn, ws, conversation_id, tag_id)
    if await store.take_tag(conn, ws, conversation_id, tag_id):
        await audit(conn, ws, caller.user_id, "tag.take", conversation_id, {"tag_id": tag_id})
        await changes.record(conn, [(ws, conversation_id)], CHANGE)
    return await store.tags_of(conn, ws, conversation_id)
