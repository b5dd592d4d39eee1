"""SLA: policies per workspace, clocks with their next transition, clock history, webhooks.

Revision ID: t0002
Revises: t0001
"""

from services.infra.schema_changes import (
    add_columns,
    create_index,
    create_table,
    reversible,
    subscribe,
    undo,
)

revision = "t0002"
down_revision = "t0001"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    create_table(
        """
        CREATE TABLE triage.sla_policies (
            workspace_id uuid PRIMARY KEY REFERENCES triage.workspaces (id),
            policy       jsonb NOT NULL,
            updated_at   timestamptz NOT NULL DEFAULT now(),
            updated_by   uuid
        )
        """
    ),
    create_table(
        """
        CREATE TABLE triage.sla_clocks (
            workspace_id       uuid NOT NULL,
            id                 bigint GENERATED ALWAYS AS IDENTITY,
            conversation_id    bigint NOT NULL,
            kind               text NOT NULL
                               CHECK (kind IN ('first_response', 'next_response', 'resolution')),
            priority           smallint NOT NULL CHECK (priority BETWEEN 1 AND 4),
            target_seconds     integer NOT NULL CHECK (target_seconds > 0),
            started_at         timestamptz NOT NULL,
            paused_seconds     double precision NOT NULL DEFAULT 0,
            paused_since       timestamptz,
            stopped_at         timestamptz,
            outcome            text CHECK (outcome IN ('met', 'missed', 'cancelled')),
            state              text NOT NULL DEFAULT 'ok',
            due_at             timestamptz,
            next_transition_at timestamptz,
            PRIMARY KEY (workspace_id, id),
            FOREIGN KEY (workspace_id, conversation_id)
                REFERENCES triage.conversations (workspace_id, id)
        )
        """
    ),
    create_index(
        "CREATE INDEX sla_clocks_due ON triage.sla_clocks (next_transition_at) "
        "WHERE next_transition_at IS NOT NULL"
    ),
    create_index(
        "CREATE UNIQUE INDEX sla_clocks_running ON triage.sla_clocks "
        "(workspace_id, conversation_id, kind) WHERE stopped_at IS NULL"
    ),
    create_index(
        "CREATE INDEX sla_clocks_conversation ON triage.sla_clocks (workspace_id, conversation_id)"
    ),
    create_table(
        """
        CREATE TABLE triage.sla_clock_log (
            workspace_id uuid NOT NULL,
            id           bigint GENERATED ALWAYS AS IDENTITY,
            clock_id     bigint NOT NULL,
            at           timestamptz NOT NULL,
            change       text NOT NULL,
            state        text NOT NULL,
            PRIMARY KEY (workspace_id, id)
        )
        """
    ),
    create_index(
        "CREATE INDEX sla_clock_log_clock ON triage.sla_clock_log (workspace_id, clock_id)"
    ),
    create_table(
        """
        CREATE TABLE triage.webhooks (
            workspace_id uuid PRIMARY KEY REFERENCES triage.workspaces (id),
            url          text NOT NULL,
            secret       text NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now()
        )
        """
    ),
    add_columns(
        "triage.conversations", "sla_rank smallint NOT NULL DEFAULT 4", "sla_due_at timestamptz"
    ),
    undo(
        create_index(
            "CREATE INDEX conversations_queue ON triage.conversations "
            "(workspace_id, priority, waiting_since, id) WHERE status = 'open' AND needs_answer"
        )
    ),
    create_index(
        "CREATE INDEX conversations_queue ON triage.conversations "
        "(workspace_id, sla_rank, priority, sla_due_at, waiting_since, id) "
        "WHERE status = 'open' AND needs_answer"
    ),
    subscribe("triage-webhooks", "sla.breached"),
)
