"""Replies: who got a saved reply word for word.

Revision ID: t0019
Revises: t0018

A reply that starts from a saved reply and keeps its text word for word is refused when that
saved reply already went word for word to another person (issue 18); the check reads the
replies of one saved reply sent unchanged, which this partial index finds without reading
the workspace's other replies.
"""

from services.infra.schema_changes import create_index, reversible

revision = "t0019"
down_revision = "t0018"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    create_index(
        "CREATE INDEX replies_saved_unchanged ON triage.replies (workspace_id, saved_reply_id) "
        "WHERE unchanged_saved AND saved_reply_id IS NOT NULL"
    )
)
