"""Triage's event handler: decide what each ingested message needs, update its conversation.

One call handles a claimed batch in the consumer's transaction, set-based: conversations are
locked once (in key order), messages and decisions inserted with ``unnest``, conversations
updated in one statement. A message seen twice (redelivery) changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ecoute.v1 import events_pb2
from services.infra.events import Event, read_payload
from services.triage.desk import store as desk
from services.triage.desk.store import (
    StateKey,
    join_reasons,
    lock_conversations,
    save_conversations,
)
from services.triage.domain import automation, clock_rules
from services.triage.domain.clock_rules import Change, Clocks
from services.triage.domain.conversation import (
    ConversationState,
    MessageVerdict,
    after_inbound,
    after_outbound,
    is_repeat_contact,
    thread_before,
    waited_seconds,
)
from services.triage.domain.privacy import counts_for_conversation
from services.triage.domain.sla import Policy
from services.triage.domain.triage import Decision, decide
from services.triage.incidents import signals as incident_signals
from services.triage.incidents import store as incident_store
from services.triage.intake.store import insert_decisions, insert_messages, last_brand_messages
from services.triage.moderation.usecases import SETTLED, apply_moderation_news
from services.triage.news import store as desk_changes
from services.triage.privacy.store import erased_among, hold_erasure_locks
from services.triage.privacy.usecases import apply_erasure_news
from services.triage.rules import store as rule_store
from services.triage.rules import usecases as rules
from services.triage.rules.usecases import Firing
from services.triage.sla.clocks import OnStop
from services.triage.sla.clocks import save as save_clocks
from services.triage.sla.store import load_policies, lock_running

MESSAGE_INGESTED = "message.ingested"
DELIVERY_TOPICS = ("reply.delivered", "reply.failed")
ERASURE_DONE = "privacy.erasure_done"


async def apply_delivery_news(conn: AsyncConnection, events: list[Event]) -> None:
    """The desk shows each reply's fate: delivered (with the platform's id) or failed (why).

    The clock stops through the message path (inbox stores the delivered reply as an
    outbound message); these events only update the reply's state.
    """
    touched: list[tuple[uuid.UUID, int]] = []
    for event in events:
        if event.topic == "reply.delivered":
            done = events_pb2.ReplyDelivered.FromString(event.payload)
            touched.append((event.workspace_id, done.conversation_id))
            await desk.reply_delivered(
                conn, event.workspace_id, uuid.UUID(done.reply_id), done.platform_message_id
            )
        else:
            failed = events_pb2.ReplyFailed.FromString(event.payload)
            touched.append((event.workspace_id, failed.conversation_id))
            await desk.reply_failed(
                conn, event.workspace_id, uuid.UUID(failed.reply_id), failed.reason, failed.detail
            )
    await desk_changes.record(conn, touched, "reply")


OnDecision = Callable[[Decision], None]
OnRuleFired = Callable[[str], None]


async def handle_batch(
    conn: AsyncConnection,
    events: list[Event],
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_decision: OnDecision | None = None,
    on_clock_stop: OnStop | None = None,
    on_erasure: Callable[[str], None] | None = None,
    on_rule_fired: OnRuleFired | None = None,
) -> None:
    """Apply a batch of events inside the caller's transaction: delivery and moderation news,
    ingested messages, then erasures (after the messages they may cover). A message the inbox
    already erased (its event retried or replayed after the erasure) is stored erased."""
    ingested = [
        read_payload(e, events_pb2.MessageIngested) for e in events if e.topic == MESSAGE_INGESTED
    ]
    erasures = [e for e in events if e.topic == ERASURE_DONE]
    await hold_erasure_locks(
        conn, [uuid.UUID(m.workspace_id) for m in ingested], [e.workspace_id for e in erasures]
    )
    await apply_delivery_news(conn, [e for e in events if e.topic in DELIVERY_TOPICS])
    await apply_moderation_news(conn, [e for e in events if e.topic == SETTLED])
    if ingested:
        hooks = _Hooks(on_decision, on_clock_stop, on_rule_fired)
        await _triage_messages(conn, ingested, now, hooks)
    if erasures:
        await apply_erasure_news(conn, erasures, now(), on_erasure)


def _key(m: events_pb2.MessageIngested) -> tuple[uuid.UUID, int]:
    return uuid.UUID(m.workspace_id), m.message_id


def _message_row(m: events_pb2.MessageIngested, erased_at: datetime | None) -> dict[str, Any]:
    """The message as triage stores it; with ``erased_at``, a tombstone without its words
    and author (the inbox erased them before this event was applied)."""
    erased = erased_at is not None
    author = m.message.author
    return {
        "ws": uuid.UUID(m.workspace_id),
        "ids": m.message_id,
        "conversation_ids": m.conversation_id,
        "directions": m.message.direction or "in",
        "kinds": m.message.kind,
        "handles": "" if erased else author.handle,
        "author_ids": "" if erased else author.external_id,
        "names": "" if erased else author.display_name,
        "texts": "" if erased else m.message.text,
        "created": m.message.created_at.ToDatetime(UTC),
        "received": m.received_at.ToDatetime(UTC),
        "erased": erased_at,
        "held": m.message.held,
    }


def _conversation_row(m: events_pb2.MessageIngested) -> tuple[uuid.UUID, int, str, str, str]:
    """What ``lock_conversations`` needs to create the message's conversation if it is new."""
    kind = "dm" if m.message.kind == "dm" else "public"
    return (
        uuid.UUID(m.workspace_id),
        m.conversation_id,
        m.message.platform,
        m.message.channel,
        kind,
    )


@dataclass(frozen=True, slots=True)
class _Hooks:
    """What the caller counts: decisions, clock stops, rules fired (by action kind)."""

    on_decision: OnDecision | None = None
    on_clock_stop: OnStop | None = None
    on_rule_fired: OnRuleFired | None = None


async def _rule_context(
    conn: AsyncConnection, ingested: list[events_pb2.MessageIngested]
) -> _RuleContext:
    """The workspaces' enabled rules, and (only when there are some) the facts their
    conditions read beyond the message: authors seen before, conversations in an incident."""
    found = await rules.load(conn, [uuid.UUID(m.workspace_id) for m in ingested])
    if not found:
        return _RuleContext()
    ruled = [m for m in ingested if uuid.UUID(m.workspace_id) in found]
    seen = await rule_store.authors_seen_before(
        conn,
        [
            (*_key(m), m.message.author.external_id, m.message.created_at.ToDatetime(UTC))
            for m in ruled
        ],
    )
    keys = sorted({(uuid.UUID(m.workspace_id), m.conversation_id) for m in ruled})
    return _RuleContext(found, seen, await rule_store.in_open_incident(conn, keys))


async def _triage_messages(
    conn: AsyncConnection,
    ingested: list[events_pb2.MessageIngested],
    now: Callable[[], datetime],
    hooks: _Hooks,
) -> None:
    """Store the messages, then apply each new one to its conversation in time order (the
    workspace's rules run right after its triage), then write what changed: one statement
    per step for the whole batch."""
    states = await lock_conversations(conn, [_conversation_row(m) for m in ingested])
    erased = await erased_among(conn, [_key(m) for m in ingested])
    # Read before this batch's messages are stored: its own brand messages come in order below.
    answered = [k for k, s in states.items() if s.last_outbound_at is not None]
    brand_said = await last_brand_messages(conn, answered)
    decided_at = now()
    new = await insert_messages(
        conn, [_message_row(m, decided_at if _key(m) in erased else None) for m in ingested]
    )
    policies = await load_policies(conn, (k[0] for k in states))
    stored_clocks = await lock_running(conn, states)
    batch = _Batch(
        states,
        {k: {kind: s.clock for kind, s in v.items()} for k, v in stored_clocks.items()},
        policies,
        decided_at,
        hooks.on_decision,
        brand_said,
        await _rule_context(conn, ingested),
    )
    for m in sorted(ingested, key=lambda x: (x.message.created_at.ToDatetime(UTC), x.message_id)):
        if _key(m) not in new:
            continue  # already triaged: this event was delivered again
        direction = m.message.direction or "in"
        if not counts_for_conversation(direction, _key(m) in erased):
            continue  # the inbox erased it: a tombstone, nothing to decide on or answer
        if direction == "out":
            batch.outbound(m)
        else:
            batch.inbound(m)
    await insert_decisions(conn, batch.decisions)
    await incident_store.insert_signals(conn, batch.signals)
    await save_conversations(conn, batch.changed)
    await rules.record_firings(conn, batch.firings, hooks.on_rule_fired)
    await desk_changes.record(conn, batch.changed, "message")
    changed_clocks = {k: batch.clocks[k] for k in batch.changed}
    await save_clocks(
        conn, stored_clocks, changed_clocks, policies, decided_at, hooks.on_clock_stop
    )


@dataclass(frozen=True, slots=True)
class _RuleContext:
    """The rules a batch runs, per workspace, and what their conditions read."""

    rules: dict[uuid.UUID, list[automation.Rule]] = field(default_factory=dict)
    seen_before: set[StateKey] = field(default_factory=set)  # message keys
    in_incident: set[StateKey] = field(default_factory=set)  # conversation keys


@dataclass
class _Batch:
    """A batch's conversations and clocks as its messages change them, and the decision and
    signal rows to write; nothing here touches the database."""

    states: dict[StateKey, ConversationState]
    clocks: dict[StateKey, Clocks]
    policies: dict[uuid.UUID, Policy]
    decided_at: datetime
    on_decision: OnDecision | None
    brand_said: dict[StateKey, str]  # the brand's latest message per conversation, as it goes
    ruling: _RuleContext = field(default_factory=_RuleContext)
    changed: dict[StateKey, ConversationState] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)
    firings: list[Firing] = field(default_factory=list)

    def _move(self, key: StateKey, after: ConversationState, change: Change) -> None:
        before = self.states[key]
        self.states[key] = self.changed[key] = after
        self.clocks[key] = clock_rules.apply(
            self.clocks[key], before, after, change, self.policies[key[0]]
        )

    def outbound(self, m: events_pb2.MessageIngested) -> None:
        """An answer the team sent (from the desk or the platform itself)."""
        key = (uuid.UUID(m.workspace_id), m.conversation_id)
        created = m.message.created_at.ToDatetime(UTC)
        before = self.states[key].last_outbound_at
        if before is None or created >= before:
            self.brand_said[key] = m.message.text
        self._move(key, after_outbound(self.states[key], created), Change("outbound", created))

    def inbound(self, m: events_pb2.MessageIngested) -> None:
        """A customer's message: decided, watched by the incident detector if it needs an
        answer or is abusive, and applied to its conversation."""
        key = (uuid.UUID(m.workspace_id), m.conversation_id)
        created = m.message.created_at.ToDatetime(UTC)
        state = self.states[key]
        decision = decide(
            m.message.text,
            kind=m.message.kind,
            repeat_contact=is_repeat_contact(state),
            waited_seconds=waited_seconds(state, self.decided_at),
            thread=thread_before(state, created, self.brand_said.get(key, "")),
        )
        if self.on_decision is not None:
            self.on_decision(decision)
        self.decisions.append(_decision_row(key[0], m.message_id, decision, self.decided_at))
        if decision.needs_answer or decision.abuse:  # what the incident detector watches
            self.signals.append(
                incident_signals.signal_row(
                    key[0],
                    m.message_id,
                    m.conversation_id,
                    text_=m.message.text,
                    handle=m.message.author.handle,
                    platform=m.message.platform,
                    language=decision.language,
                    abuse=decision.abuse,
                    at=created,
                )
            )
        verdict = MessageVerdict(
            message_id=m.message_id,
            created_at=created,
            needs_answer=decision.needs_answer,
            intent=decision.intent,
            abuse=decision.abuse,
            priority=decision.priority,
            reasons=decision.reasons,
        )
        after = self._ruled(m, decision, after_inbound(state, verdict))
        self._move(key, after, Change("inbound", created))

    def _ruled(
        self, m: events_pb2.MessageIngested, decision: Decision, after: ConversationState
    ) -> ConversationState:
        """The conversation once the workspace's rules have run on the decided message (the
        firings kept for the intake to write and audit)."""
        ws = uuid.UUID(m.workspace_id)
        found = self.ruling.rules.get(ws)
        if not found:
            return after
        subject = automation.Subject(
            text=m.message.text,
            intent=decision.intent,
            language=decision.language,
            platform=m.message.platform,
            channel=m.message.channel,
            priority=after.priority,
            abuse=after.abuse,
            author_seen_before=(ws, m.message_id) in self.ruling.seen_before,
            in_incident=(ws, m.conversation_id) in self.ruling.in_incident,
        )
        effects = automation.evaluate(found, subject, self.decided_at)
        self.firings += [Firing(ws, m.conversation_id, m.message_id, e) for e in effects]
        return automation.apply(after, effects)


def _decision_row(
    workspace_id: uuid.UUID, message_id: int, decision: Decision, decided_at: datetime
) -> dict[str, Any]:
    return {
        "ws": workspace_id,
        "ids": message_id,
        "needs_answer": decision.needs_answer,
        "intents": decision.intent,
        "abuse": decision.abuse,
        "languages": decision.language,
        "priorities": decision.priority,
        "confidences": decision.confidence,
        "reasons": join_reasons(decision.reasons),
        "versions": decision.model_version,
        "decided": decided_at,
    }
