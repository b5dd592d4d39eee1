"""Data protection: author erasure, export and retention (inbox side).

Revision ID: i0003
Revises: i0002
"""

from alembic import op

revision = "i0003"
down_revision = "i0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")  # placeholder: filled in by its issue


def downgrade() -> None:
    op.execute("SELECT 1")
