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

from services.infra.schema_changes import create_index, primary_key, reversible, undo

revision = "e0002"
down_revision = "e0001"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    primary_key("events.outbox", "workspace_id, id", before="id"),
    primary_key("events.dead_letter", "workspace_id, id", before="id"),
    create_index(
        "CREATE INDEX outbox_claim_by_workspace ON events.outbox (consumer, workspace_id, id)"
    ),
    undo(create_index("CREATE INDEX outbox_claim ON events.outbox (consumer, id)")),
)
