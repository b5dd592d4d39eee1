"""The SLA area's use cases: a lead changes the policy; a conversation's clocks as shown."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.domain.sla import Policy, due_at, retarget, state, time_left
from services.triage.sla import store
from services.triage.sla.clocks import save as save_clocks
from services.triage.sla.policy import policy_document
from services.triage.sla.store import clock_of_row


async def change_policy(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    policy: Policy,
    now: datetime,
) -> dict[str, Any]:
    """Save the policy; running clocks follow its targets and hours at once. Returns the
    stored document."""
    document = policy_document(policy)
    await store.save_policy(conn, workspace_id, document, user_id)
    await _follow_policy(conn, workspace_id, policy, now)
    return document


async def _follow_policy(
    conn: AsyncConnection, workspace_id: uuid.UUID, policy: Policy, now: datetime
) -> None:
    """Running clocks take the new targets (same start) and hours; their conversations are
    locked first, as every path locks them."""
    keys = [
        (workspace_id, c)
        for c in await store.lock_conversations_with_running_clocks(conn, workspace_id)
    ]
    if not keys:
        return
    stored = await store.lock_running(conn, keys)
    after = {
        k: {kind: retarget(s.clock, s.clock.priority, policy) for kind, s in v.items()}
        for k, v in stored.items()
    }
    await save_clocks(conn, stored, after, {workspace_id: policy}, now)


async def conversation_clocks(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    conversation_id: int,
    policy: Policy,
    now: datetime,
) -> list[dict[str, Any]]:
    """Every clock of a conversation: its state under ``policy`` at ``now``, and history."""
    rows = await store.conversation_clocks(conn, workspace_id, conversation_id)
    history = await store.clock_history(conn, workspace_id, [r.id for r in rows])
    clocks = []
    for r in rows:
        clock = clock_of_row(r)
        clocks.append(
            {
                "id": r.id,
                "kind": r.kind,
                "priority": f"P{r.priority}",
                "target_seconds": r.target_seconds,
                "started_at": r.started_at,
                "state": state(clock, policy.calendar, policy.at_risk_ratio, now),
                "due_at": due_at(clock, policy.calendar),
                "time_left_seconds": round(time_left(clock, policy.calendar, now)),
                "paused_since": r.paused_since,
                "stopped_at": r.stopped_at,
                "history": [
                    {"at": h.at, "change": h.change, "state": h.state}
                    for h in history
                    if h.clock_id == r.id
                ],
            }
        )
    return clocks
