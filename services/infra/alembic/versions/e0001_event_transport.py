"""Event transport: per-consumer outbox rows, subscriptions, dead letters.

Revision ID: e0001
Revises:
"""

from alembic import op

revision = "e0001"
down_revision = None
branch_labels = ("events",)
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS events")
    op.execute(
        """
        CREATE TABLE events.subscription (
            topic    text NOT NULL,
            consumer text NOT NULL,
            PRIMARY KEY (topic, consumer)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE events.outbox (
            id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            consumer     text NOT NULL,
            topic        text NOT NULL,
            workspace_id uuid NOT NULL,
            payload      bytea NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            available_at timestamptz NOT NULL DEFAULT now(),
            attempts     integer NOT NULL DEFAULT 0,
            last_error   text
        )
        """
    )
    op.execute("CREATE INDEX outbox_claim ON events.outbox (consumer, id)")
    op.execute(
        """
        CREATE TABLE events.dead_letter (
            id           bigint PRIMARY KEY,
            consumer     text NOT NULL,
            topic        text NOT NULL,
            workspace_id uuid NOT NULL,
            payload      bytea NOT NULL,
            created_at   timestamptz NOT NULL,
            attempts     integer NOT NULL,
            last_error   text,
            buried_at    timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA events CASCADE")
