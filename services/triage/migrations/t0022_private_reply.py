"""Replies: whether a reply went as Meta's private reply to a comment.

Revision ID: t0022
Revises: t0021

A reply to a Facebook/Instagram comment may be sent as a private message to the commenter
(issue 18); the desk shows which replies went that way.
"""

from alembic import op

revision = "t0022"
down_revision = "t0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE triage.replies ADD COLUMN private boolean NOT NULL DEFAULT false")


def downgrade() -> None:
    op.execute("ALTER TABLE triage.replies DROP COLUMN private")
