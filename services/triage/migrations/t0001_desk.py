"""Triage: workspaces, users, API tokens, conversations, messages, decisions.

Revision ID: t0001
Revises:
"""

from services.infra.schema_changes import (
    create_index,
    create_schema,
    create_table,
    reversible,
    subscribe,
)

revision = "t0001"
down_revision = None
branch_labels = ("triage",)
depends_on = "e0001"


upgrade, downgrade = reversible(
    create_schema("triage"),
    create_table(
        """
        CREATE TABLE triage.workspaces (
            id         uuid PRIMARY KEY,
            name       text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    ),
    create_table(
        """
        CREATE TABLE triage.users (
            workspace_id  uuid NOT NULL REFERENCES triage.workspaces (id),
            id            uuid NOT NULL,
            email         text NOT NULL,
            display_name  text NOT NULL DEFAULT '',
            role          text NOT NULL CHECK (role IN ('agent', 'lead', 'admin')),
            password_hash text,
            created_at    timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, id)
        )
        """
    ),
    create_index("CREATE UNIQUE INDEX users_email ON triage.users (workspace_id, lower(email))"),
    create_table(
        """
        CREATE TABLE triage.api_tokens (
            digest       bytea PRIMARY KEY,
            workspace_id uuid NOT NULL,
            user_id      uuid NOT NULL,
            name         text NOT NULL DEFAULT '',
            created_at   timestamptz NOT NULL DEFAULT now(),
            revoked_at   timestamptz,
            FOREIGN KEY (workspace_id, user_id) REFERENCES triage.users (workspace_id, id)
        )
        """
    ),
    create_table(
        """
        CREATE TABLE triage.conversations (
            workspace_id     uuid NOT NULL,
            id               bigint NOT NULL,
            platform         text NOT NULL,
            channel          text NOT NULL,
            kind             text NOT NULL,
            status           text NOT NULL DEFAULT 'open'
                             CHECK (status IN ('open', 'waiting', 'resolved')),
            needs_answer     boolean NOT NULL DEFAULT false,
            priority         smallint NOT NULL DEFAULT 4 CHECK (priority BETWEEN 1 AND 4),
            intent           text NOT NULL DEFAULT 'other',
            abuse            boolean NOT NULL DEFAULT false,
            reasons          text[] NOT NULL DEFAULT '{}',
            waiting_since    timestamptz,
            last_inbound_at  timestamptz,
            last_outbound_at timestamptz,
            last_message_id  bigint,
            updated_at       timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, id)
        )
        """
    ),
    create_index(
        "CREATE INDEX conversations_queue ON triage.conversations "
        "(workspace_id, priority, waiting_since, id) WHERE status = 'open' AND needs_answer"
    ),
    create_table(
        """
        CREATE TABLE triage.messages (
            workspace_id    uuid NOT NULL,
            id              bigint NOT NULL,
            conversation_id bigint NOT NULL,
            direction       text NOT NULL,
            kind            text NOT NULL,
            author_handle   text NOT NULL DEFAULT '',
            author_name     text NOT NULL DEFAULT '',
            text            text NOT NULL,
            created_at      timestamptz NOT NULL,
            received_at     timestamptz NOT NULL,
            PRIMARY KEY (workspace_id, id),
            FOREIGN KEY (workspace_id, conversation_id)
                REFERENCES triage.conversations (workspace_id, id)
        )
        """
    ),
    create_index(
        "CREATE INDEX triage_messages_conversation ON triage.messages "
        "(workspace_id, conversation_id, created_at)"
    ),
    create_table(
        """
        CREATE TABLE triage.decisions (
            workspace_id  uuid NOT NULL,
            message_id    bigint NOT NULL,
            needs_answer  boolean NOT NULL,
            intent        text NOT NULL,
            abuse         boolean NOT NULL,
            language      text NOT NULL,
            priority      smallint NOT NULL,
            confidence    real NOT NULL,
            reasons       text[] NOT NULL,
            model_version text NOT NULL,
            decided_at    timestamptz NOT NULL,
            PRIMARY KEY (workspace_id, message_id),
            FOREIGN KEY (workspace_id, message_id) REFERENCES triage.messages (workspace_id, id)
        )
        """
    ),
    subscribe("triage", "message.ingested"),
)
