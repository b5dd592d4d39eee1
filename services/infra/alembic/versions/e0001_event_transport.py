"""Event transport: per-consumer outbox rows, subscriptions, dead letters.

Revision ID: e0001
Revises:
"""

from services.infra.schema_changes import create_index, create_schema, create_table, reversible

revision = "e0001"
down_revision = None
branch_labels = ("events",)
depends_on = None


upgrade, downgrade = reversible(
    create_schema("events"),
    create_table(
        """
        CREATE TABLE events.subscription (
            topic    text NOT NULL,
            consumer text NOT NULL,
            PRIMARY KEY (topic, consumer)
        )
        """
    ),
    create_table(
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
    ),
    create_index("CREATE INDEX outbox_claim ON events.outbox (consumer, id)"),
    create_table(
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
    ),
)
