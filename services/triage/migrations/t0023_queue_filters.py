"""Every filter of the agents' queue has an index in the queue's order.

Revision ID: t0023
Revises: t0022

``GET /v1/queue`` filters by language, platform, channel, intent, SLA state and priority,
always in the queue's order (``sla/store.queue_order_by``). Only the unfiltered order had an
index (``conversations_queue_due``), so a filter walked the open conversations in that order
until it found a page: all of them when few or none matched (the language filter, read
through the latest message's decision, 71 ms at 100,000 open conversations). Each filter
now has a partial index that starts with the workspace and the filtered column and goes on
in the queue's order, so a page reads its own rows and no more.

The language a conversation is shown in (its latest inbound message's decision) becomes a
column of the conversation, written with ``last_message_id``, so it can be indexed.

The running-clocks gauge (every 15 s) counted running clocks by reading every clock ever
started (a parallel scan of 650,000 clocks for 100,000 running: 137 ms, growing with the
history); a covering partial index of the running ones makes it an index-only scan of what
runs.

The index the queue used before t0010 (SLA state first) is dropped: no statement orders by
it any more (the contract step t0010 announced), and the SLA-state filter has its own.
"""

from alembic import op

revision = "t0023"
down_revision = "t0022"
branch_labels = None
depends_on = None

QUEUE_ORDER = "(priority <> 1), sla_due_at, priority, waiting_since, id"
FILTERED = ("language", "platform", "channel", "intent", "sla_rank", "priority")


def upgrade() -> None:
    op.execute("ALTER TABLE triage.conversations ADD COLUMN language text")
    op.execute(
        "UPDATE triage.conversations AS c SET language = d.language FROM triage.decisions AS d "
        "WHERE d.workspace_id = c.workspace_id AND d.message_id = c.last_message_id"
    )
    for column in FILTERED:
        op.execute(
            f"CREATE INDEX IF NOT EXISTS conversations_queue_by_{column} "
            f"ON triage.conversations (workspace_id, {column}, {QUEUE_ORDER}) "
            "WHERE status = 'open' AND needs_answer"
        )
    op.execute(
        "CREATE INDEX IF NOT EXISTS sla_clocks_running_by_state ON triage.sla_clocks "
        "(kind, priority, state) INCLUDE (paused_since) WHERE stopped_at IS NULL"
    )
    op.execute("DROP INDEX IF EXISTS triage.conversations_queue")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS triage.sla_clocks_running_by_state")
    op.execute(
        "CREATE INDEX IF NOT EXISTS conversations_queue ON triage.conversations "
        "(workspace_id, sla_rank, priority, sla_due_at, waiting_since, id) "
        "WHERE status = 'open' AND needs_answer"
    )
    for column in FILTERED:
        op.execute(f"DROP INDEX IF EXISTS triage.conversations_queue_by_{column}")
    op.execute("ALTER TABLE triage.conversations DROP COLUMN language")
