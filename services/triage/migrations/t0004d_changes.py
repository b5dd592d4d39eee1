"""Desk: a change log for live updates; each stopped clock keeps its business time.

Revision ID: t0004d
Revises: t0003d
"""

from services.infra.schema_changes import add_columns, create_index, create_table, reversible

revision = "t0004d"
down_revision = "t0003d"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    create_table(
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
    ),
    create_index("CREATE INDEX changes_recent ON triage.changes (workspace_id, at)"),
    add_columns("triage.sla_clocks", "elapsed_seconds double precision"),
)
