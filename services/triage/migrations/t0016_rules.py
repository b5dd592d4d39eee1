"""Rules: a workspace's automations, run on each triaged message.

Revision ID: t0016
Revises: t0015

``rules`` holds each workspace's rules as data (conditions and actions as JSON the API
validated), in ``position`` order, each enabled or not; a name is unique per workspace
whatever its case (it is the reason agents read). ``conversations`` gains the skill a rule
routed it to (``route_language``, ``route_channel``: routing matches them before the
message's own). The author index answers a rule's "author seen before". The webhooks
consumer hears of rules that notify.
"""

from services.infra.schema_changes import (
    add_columns,
    create_index,
    create_table,
    reversible,
    subscribe,
)

revision = "t0016"
down_revision = "t0015"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    create_table(
        """
        CREATE TABLE triage.rules (
            workspace_id uuid NOT NULL REFERENCES triage.workspaces (id),
            id           bigserial,
            name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 80),
            position     integer NOT NULL DEFAULT 0,
            enabled      boolean NOT NULL DEFAULT true,
            conditions   jsonb NOT NULL,
            actions      jsonb NOT NULL,
            created_by   uuid,
            updated_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, id)
        )
        """
    ),
    create_index("CREATE UNIQUE INDEX rules_name ON triage.rules (workspace_id, lower(name))"),
    add_columns("triage.conversations", "route_language text"),
    add_columns("triage.conversations", "route_channel text"),
    create_index(
        "CREATE INDEX messages_author ON triage.messages "
        "(workspace_id, author_external_id, created_at) "
        "WHERE erased_at IS NULL AND direction = 'in'"
    ),
    subscribe("triage-webhooks", "rule.fired"),
)
