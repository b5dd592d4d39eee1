"""WhatsApp: the template a reply is sent as, and what the platform says became of it.

Revision ID: i0006
Revises: i0005

``template`` (``{"name", "language"}``) is the approved message template an agent chose for
a WhatsApp reply outside the 24-hour customer-service window (NULL: free text).
``platform_status`` is the furthest status the platform reported for the sent message
(``sent``, ``delivered``, ``read``, ``failed``; statuses arrive out of order), with its time
and, for ``failed``, the platform's error code. Statuses are looked up by the platform's
message id within a channel, hence the partial index.
"""

from services.infra.schema_changes import add_columns, create_index, reversible

revision = "i0006"
down_revision = "i0005"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    add_columns(
        "inbox.deliveries",
        "template jsonb",
        "platform_status text CHECK (platform_status IN ('sent', 'delivered', 'read', 'failed'))",
        "platform_status_at timestamptz",
        "platform_error integer",
    ),
    create_index(
        "CREATE INDEX deliveries_platform_message ON inbox.deliveries "
        "(channel_id, platform_message_id) WHERE platform_message_id IS NOT NULL"
    ),
)
