"""Connectors: polled channels (account, credentials reference, cursor, health), deliveries.

Revision ID: i0002
Revises: i0001
"""

from services.infra.schema_changes import (
    add_columns,
    create_index,
    create_table,
    reversible,
    subscribe,
)

revision = "i0002"
down_revision = "i0001"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    add_columns(
        "inbox.channels",
        "account_id text NOT NULL DEFAULT ''",
        "base_url text NOT NULL DEFAULT ''",
        "credentials_ref text NOT NULL DEFAULT ''",
        "polling boolean NOT NULL DEFAULT false",
        "poll_seconds integer NOT NULL DEFAULT 60 CHECK (poll_seconds > 0)",
        "cursor jsonb NOT NULL DEFAULT '{}'",
        "health text NOT NULL DEFAULT 'ok' "
        "CHECK (health IN ('ok', 'rate_limited', 'needs_reauth', 'failing'))",
        "health_detail text NOT NULL DEFAULT ''",
        "failures integer NOT NULL DEFAULT 0",
        "next_poll_at timestamptz",
        "lease_until timestamptz",
        "last_success_at timestamptz",
    ),
    create_index("CREATE INDEX channels_due ON inbox.channels (next_poll_at) WHERE polling"),
    create_table(
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
    ),
    create_index(
        "CREATE INDEX deliveries_due ON inbox.deliveries (next_attempt_at) "
        "WHERE state IN ('queued', 'sending')"
    ),
    subscribe("inbox", "reply.requested"),
)
