"""Data protection: author erasure, export and retention (inbox side).

Revision ID: i0003
Revises: i0002

An erased message keeps its row (ids, times, direction) without text or raw payload: the
unique (channel, external_id) key is the tombstone that makes a re-poll or re-ingest of the
same platform message a duplicate, so the text never comes back. An erased author keeps a
row with no handle, name or platform id. The two indexes find a person's messages and a
conversation's messages without scanning the table.
"""

from services.infra.schema_changes import add_columns, create_index, reversible, subscribe

revision = "i0003"
down_revision = "i0002"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    add_columns("inbox.messages", "erased_at timestamptz"),
    add_columns("inbox.authors", "erased_at timestamptz"),
    create_index("CREATE INDEX messages_author ON inbox.messages (workspace_id, author_id)"),
    create_index(
        "CREATE INDEX messages_conversation ON inbox.messages (workspace_id, conversation_id)"
    ),
    create_index(
        "CREATE INDEX deliveries_in_reply_to ON inbox.deliveries (workspace_id, in_reply_to_id)"
    ),
    subscribe("inbox", "privacy.erasure_requested", "privacy.conversations_purged"),
)
