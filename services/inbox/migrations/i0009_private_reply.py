"""Meta private replies: a reply to a Facebook/Instagram comment sent as a message instead.

Revision ID: i0009
Revises: i0008

``private`` is true when the agent chose Meta's private reply to a comment (``POST
/{page-id}/messages`` with ``recipient.comment_id``: one per comment, within 7 days of it)
rather than a public reply under the comment.
"""

from alembic import op

revision = "i0009"
down_revision = "i0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE inbox.deliveries ADD COLUMN private boolean NOT NULL DEFAULT false")


def downgrade() -> None:
    op.execute("ALTER TABLE inbox.deliveries DROP COLUMN private")
