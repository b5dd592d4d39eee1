"""Connectors: polled channels (account, credentials reference, cursor, health), deliveries.

Revision ID: i0002
Revises: i0001
"""

from alembic import op

revision = "i0002"
down_revision = "i0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE inbox.channels
            ADD COLUMN account_id      text NOT NULL DEFAULT '',
            ADD COLUMN base_url        text NOT NULL DEFAULT '',
            ADD COLUMN credentials_ref text NOT NULL DEFAULT '',
            ADD COLUMN polling         boolean NOT NULL DEFAULT false,
            ADD COLUMN poll_seconds    integer NOT NULL DEFAULT 60 CHECK (poll_seconds > 0),
            ADD COLUMN cursor          jsonb NOT NULL DEFAULT '{}',
            ADD COLUMN health          text NOT NULL DEFAULT 'ok'
                CHECK (health IN ('ok', 'rate_limited', 'needs_reauth', 'failing')),
            ADD COLUMN health_detail   text NOT NULL DEFAULT '',
            ADD COLUMN failures        integer NOT NULL DEFAULT 0,
            ADD COLUMN next_poll_at    timestamptz,
            ADD COLUMN lease_until     timestamptz,
            ADD COLUMN last_success_at timestamptz
        """
    )
    op.execute("CREATE INDEX channels_due ON inbox.channels (next_poll_at) WHERE polling")
    op.execute(
        """
        CREATE TABLE inbox.deliveries (
            workspace_id        uuid NOT NULL,
            reply_id            uuid NOT NULL,
            conversation_id     bigint NOT NULL,
            channel_id          bigint NOT NULL,
            in_reply_to_id      bigint NOT NULL,
            agent_id            text NOT NULL DEFAULT '',
            text                text NOT NULL,
            state               text NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'sending', 'delivered', 'failed')),
            attempts            integer NOT NULL DEFAULT 0,
            platform_message_id text,
            failure_reason      text,
            failure_detail      text,
            next_attempt_at     timestamptz NOT NULL DEFAULT now(),
            requested_at        timestamptz NOT NULL,
            updated_at          timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, reply_id)
        )
        """
    )
    op.execute(
        "CREATE INDEX deliveries_due ON inbox.deliveries (next_attempt_at) "
        "WHERE state IN ('queued', 'sending')"
    )
    op.execute(
        "INSERT INTO events.subscription (topic, consumer) VALUES "
        "('reply.requested', 'inbox') ON CONFLICT DO NOTHING"
    )


def downgrade() -> None:
    op.execute("DELETE FROM events.subscription WHERE consumer = 'inbox'")
    op.execute("DROP TABLE inbox.deliveries")
    op.execute("DROP INDEX inbox.channels_due")
    op.execute(
        """
        ALTER TABLE inbox.channels DROP COLUMN account_id, DROP COLUMN base_url,
            DROP COLUMN credentials_ref, DROP COLUMN polling, DROP COLUMN poll_seconds,
            DROP COLUMN cursor, DROP COLUMN health, DROP COLUMN health_detail,
            DROP COLUMN failures, DROP COLUMN next_poll_at, DROP COLUMN lease_until,
            DROP COLUMN last_success_at
        """
    )
