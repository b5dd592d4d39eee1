"""Desk: sessions, login attempts, claims, replies, notes, saved replies, audit log.

Revision ID: t0003d
Revises: t0002
"""

from alembic import op

revision = "t0003d"
down_revision = "t0002"
branch_labels = None
depends_on = None


UPGRADE = (
    "ALTER TABLE triage.api_tokens ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid()",
    "CREATE UNIQUE INDEX api_tokens_id ON triage.api_tokens (workspace_id, id)",
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
        """,
    "CREATE INDEX sessions_user ON triage.sessions (workspace_id, user_id)",
    """
        CREATE TABLE triage.login_attempts (
            key text NOT NULL,
            at  timestamptz NOT NULL DEFAULT now()
        )
        """,
    "CREATE INDEX login_attempts_key ON triage.login_attempts (key, at)",
    """
        ALTER TABLE triage.conversations
            ADD COLUMN assignee_id      uuid,
            ADD COLUMN claim_expires_at timestamptz
        """,
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
        """,
    "CREATE UNIQUE INDEX replies_client_key ON triage.replies "
    "(workspace_id, author_id, client_key) WHERE client_key IS NOT NULL",
    "CREATE INDEX replies_conversation ON triage.replies (workspace_id, conversation_id)",
    "CREATE INDEX replies_same_text ON triage.replies (workspace_id, text_digest, created_at)",
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
        """,
    "CREATE INDEX notes_conversation ON triage.notes (workspace_id, conversation_id)",
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
        """,
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
        """,
    "CREATE INDEX audit_conversation ON triage.audit_log (workspace_id, conversation_id)",
    "INSERT INTO events.subscription (topic, consumer) VALUES "
    "('reply.delivered', 'triage'), ('reply.failed', 'triage') ON CONFLICT DO NOTHING",
)
"""The statements of ``upgrade``, applied in order (one list keeps the function short)."""


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute(
        "DELETE FROM events.subscription WHERE consumer = 'triage' "
        "AND topic IN ('reply.delivered', 'reply.failed')"
    )
    op.execute(
        "DROP TABLE triage.audit_log, triage.saved_replies, triage.notes, triage.replies, "
        "triage.login_attempts, triage.sessions"
    )
    op.execute(
        "ALTER TABLE triage.conversations DROP COLUMN assignee_id, DROP COLUMN claim_expires_at"
    )
    op.execute("DROP INDEX triage.api_tokens_id")
    op.execute("ALTER TABLE triage.api_tokens DROP COLUMN id")
