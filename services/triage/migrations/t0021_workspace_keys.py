"""The workspace in every key of the credential tables, and a directory to find it.

Revision ID: t0021
Revises: t0019

Sessions, API tokens, account links and pending sign-ins were keyed by the digest of their
secret alone, so a request found its credential without knowing its workspace: on Citus a
query to every shard, and no primary key Citus can enforce. Their keys become
``(workspace_id, digest)`` and every statement on them names the workspace.

A request still arrives with nothing but the secret, so ``credential_directory`` maps a
digest to its workspace: one small table, a Citus *reference table* (copied to every node,
so the look-up is local wherever it runs; a write goes to every node, which only creating
a credential does, never using one). It holds digests only, like the tables it indexes.
The upgrade fills it from the rows that exist, so every cookie, token and link already
handed out keeps working; it is the same shape whatever the token (operator-given tokens,
as the demo's, included), which is why the workspace is not put in the token's text.

The SLA scheduler now claims one workspace's due clocks at a time; an index on (workspace,
next transition) serves that claim as the old one served the global one.
"""

from services.infra.schema_changes import create_index, create_table, primary_key, reversible, sql

revision = "t0021"
down_revision = "t0019"
branch_labels = None
depends_on = None

CREDENTIALS = ("sessions", "api_tokens", "account_links", "pending_logins")


upgrade, downgrade = reversible(
    create_table(
        """
        CREATE TABLE triage.credential_directory (
            digest       bytea PRIMARY KEY,
            workspace_id uuid NOT NULL
        )
        """
    ),
    *(
        sql(
            "INSERT INTO triage.credential_directory (digest, workspace_id) "
            f"SELECT digest, workspace_id FROM triage.{table} ON CONFLICT (digest) DO NOTHING"
        )
        for table in CREDENTIALS
    ),
    *(
        primary_key(f"triage.{table}", "workspace_id, digest", before="digest")
        for table in CREDENTIALS
    ),
    create_index(
        "CREATE INDEX sla_clocks_due_by_workspace ON triage.sla_clocks "
        "(workspace_id, next_transition_at) WHERE next_transition_at IS NOT NULL"
    ),
)
