"""When the inbox last asked a platform for an author's name.

Revision ID: i0007
Revises: i0006

Messenger and Instagram webhooks carry ids without names: the inbox asks Meta's User Profile
APIs once and keeps the answer on the author (``handle``, ``display_name``), with the time it
asked, so the next message of the same person costs no call until the name is old enough to
refresh. An erasure blanks the name and this time with it.
"""

from services.infra.schema_changes import add_columns, reversible

revision = "i0007"
down_revision = "i0006"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(add_columns("inbox.authors", "profile_checked_at timestamptz"))
