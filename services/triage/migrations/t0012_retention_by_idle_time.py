"""Retention finds idle conversations through an index on their last activity.

Revision ID: t0012
Revises: t0011

The retention batch asked for "not purged, last active before the cut-off" in id order, so
it read the whole workspace on every call even with nothing to purge (194-246 ms at 648k
conversations). Ordered by last activity over this index, a call reads only what it purges.
"""

from services.infra.schema_changes import create_index, reversible

revision = "t0012"
down_revision = "t0011"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    create_index(
        "CREATE INDEX IF NOT EXISTS conversations_idle ON triage.conversations "
        "(workspace_id, (greatest(last_inbound_at, last_outbound_at, updated_at)), id) "
        "WHERE purged_at IS NULL"
    )
)
