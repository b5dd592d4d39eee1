"""Outgoing webhooks also hear of incidents opened, reopened and closed.

Revision ID: t0009
Revises: t0008

The same signed, retried delivery as SLA breaches (``services/triage/webhooks/sender.py``): a team
pages itself when a burst becomes an incident, without polling the desk.
"""

from alembic import op

revision = "t0009"
down_revision = "t0008"
branch_labels = None
depends_on = None

TOPICS = ("incident.opened", "incident.reopened", "incident.closed")


def upgrade() -> None:
    for topic in TOPICS:
        op.execute(
            "INSERT INTO events.subscription (topic, consumer) VALUES "
            f"('{topic}', 'triage-webhooks') ON CONFLICT DO NOTHING"
        )


def downgrade() -> None:
    for topic in TOPICS:
        op.execute(
            "DELETE FROM events.subscription "
            f"WHERE topic = '{topic}' AND consumer = 'triage-webhooks'"
        )
