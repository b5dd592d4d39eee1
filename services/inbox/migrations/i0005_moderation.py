"""Moderation on the platform: a lead's hide / unhide / delete of a comment, carried out once.

Revision ID: i0005
Revises: i0004

A ``moderation.requested`` event becomes one row per ``action_id`` (its idempotency key); the
moderation loop claims due rows like reply deliveries and reports ``moderation.settled``. The
rows hold ids only, never the comment's words, so erasure has nothing to blank here.
"""

from services.infra.schema_changes import create_index, create_table, reversible, subscribe

revision = "i0005"
down_revision = "i0004"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    create_table(
        """
        CREATE TABLE inbox.moderations (
            workspace_id    uuid NOT NULL,
            action_id       uuid NOT NULL,
            conversation_id bigint NOT NULL,
            message_id      bigint NOT NULL,
            channel_id      bigint NOT NULL,
            action          text NOT NULL CHECK (action IN ('hide', 'unhide', 'delete')),
            state           text NOT NULL DEFAULT 'queued'
                            CHECK (state IN ('queued', 'sending', 'done', 'failed')),
            attempts        integer NOT NULL DEFAULT 0,
            failure_reason  text,
            failure_detail  text,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            requested_at    timestamptz NOT NULL,
            updated_at      timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, action_id)
        )
        """
    ),
    create_index(
        "CREATE INDEX moderations_due ON inbox.moderations (next_attempt_at) "
        "WHERE state IN ('queued', 'sending')"
    ),
    subscribe("inbox", "moderation.requested"),
)
