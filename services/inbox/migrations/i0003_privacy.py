"""Data protection: author erasure, export and retention (inbox side).

Revision ID: i0003
Revises: i0002

An erased message keeps its row (ids, times, direction) without text or raw payload: the
unique (channel, external_id) key is the tombstone that makes a re-poll or re-ingest of the
same platform message a duplicate, so the text never comes back. An erased author keeps a
row with no handle, name or platform id. The two indexes find a person's messages and a
conversation's messages without scanning the table.
"""

from alembic import op

revision = "i0003"
down_revision = "i0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE inbox.messages ADD COLUMN erased_at timestamptz")
    op.execute("ALTER TABLE inbox.authors ADD COLUMN erased_at timestamptz")
    op.execute("CREATE INDEX messages_author ON inbox.messages (workspace_id, author_id)")
    op.execute(
        "CREATE INDEX messages_conversation ON inbox.messages (workspace_id, conversation_id)"
    )
    op.execute(
        "CREATE INDEX deliveries_in_reply_to ON inbox.deliveries (workspace_id, in_reply_to_id)"
    )
    op.execute(
        "INSERT INTO events.subscription (topic, consumer) VALUES "
        "('privacy.erasure_requested', 'inbox'), ('privacy.conversations_purged', 'inbox') "
        "ON CONFLICT DO NOTHING"
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM events.subscription WHERE consumer = 'inbox' "
        "AND topic IN ('privacy.erasure_requested', 'privacy.conversations_purged')"
    )
    op.execute("DROP INDEX inbox.deliveries_in_reply_to")
    op.execute("DROP INDEX inbox.messages_conversation")
    op.execute("DROP INDEX inbox.messages_author")
    op.execute("ALTER TABLE inbox.authors DROP COLUMN erased_at")
    op.execute("ALTER TABLE inbox.messages DROP COLUMN erased_at")
