"""Routing: who is on, what each agent can take, and whether a workspace assigns by itself.

Revision ID: t0013
Revises: t0012

``routing_settings`` holds a workspace's switch (automatic assignment, off until a lead turns
it on) and its default maximum of open claims per agent. ``agent_routing`` holds each user's
presence as they set it (available, away, offline; the desk reads an idle user as offline),
their own maximum, their skills (languages, channels: empty means all) and when they were
last assigned a conversation (the fairness order). The partial index counts an agent's open
claims without reading the queue.
"""

from services.infra.schema_changes import create_index, create_table, reversible

revision = "t0013"
down_revision = "t0012"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    create_table(
        """
        CREATE TABLE triage.routing_settings (
            workspace_id    uuid PRIMARY KEY REFERENCES triage.workspaces (id),
            auto_assign     boolean NOT NULL DEFAULT false,
            max_open_claims smallint CHECK (max_open_claims BETWEEN 1 AND 100),
            updated_by      uuid,
            updated_at      timestamptz NOT NULL DEFAULT now()
        )
        """
    ),
    create_table(
        """
        CREATE TABLE triage.agent_routing (
            workspace_id     uuid NOT NULL,
            user_id          uuid NOT NULL,
            presence         text NOT NULL DEFAULT 'offline'
                             CHECK (presence IN ('available', 'away', 'offline')),
            presence_at      timestamptz NOT NULL DEFAULT now(),
            max_open_claims  smallint CHECK (max_open_claims BETWEEN 1 AND 100),
            languages        text[] NOT NULL DEFAULT '{}',
            channels         text[] NOT NULL DEFAULT '{}',
            last_assigned_at timestamptz,
            PRIMARY KEY (workspace_id, user_id),
            FOREIGN KEY (workspace_id, user_id)
                REFERENCES triage.users (workspace_id, id) ON DELETE CASCADE
        )
        """
    ),
    create_index(
        "CREATE INDEX IF NOT EXISTS conversations_holder ON triage.conversations "
        "(workspace_id, assignee_id) WHERE assignee_id IS NOT NULL AND status = 'open'"
    ),
)
