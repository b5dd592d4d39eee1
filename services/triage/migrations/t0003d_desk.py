"""Desk: sessions, login attempts, claims, replies, notes, saved replies, audit log.

Revision ID: t0003d
Revises: t0002
"""

from services.infra.schema_changes import (
    add_columns,
    create_index,
    create_table,
    reversible,
    subscribe,
)

revision = "t0003d"
down_revision = "t0002"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    add_columns("triage.api_tokens", "id uuid NOT NULL DEFAULT gen_random_uuid()"),
    create_index("CREATE UNIQUE INDEX api_tokens_id ON triage.api_tokens (workspace_id, id)"),
    create_table(
        """
        CREATE TABLE triage.sessions (
            digest       bytea PRIMARY KEY,
            workspace_id uuid NOT NULL,
            user_id      uuid NOT NULL,
            csrf_digest  bytea NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            last_seen_at timestamptz NOT NULL DEFAULT now(),
            expires_at   timestamptz NOT NULL,
            revoked_at   timestamptz,
            FOREIGN KEY (workspace_id, user_id) REFERENCES triage.users (workspace_id, id)
        )
        """
    ),
    create_index("CREATE INDEX sessions_user ON triage.sessions (workspace_id, user_id)"),
    create_table(
        """
        CREATE TABLE triage.login_attempts (
            key text NOT NULL,
            at  timestamptz NOT NULL DEFAULT now()
        )
        """
    ),
    create_index("CREATE INDEX login_attempts_key ON triage.login_attempts (key, at)"),
    add_columns("triage.conversations", "assignee_id uuid", "claim_expires_at timestamptz"),
    create_table(
        """
        CREATE TABLE triage.replies (
            workspace_id        uuid NOT NULL,
            id                  uuid NOT NULL,
            conversation_id     bigint NOT NULL,
            in_reply_to_id      bigint NOT NULL,
            author_id           uuid NOT NULL,
            text                text NOT NULL,
            text_digest         bytea NOT NULL,
            client_key          text,
            saved_reply_id      uuid,
            unchanged_saved     boolean NOT NULL DEFAULT false,
            state               text NOT NULL DEFAULT 'queued'
                                CHECK (state IN ('queued', 'delivered', 'failed')),
            failure_reason      text,
            failure_detail      text,
            platform_message_id text,
            created_at          timestamptz NOT NULL DEFAULT now(),
            updated_at          timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, id),
            FOREIGN KEY (workspace_id, conversation_id)
                REFERENCES triage.conversations (workspace_id, id)
        )
        """
    ),
    create_index(
        "CREATE UNIQUE INDEX replies_client_key ON triage.replies "
        "(workspace_id, author_id, client_key) WHERE client_key IS NOT NULL"
    ),
    create_index(
        "CREATE INDEX replies_conversation ON triage.replies (workspace_id, conversation_id)"
    ),
    create_index(
        "CREATE INDEX replies_same_text ON triage.replies (workspace_id, text_digest, created_at)"
    ),
    create_table(
        """
        CREATE TABLE triage.notes (
            workspace_id    uuid NOT NULL,
            id              uuid NOT NULL,
            conversation_id bigint NOT NULL,
            author_id       uuid NOT NULL,
            text            text NOT NULL,
            created_at      timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, id),
            FOREIGN KEY (workspace_id, conversation_id)
                REFERENCES triage.conversations (workspace_id, id)
        )
        """
    ),
    create_index("CREATE INDEX notes_conversation ON triage.notes (workspace_id, conversation_id)"),
    create_table(
        """
        CREATE TABLE triage.saved_replies (
            workspace_id uuid NOT NULL,
            id           uuid NOT NULL,
            title        text NOT NULL,
            text         text NOT NULL,
            created_by   uuid NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, id)
        )
        """
    ),
    create_table(
        """
        CREATE TABLE triage.audit_log (
            workspace_id    uuid NOT NULL,
            id              bigint GENERATED ALWAYS AS IDENTITY,
            at              timestamptz NOT NULL DEFAULT now(),
            user_id         uuid,
            action          text NOT NULL,
            conversation_id bigint,
            detail          jsonb NOT NULL DEFAULT '{}',
            PRIMARY KEY (workspace_id, id)
        )
        """
    ),
    create_index(
        "CREATE INDEX audit_conversation ON triage.audit_log (workspace_id, conversation_id)"
    ),
    subscribe("triage", "reply.delivered", "reply.failed"),
)
