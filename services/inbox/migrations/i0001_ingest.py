"""Inbox: ingest tokens, channels, authors, conversations, messages.

Revision ID: i0001
Revises:
"""

from services.infra.schema_changes import create_index, create_schema, create_table, reversible

revision = "i0001"
down_revision = None
branch_labels = ("inbox",)
depends_on = "e0001"


upgrade, downgrade = reversible(
    create_schema("inbox"),
    create_table(
        """
        CREATE TABLE inbox.ingest_tokens (
            digest       bytea PRIMARY KEY,
            workspace_id uuid NOT NULL,
            name         text NOT NULL DEFAULT '',
            created_at   timestamptz NOT NULL DEFAULT now(),
            revoked_at   timestamptz
        )
        """
    ),
    create_index("CREATE INDEX ingest_tokens_workspace ON inbox.ingest_tokens (workspace_id)"),
    create_table(
        """
        CREATE TABLE inbox.channels (
            workspace_id uuid NOT NULL,
            id           bigint GENERATED ALWAYS AS IDENTITY,
            platform     text NOT NULL,
            key          text NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, id),
            UNIQUE (workspace_id, platform, key)
        )
        """
    ),
    create_table(
        """
        CREATE TABLE inbox.authors (
            workspace_id  uuid NOT NULL,
            id            bigint GENERATED ALWAYS AS IDENTITY,
            platform      text NOT NULL,
            external_id   text NOT NULL,
            handle        text NOT NULL DEFAULT '',
            display_name  text NOT NULL DEFAULT '',
            first_seen_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, id),
            UNIQUE (workspace_id, platform, external_id)
        )
        """
    ),
    create_table(
        """
        CREATE TABLE inbox.conversations (
            workspace_id uuid NOT NULL,
            id           bigint GENERATED ALWAYS AS IDENTITY,
            channel_id   bigint NOT NULL,
            thread_key   text NOT NULL,
            kind         text NOT NULL CHECK (kind IN ('public', 'dm')),
            started_at   timestamptz NOT NULL,
            PRIMARY KEY (workspace_id, id),
            UNIQUE (workspace_id, channel_id, thread_key),
            FOREIGN KEY (workspace_id, channel_id) REFERENCES inbox.channels (workspace_id, id)
        )
        """
    ),
    create_table(
        """
        CREATE TABLE inbox.messages (
            workspace_id    uuid NOT NULL,
            id              bigint GENERATED ALWAYS AS IDENTITY,
            channel_id      bigint NOT NULL,
            external_id     text NOT NULL,
            conversation_id bigint NOT NULL,
            author_id       bigint NOT NULL,
            direction       text NOT NULL CHECK (direction IN ('in', 'out')),
            kind            text NOT NULL CHECK (kind IN ('mention', 'dm', 'comment', 'reply')),
            text            text NOT NULL,
            lang            text NOT NULL DEFAULT '',
            in_reply_to     text NOT NULL DEFAULT '',
            thread_id       text NOT NULL DEFAULT '',
            created_at      timestamptz NOT NULL,
            received_at     timestamptz NOT NULL DEFAULT now(),
            raw             jsonb,
            PRIMARY KEY (workspace_id, id),
            UNIQUE (workspace_id, channel_id, external_id)
        )
        """
    ),
    # No foreign keys on the hottest table: the ingest path is its only writer and resolves
    # channel, author and conversation in the same transaction; the FK triggers cost about
    # 40 % of the message insert (bench/ingest.py). Thread reads happen in triage's copy.
)
