"""The queue orders by danger, then deadline: an index for that order.

Revision ID: t0010
Revises: t0009

P1 first whatever the clocks say, then earliest deadline first (overdue ones first, the most
overdue on top), priority breaking ties (``services/triage/sla/store.queue_order_by``). The
previous index (SLA state first) is left for the code still running during a rolling
upgrade; a later revision drops it (expand, deploy, contract).
"""

from services.infra.schema_changes import create_index, reversible

revision = "t0010"
down_revision = "t0009"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    create_index(
        "CREATE INDEX IF NOT EXISTS conversations_queue_due ON triage.conversations "
        "(workspace_id, (priority <> 1), sla_due_at, priority, waiting_since, id) "
        "WHERE status = 'open' AND needs_answer"
    )
)
