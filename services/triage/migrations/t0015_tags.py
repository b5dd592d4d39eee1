"""Tags: a workspace's own labels, put on conversations by hand.

Revision ID: t0015
Revises: t0014

``tags`` holds each workspace's tags (a name unique per workspace whatever its case, and a
colour from the desk's palette). ``conversation_tags`` says which conversation carries which
tag; its primary key answers "the tags of this conversation", and the second index answers
the queue's "conversations with this tag" (an EXISTS per waiting conversation).
"""

from services.infra.schema_changes import create_index, create_table, reversible

revision = "t0015"
down_revision = "t0014"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    create_table(
        """
        CREATE TABLE triage.tags (
            workspace_id uuid NOT NULL REFERENCES triage.workspaces (id),
            id           bigserial,
            name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 40),
            colour       text NOT NULL,
            created_by   uuid,
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, id)
        )
        """
    ),
    create_index("CREATE UNIQUE INDEX tags_name ON triage.tags (workspace_id, lower(name))"),
    create_table(
        """
        CREATE TABLE triage.conversation_tags (
            workspace_id    uuid NOT NULL,
            conversation_id bigint NOT NULL,
            tag_id          bigint NOT NULL,
            tagged_by       uuid,
            tagged_at       timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, conversation_id, tag_id),
            FOREIGN KEY (workspace_id, conversation_id)
                REFERENCES triage.conversations (workspace_id, id),
            FOREIGN KEY (workspace_id, tag_id)
                REFERENCES triage.tags (workspace_id, id) ON DELETE CASCADE
        )
        """
    ),
    create_index(
        "CREATE INDEX conversation_tags_by_tag "
        "ON triage.conversation_tags (workspace_id, tag_id, conversation_id)"
    ),
)
