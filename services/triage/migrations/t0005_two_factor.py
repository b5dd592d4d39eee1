"""Two-factor sign-in, session expiry and workspace access policy.

Revision ID: t0005
Revises: t0003
"""

from alembic import op

revision = "t0005"
down_revision = "t0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")  # placeholder: filled in by its issue


def downgrade() -> None:
    op.execute("SELECT 1")
