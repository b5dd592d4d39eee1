"""Moderation on the platform: the hide / unhide / delete a lead (or a rule) asked for.

Revision ID: t0017
Revises: t0016

One row per requested action (its id is the inbox's idempotency key), ``requested`` until
the inbox reports ``moderation.settled``: ``done`` when the platform confirmed, ``failed``
with a bounded reason and the platform's words otherwise. The desk shows each message's
latest action; who asked is in the row and in the audit log.
"""

from services.infra.schema_changes import create_index, create_table, reversible, subscribe

revision = "t0017"
down_revision = "t0016"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    create_table(
        """
        CREATE TABLE triage.moderations (
            workspace_id    uuid NOT NULL,
            id              uuid NOT NULL,
            conversation_id bigint NOT NULL,
            message_id      bigint NOT NULL,
            action          text NOT NULL CHECK (action IN ('hide', 'unhide', 'delete')),
            state           text NOT NULL DEFAULT 'requested'
                            CHECK (state IN ('requested', 'done', 'failed')),
            requested_by    uuid,
            reason          text NOT NULL DEFAULT '',
            failure_reason  text,
            failure_detail  text,
            requested_at    timestamptz NOT NULL,
            updated_at      timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, id)
        )
        """
    ),
    create_index(
        "CREATE INDEX moderations_message ON triage.moderations "
        "(workspace_id, message_id, requested_at)"
    ),
    subscribe("triage", "moderation.settled"),
)
