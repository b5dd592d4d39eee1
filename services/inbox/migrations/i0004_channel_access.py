"""Who may connect channels.

Revision ID: i0004
Revises: i0003

Inbox tokens get a scope: ``ingest`` (a producer's) or ``channels`` (a workspace admin's).
Every token that exists keeps only ``ingest``: connecting channels, which decides where a
workspace's platform credentials are sent, needs a token minted with the ``channels`` scope.
"""

from alembic import op

revision = "i0004"
down_revision = "i0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE inbox.ingest_tokens ADD COLUMN scope text NOT NULL DEFAULT 'ingest' "
        "CHECK (scope IN ('ingest', 'channels'))"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE inbox.ingest_tokens DROP COLUMN scope")
