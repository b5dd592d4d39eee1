"""Data protection: the inbox messages an erasure removed, remembered by triage.

Revision ID: t0008
Revises: t0007

Triage keeps its own erased messages as tombstone rows, but a message the inbox erased may
reach triage only later (its ``message.ingested`` event failed and is being retried, or is
replayed). This table holds the ids the inbox reported erased, so the consumer stores such a
message as a tombstone instead of its text. Ids and a time only: nothing of the person.
"""

from services.infra.schema_changes import create_table, reversible

revision = "t0008"
down_revision = "t0007"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    create_table(
        """
        CREATE TABLE triage.erased_messages (
            workspace_id uuid NOT NULL REFERENCES triage.workspaces (id),
            message_id   bigint NOT NULL,
            erased_at    timestamptz NOT NULL,
            PRIMARY KEY (workspace_id, message_id)
        )
        """
    )
)
