"""The queue orders by danger, then deadline: an index for that order.

Revision ID: t0010
Revises: t0009

P1 first whatever the clocks say, then earliest deadline first (overdue ones first, the most
overdue on top), priority breaking ties (``services/triage/sla/store.queue_order_by``). The
previous index (SLA state first) is left for the code still running during a rolling
upgrade; a later revision drops it (expand, deploy, contract).
"""

from alembic import op

revision = "t0010"
down_revision = "t0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS conversations_queue_due ON triage.conversations "
        "(workspace_id, (priority <> 1), sla_due_at, priority, waiting_since, id) "
        "WHERE status = 'open' AND needs_answer"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS triage.conversations_queue_due")
