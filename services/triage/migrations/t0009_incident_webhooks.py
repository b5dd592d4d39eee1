"""Outgoing webhooks also hear of incidents opened, reopened and closed.

Revision ID: t0009
Revises: t0008

The same signed, retried delivery as SLA breaches (``services/triage/webhooks/sender.py``): a team
pages itself when a burst becomes an incident, without polling the desk.
"""

from services.infra.schema_changes import reversible, subscribe

revision = "t0009"
down_revision = "t0008"
branch_labels = None
depends_on = None

TOPICS = ("incident.opened", "incident.reopened", "incident.closed")


upgrade, downgrade = reversible(subscribe("triage-webhooks", *TOPICS))
