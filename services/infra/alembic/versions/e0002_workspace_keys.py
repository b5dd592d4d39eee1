"""The workspace in the event tables' keys, so Citus can distribute them by workspace.

Revision ID: e0002
Revises: e0001

Citus enforces a primary key only when it holds the distribution column (``workspace_id``),
and locks rows (``FOR UPDATE SKIP LOCKED``) only in a query routed to one shard. The outbox
and dead letters were keyed by ``id`` alone and claimed across workspaces; now their keys
start with ``workspace_id`` and the claim index lets a consumer find the next workspace with
work and claim that workspace's rows in id order. Existing rows keep their ids (the identity
stays), so nothing in flight is lost. ``events.subscription`` stays as it is: a reference
table (small, read by every publish, copied to every node).
"""

from alembic import op

revision = "e0002"
down_revision = "e0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("outbox", "dead_letter"):
        op.execute(f"ALTER TABLE events.{table} DROP CONSTRAINT {table}_pkey")
        op.execute(f"ALTER TABLE events.{table} ADD PRIMARY KEY (workspace_id, id)")
    op.execute(
        "CREATE INDEX outbox_claim_by_workspace ON events.outbox (consumer, workspace_id, id)"
    )
    op.execute("DROP INDEX events.outbox_claim")


def downgrade() -> None:
    op.execute("CREATE INDEX outbox_claim ON events.outbox (consumer, id)")
    op.execute("DROP INDEX events.outbox_claim_by_workspace")
    for table in ("outbox", "dead_letter"):
        op.execute(f"ALTER TABLE events.{table} DROP CONSTRAINT {table}_pkey")
        op.execute(f"ALTER TABLE events.{table} ADD PRIMARY KEY (id)")
