"""When the inbox last asked a platform for an author's name.

Revision ID: i0007
Revises: i0006

Messenger and Instagram webhooks carry ids without names: the inbox asks Meta's User Profile
APIs once and keeps the answer on the author (``handle``, ``display_name``), with the time it
asked, so the next message of the same person costs no call until the name is old enough to
refresh. An erasure blanks the name and this time with it.
"""

from alembic import op

revision = "i0007"
down_revision = "i0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE inbox.authors ADD COLUMN profile_checked_at timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE inbox.authors DROP COLUMN profile_checked_at")
