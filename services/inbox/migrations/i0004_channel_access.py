"""Who may connect channels, and to which platform account.

Revision ID: i0004
Revises: i0003

Inbox tokens get a scope: ``ingest`` (a producer's) or ``channels`` (a workspace admin's).
Every token that exists keeps only ``ingest``: connecting channels, which decides where a
workspace's platform credentials are sent, needs a token minted with the ``channels`` scope.

A platform account is connected to one channel only: webhooks are routed by account, so a
second workspace naming someone else's account id would receive their pushed mentions and
DMs. An upgrade fails on a database where two channels share an account; find them with
``SELECT platform, account_id, array_agg(workspace_id) FROM inbox.channels
WHERE account_id <> '' GROUP BY 1, 2 HAVING count(*) > 1`` and clear the wrong one's
``account_id`` first.
"""

from services.infra.schema_changes import add_columns, create_index, reversible

revision = "i0004"
down_revision = "i0003"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    add_columns(
        "inbox.ingest_tokens",
        "scope text NOT NULL DEFAULT 'ingest' CHECK (scope IN ('ingest', 'channels'))",
    ),
    create_index(
        "CREATE UNIQUE INDEX channels_account ON inbox.channels (platform, account_id) "
        "WHERE account_id <> ''"
    ),
)
