"""Meta private replies: a reply to a Facebook/Instagram comment sent as a message instead.

Revision ID: i0009
Revises: i0008

``private`` is true when the agent chose Meta's private reply to a comment (``POST
/{page-id}/messages`` with ``recipient.comment_id``: one per comment, within 7 days of it)
rather than a public reply under the comment.
"""

from services.infra.schema_changes import add_columns, reversible

revision = "i0009"
down_revision = "i0008"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    add_columns("inbox.deliveries", "private boolean NOT NULL DEFAULT false")
)
