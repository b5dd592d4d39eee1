"""Agents' corrections of triage decisions: which field, from what to what, who, when.

Revision ID: t0003
Revises: t0004d

(Planned on t0002; the desk's t0003d and t0004d landed first, so this one follows them to
keep one head on the triage branch: ``triage@head`` must name a single revision.)
"""

from services.infra.schema_changes import create_index, create_table, reversible

revision = "t0003"
down_revision = "t0004d"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    create_table(
        """
        CREATE TABLE triage.corrections (
            workspace_id uuid NOT NULL,
            id           bigint GENERATED ALWAYS AS IDENTITY,
            message_id   bigint NOT NULL,
            field        text NOT NULL
                         CHECK (field IN ('intent', 'needs_answer', 'abuse', 'priority')),
            old_value    text,
            new_value    text NOT NULL,
            user_id      uuid NOT NULL,
            created_at   timestamptz NOT NULL,
            PRIMARY KEY (workspace_id, id),
            FOREIGN KEY (workspace_id, message_id) REFERENCES triage.messages (workspace_id, id),
            FOREIGN KEY (workspace_id, user_id) REFERENCES triage.users (workspace_id, id)
        )
        """
    ),
    create_index(
        "CREATE INDEX corrections_message ON triage.corrections "
        "(workspace_id, message_id, field, created_at, id)"
    ),
)
