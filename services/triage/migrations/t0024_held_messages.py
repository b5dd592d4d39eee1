"""Messages the platform holds back from the public.

Revision ID: t0024
Revises: t0023

YouTube holds some comments for the channel's review (``heldForReview``) or as likely spam
(``likelySpam``); the inbox says so on the message (``held`` in ``message.ingested``) and the
desk shows it, so an agent knows the customer's words are not public.
"""

from services.infra.schema_changes import add_columns, reversible

revision = "t0024"
down_revision = "t0023"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    add_columns("triage.messages", "held boolean NOT NULL DEFAULT false")
)
