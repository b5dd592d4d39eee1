"""Incidents: bursts of similar problems grouped, with their life cycle.

Revision ID: t0006
Revises: t0005
"""

from alembic import op

revision = "t0006"
down_revision = "t0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")  # placeholder: filled in by its issue


def downgrade() -> None:
    op.execute("SELECT 1")
