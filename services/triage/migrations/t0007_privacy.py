"""Data protection: author erasure, export and retention (triage side).

Revision ID: t0007
Revises: t0006

Erased rows stay as tombstones (ids, times, labels; no text, no profile) so that counts, SLA
history and the inbox's de-duplication stay true. ``messages.author_external_id`` lets an
erasure or export name a person by their platform id, not only by a handle they may change.
"""

from services.infra.schema_changes import (
    add_columns,
    create_index,
    create_table,
    reversible,
    subscribe,
)

revision = "t0007"
down_revision = "t0006"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    add_columns(
        "triage.messages", "author_external_id text NOT NULL DEFAULT ''", "erased_at timestamptz"
    ),
    add_columns("triage.conversations", "purged_at timestamptz"),
    create_table(
        """
        CREATE TABLE triage.erasure_requests (
            workspace_id      uuid NOT NULL REFERENCES triage.workspaces (id),
            id                uuid NOT NULL,
            identities        jsonb NOT NULL,
            identities_digest bytea NOT NULL,
            requested_by      uuid,
            requested_at      timestamptz NOT NULL,
            triage_messages   integer NOT NULL DEFAULT 0,
            triage_done_at    timestamptz,
            inbox_messages    integer,
            inbox_authors     integer,
            inbox_done_at     timestamptz,
            PRIMARY KEY (workspace_id, id)
        )
        """
    ),
    create_index(
        "CREATE UNIQUE INDEX erasure_requests_pending ON triage.erasure_requests "
        "(workspace_id, identities_digest) WHERE triage_done_at IS NULL"
    ),
    create_table(
        """
        CREATE TABLE triage.retention_settings (
            workspace_id      uuid PRIMARY KEY REFERENCES triage.workspaces (id),
            conversation_days integer CHECK (conversation_days BETWEEN 1 AND 36500),
            updated_by        uuid,
            updated_at        timestamptz NOT NULL DEFAULT now()
        )
        """
    ),
    subscribe("triage", "privacy.erasure_done"),
)
