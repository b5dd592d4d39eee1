"""People as use cases: the person behind a conversation (their identities on every platform,
their conversations, notes about them), and the links and notes agents add.

A person is opened from one identity, the author of a conversation (platform + platform id).
Their other identities are the ones agents linked by hand to it, in either direction; their
conversations are those any of these identities wrote in, on every channel of the workspace.
An identity that never wrote in the caller's workspace is no person there (``NoSuchPerson``,
a 404), whatever another workspace holds.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.access.accounts import Caller
from services.triage.access.store import audit
from services.triage.domain.people import NOBODY, PersonKey, first_line
from services.triage.people import store


class NoSuchPerson(LookupError):
    pass


class NoSuchLink(LookupError):
    pass


class NoOne(ValueError):
    """The identity to link names no account (the placeholder of a withheld author)."""


class SamePerson(ValueError):
    """The identity to link is the one the person was opened from."""


async def _known(conn: AsyncConnection, workspace_id: uuid.UUID, key: PersonKey) -> PersonKey:
    """``key`` with the handle its latest message gives; ``NoSuchPerson`` if it never wrote
    (or names no one: a withheld author)."""
    if key.author_id in NOBODY:
        raise NoSuchPerson(key)
    (latest,) = await store.latest_names(conn, workspace_id, [key])
    if latest.author_external_id is None:
        raise NoSuchPerson(key)
    return PersonKey.of(key.platform, key.author_id, latest.author_handle or "")


async def person(conn: AsyncConnection, caller: Caller, key: PersonKey) -> dict[str, Any]:
    """The person's identities (the one opened first), conversations and notes."""
    ws = caller.workspace_id
    me = await _known(conn, ws, key)
    links = await store.links_of(conn, ws, me)
    keys = [me, *(PersonKey(r.platform, r.author_id, r.handle) for r in links)]
    names = await store.latest_names(conn, ws, keys)
    identities = [
        {
            "platform": k.platform,
            "author_id": k.author_id or (n.author_external_id or ""),
            "handle": n.author_handle or k.handle,
            "display_name": n.author_name or "",
            "link": None
            if link is None
            else {"id": link.id, "linked_by": link.linked_by, "linked_at": link.linked_at},
        }
        for k, n, link in zip(keys, names, [None, *links], strict=True)
    ]
    conversations = await store.conversations_of(conn, ws, keys)
    notes = await store.notes_of(conn, ws, keys)
    return {
        "platform": me.platform,
        "author_id": me.author_id,
        "identities": identities,
        "conversations": [
            {
                "id": c.id,
                "platform": c.platform,
                "channel": c.channel,
                "kind": c.kind,
                "status": c.status,
                "started_at": c.started_at,
                "last_at": c.last_at,
                "first_line": first_line(c.first_text),
            }
            for c in conversations
        ],
        "notes": [
            {"id": n.id, "text": n.text, "author_name": n.author_name, "created_at": n.created_at}
            for n in notes
        ],
    }


async def link(
    conn: AsyncConnection, caller: Caller, key: PersonKey, other: PersonKey, now: datetime
) -> tuple[int, bool]:
    """Link ``other`` (an identity given by platform and handle or id) to the person; the
    link's id and whether it is new. The other identity's id or handle is filled in from its
    latest message when it has written to the workspace (so both ways of naming it match)."""
    ws = caller.workspace_id
    me = await _known(conn, ws, key)
    if me.same_as(other):
        raise SamePerson(other)
    if not other.someone:
        raise NoOne(other)
    (seen,) = await store.latest_names(conn, ws, [other])
    if seen.author_external_id is not None:
        other = PersonKey.of(
            other.platform,
            other.author_id or seen.author_external_id,
            other.handle or seen.author_handle or "",
        )
    link_id, created = await store.add_link(conn, ws, me, other, caller.user_id, now)
    if created:
        detail: dict[str, object] = {"link_id": link_id, "platforms": [me.platform, other.platform]}
        await audit(conn, ws, caller.user_id, "person.link", None, detail)
    return link_id, created


async def unlink(conn: AsyncConnection, caller: Caller, key: PersonKey, link_id: int) -> None:
    ws = caller.workspace_id
    me = await _known(conn, ws, key)
    if not await store.remove_link(conn, ws, me, link_id):
        raise NoSuchLink(link_id)
    await audit(conn, ws, caller.user_id, "person.unlink", None, {"link_id": link_id})


async def add_note(
    conn: AsyncConnection, caller: Caller, key: PersonKey, note: str, now: datetime
) -> int:
    """A note about the person, visible to the workspace's agents; its id."""
    ws = caller.workspace_id
    me = await _known(conn, ws, key)
    note_id = await store.add_note(conn, ws, me, note.strip(), caller.user_id, now)
    await audit(conn, ws, caller.user_id, "person.note", None, {"note_id": note_id})
    return note_id
