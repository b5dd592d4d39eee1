"""Data protection: author erasure, export and retention (triage side).

Revision ID: t0007
Revises: t0006
"""

from alembic import op

revision = "t0007"
down_revision = "t0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")  # placeholder: filled in by its issue


def downgrade() -> None:
    op.execute("SELECT 1")
