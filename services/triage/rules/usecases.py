"""Rules: leads write them (validated, audited); the intake runs them on each triaged message
and writes what fired (tags, routes, webhook news, the hide request), each firing audited.

The conditions and actions a rule holds are plain data; ``to_rule`` reads a stored one into
the pure evaluator's ``Rule`` (``services.triage.domain.automation``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.events import publish
from services.triage.access.accounts import Caller
from services.triage.access.store import audit, audit_many
from services.triage.domain.automation import Action, Effect, Rule, When
from services.triage.moderation.usecases import (
    ModerationRefused,
    NoSuchMessage,
    Requester,
    request_moderation,
)
from services.triage.rules import store
from services.triage.rules.store import NameTaken
from services.triage.tags import store as tags

FIRED_TOPIC = "rule.fired"
__all__ = ["FIRED_TOPIC", "NameTaken", "NoSuchRule", "UnknownTag"]


class NoSuchRule(LookupError):
    pass


class UnknownTag(ValueError):
    """An action names a tag the workspace does not have (``index``: which action)."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


async def _check_tags(conn: AsyncConnection, ws: uuid.UUID, rule: dict[str, Any]) -> None:
    known = {t["id"] for t in await tags.list_tags(conn, ws)}
    for i, action in enumerate(rule["then"]):
        if action["kind"] == "tag" and action["tag_id"] not in known:
            raise UnknownTag(i)


async def create(conn: AsyncConnection, caller: Caller, rule: dict[str, Any]) -> dict[str, Any]:
    """The new rule (``UnknownTag``, ``NameTaken`` when it cannot be)."""
    await _check_tags(conn, caller.workspace_id, rule)
    made = await store.create_rule(conn, caller.workspace_id, caller.user_id, rule)
    await audit(
        conn, caller.workspace_id, caller.user_id, "rule.create", None, {"rule_id": made["id"]}
    )
    return made


async def replace(
    conn: AsyncConnection, caller: Caller, rule_id: int, rule: dict[str, Any]
) -> dict[str, Any]:
    """The rule replaced (``NoSuchRule`` first: another workspace's rule is a 404 whatever
    its body; ``UnknownTag`` rolls the caller's transaction back)."""
    changed = await store.replace_rule(conn, caller.workspace_id, rule_id, rule)
    if changed is None:
        raise NoSuchRule(rule_id)
    await _check_tags(conn, caller.workspace_id, rule)
    await audit(
        conn, caller.workspace_id, caller.user_id, "rule.change", None, {"rule_id": rule_id}
    )
    return changed


async def delete(conn: AsyncConnection, caller: Caller, rule_id: int) -> None:
    if not await store.delete_rule(conn, caller.workspace_id, rule_id):
        raise NoSuchRule(rule_id)
    await audit(
        conn, caller.workspace_id, caller.user_id, "rule.delete", None, {"rule_id": rule_id}
    )


# ---- running rules in the intake -----------------------------------------------------------


def _action(raw: dict[str, Any]) -> Action:
    priority = raw.get("priority")
    return Action(
        kind=raw["kind"],
        tag_id=raw.get("tag_id"),
        tag_name=raw.get("tag_name", ""),
        priority=int(priority[1]) if priority else None,
        language=raw.get("language"),
        channel=raw.get("channel"),
        reason=raw.get("reason", ""),
        hide=bool(raw.get("hide", False)),
    )


def to_rule(stored: dict[str, Any]) -> Rule:
    """A stored rule (as the API validated it) as the evaluator reads it."""
    w = stored["when"]
    return Rule(
        id=stored["id"],
        name=stored["name"],
        position=stored["position"],
        enabled=stored["enabled"],
        when=When(
            intents=frozenset(w.get("intents", ())),
            languages=frozenset(w.get("languages", ())),
            platforms=frozenset(w.get("platforms", ())),
            channels=frozenset(w.get("channels", ())),
            priorities=frozenset(int(p[1]) for p in w.get("priorities", ())),
            abuse=w.get("abuse"),
            words=tuple(w.get("words", ())),
            author_seen_before=w.get("author_seen_before"),
            in_incident=w.get("in_incident"),
        ),
        then=tuple(_action(a) for a in stored["then"]),
    )


async def load(
    conn: AsyncConnection, workspace_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Rule]]:
    """The enabled rules of each workspace (absent: none)."""
    found = await store.enabled_rules(conn, workspace_ids)
    return {ws: [to_rule(r) for r in rules] for ws, rules in found.items()}


@dataclass(frozen=True, slots=True)
class Firing:
    """An effect on one conversation, for one message."""

    workspace_id: uuid.UUID
    conversation_id: int
    message_id: int
    effect: Effect


async def hide_on_platform(conn: AsyncConnection, hides: Sequence[Firing]) -> None:
    """Hide abusive comments on their platform: each firing of a ``mark_abuse`` action whose
    ``hide`` is set asks the moderation area, in the intake's transaction, as the rule (its
    name is the reason kept in the audit log). A message the platform cannot hide (a DM, a
    platform without the capability) is left as it is: the firing's own audit entry says the
    rule asked."""
    for f in hides:
        try:
            await request_moderation(
                conn,
                f.workspace_id,
                f.message_id,
                "hide",
                Requester(None, f"rule:{f.effect.rule_name}"),
                f.effect.at,
                conversation_id=f.conversation_id,
            )
        except (ModerationRefused, NoSuchMessage):
            continue


def _fired_payload(f: Firing) -> bytes:
    return orjson.dumps(
        {
            "conversation_id": f.conversation_id,
            "message_id": f.message_id,
            "rule_id": f.effect.rule_id,
            "rule": f.effect.rule_name,
            "fired_at": f.effect.at,
        },
        option=orjson.OPT_UTC_Z,
    )


async def record_firings(
    conn: AsyncConnection,
    firings: Sequence[Firing],
    on_fired: Callable[[str], None] | None = None,
) -> None:
    """Write what the rules did beyond the conversation's own state (tags, routes, webhook
    news, hide requests) and audit every firing, in the intake's transaction."""
    if not firings:
        return
    by_kind: dict[str, list[Firing]] = {}
    audited: list[tuple[uuid.UUID, uuid.UUID | None, str, int | None, dict[str, object]]] = []
    for f in firings:
        by_kind.setdefault(f.effect.action.kind, []).append(f)
        action = f.effect.action
        detail: dict[str, object] = {
            "rule_id": f.effect.rule_id,
            "rule": f.effect.rule_name,
            "kind": action.kind,
            "message_id": f.message_id,
            "reason": f.effect.reason,
        }
        if action.kind == "mark_abuse":
            detail["hide"] = action.hide
        audited.append((f.workspace_id, None, "rule.fired", f.conversation_id, detail))
        if on_fired is not None:
            on_fired(action.kind)
    await audit_many(conn, audited)
    await tags.put_tags_by_rules(
        conn,
        [
            (f.workspace_id, f.conversation_id, f.effect.action.tag_id or 0)
            for f in by_kind.get("tag", [])
        ],
    )
    routes = {
        (f.workspace_id, f.conversation_id): (f.effect.action.language, f.effect.action.channel)
        for f in by_kind.get("route", [])
    }
    await store.set_routes(conn, [(*k, *v) for k, v in sorted(routes.items())])
    notify = by_kind.get("notify", [])
    await publish(
        conn, FIRED_TOPIC, [f.workspace_id for f in notify], [_fired_payload(f) for f in notify]
    )
    await hide_on_platform(conn, [f for f in by_kind.get("mark_abuse", []) if f.effect.action.hide])
