"""Desk: a change log for live updates; each stopped clock keeps its business time.

Revision ID: t0004d
Revises: t0003d
"""

from alembic import op

revision = "t0004d"
down_revision = "t0003d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE triage.changes (
            workspace_id    uuid NOT NULL,
            id              bigint GENERATED ALWAYS AS IDENTITY,
            conversation_id bigint NOT NULL,
            change          text NOT NULL,
            at              timestamptz NOT NULL DEFAULT clock_timestamp(),
            PRIMARY KEY (workspace_id, id)
        )
        """
    )
    op.execute("CREATE INDEX changes_recent ON triage.changes (workspace_id, at)")
    op.execute("ALTER TABLE triage.sla_clocks ADD COLUMN elapsed_seconds double precision")


def downgrade() -> None:
    op.execute("ALTER TABLE triage.sla_clocks DROP COLUMN elapsed_seconds")
    op.execute("DROP TABLE triage.changes")
