"""Moderation on the platform: a lead's hide / unhide / delete of a comment, carried out once.

Revision ID: i0005
Revises: i0004

A ``moderation.requested`` event becomes one row per ``action_id`` (its idempotency key); the
moderation loop claims due rows like reply deliveries and reports ``moderation.settled``. The
rows hold ids only, never the comment's words, so erasure has nothing to blank here.
"""

from alembic import op

revision = "i0005"
down_revision = "i0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
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
    )
    op.execute(
        "CREATE INDEX moderations_due ON inbox.moderations (next_attempt_at) "
        "WHERE state IN ('queued', 'sending')"
    )
    op.execute(
        "INSERT INTO events.subscription (topic, consumer) VALUES "
        "('moderation.requested', 'inbox') ON CONFLICT DO NOTHING"
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM events.subscription WHERE consumer = 'inbox' "
        "AND topic = 'moderation.requested'"
    )
    op.execute("DROP TABLE inbox.moderations")
