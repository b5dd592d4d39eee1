"""The workspace in the ingest tokens' key, and a directory to find it.

Revision ID: i0008
Revises: i0007

``ingest_tokens`` was keyed by the token's digest alone; its key becomes
``(workspace_id, digest)`` and ``token_directory`` maps a digest to its workspace: a Citus
reference table (copied to every node; written only when a token is created). The upgrade
fills it from the tokens that exist, so every token already handed out keeps working.
"""

from services.infra.schema_changes import create_table, primary_key, reversible, sql

revision = "i0008"
down_revision = "i0007"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    create_table(
        """
        CREATE TABLE inbox.token_directory (
            digest       bytea PRIMARY KEY,
            workspace_id uuid NOT NULL
        )
        """
    ),
    sql(
        "INSERT INTO inbox.token_directory (digest, workspace_id) "
        "SELECT digest, workspace_id FROM inbox.ingest_tokens"
    ),
    primary_key("inbox.ingest_tokens", "workspace_id, digest", before="digest"),
)
