"""Incidents: bursts of similar problems grouped, with their life cycle.

Revision ID: t0006
Revises: t0005

The schema is the contract between the detector (which opens, grows and closes incidents
after a quiet period) and the desk (which shows them, lets a lead merge, split, close and
write the status note). ``incident_signals`` is the detector's sliding window: one row per
inbound needs-answer or abusive message it has seen, with the similarity sketch it computed,
so that any worker can resume detection after a restart.
"""

from services.infra.schema_changes import create_index, create_table, reversible

revision = "t0006"
down_revision = "t0005"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    create_table(
        """
        CREATE TABLE triage.incidents (
            workspace_id   uuid NOT NULL,
            id             bigint GENERATED ALWAYS AS IDENTITY,
            kind           text NOT NULL CHECK (kind IN ('customer', 'moderation')),
            status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
            label          text NOT NULL,
            terms          text[] NOT NULL DEFAULT '{}',
            sketch         bigint[] NOT NULL DEFAULT '{}',
            first_seen     timestamptz NOT NULL,
            opened_at      timestamptz NOT NULL,
            last_seen      timestamptz NOT NULL,
            message_count  integer NOT NULL DEFAULT 0,
            author_count   integer NOT NULL DEFAULT 0,
            platforms      text[] NOT NULL DEFAULT '{}',
            languages      text[] NOT NULL DEFAULT '{}',
            status_note    text NOT NULL DEFAULT '',
            note_by        uuid,
            note_at        timestamptz,
            closed_at      timestamptz,
            closed_by      uuid,
            close_reason   text CHECK (close_reason IN ('quiet', 'manual', 'merged')),
            merged_into    bigint,
            updated_at     timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, id),
            CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
            CHECK ((close_reason = 'merged') = (merged_into IS NOT NULL))
        )
        """
    ),
    create_index(
        "CREATE INDEX incidents_open ON triage.incidents (workspace_id, last_seen) "
        "WHERE status = 'open'"
    ),
    create_table(
        """
        CREATE TABLE triage.incident_members (
            workspace_id    uuid NOT NULL,
            incident_id     bigint NOT NULL,
            message_id      bigint NOT NULL,
            conversation_id bigint NOT NULL,
            author          text NOT NULL,
            platform        text NOT NULL,
            language        text NOT NULL,
            at              timestamptz NOT NULL,
            flooding        boolean NOT NULL DEFAULT false,
            added_at        timestamptz NOT NULL DEFAULT now(),
            added_by        uuid,
            PRIMARY KEY (workspace_id, incident_id, message_id),
            FOREIGN KEY (workspace_id, incident_id) REFERENCES triage.incidents (workspace_id, id),
            FOREIGN KEY (workspace_id, message_id) REFERENCES triage.messages (workspace_id, id)
        )
        """
    ),
    create_index(
        "CREATE INDEX incident_members_conversation ON triage.incident_members "
        "(workspace_id, conversation_id)"
    ),
    create_index(
        "CREATE UNIQUE INDEX incident_members_message ON triage.incident_members "
        "(workspace_id, message_id)"
    ),
    create_table(
        """
        CREATE TABLE triage.incident_signals (
            workspace_id    uuid NOT NULL,
            message_id      bigint NOT NULL,
            conversation_id bigint NOT NULL,
            author          text NOT NULL,
            platform        text NOT NULL,
            language        text NOT NULL,
            abuse           boolean NOT NULL,
            at              timestamptz NOT NULL,
            sketch          bigint[] NOT NULL,
            terms           text[] NOT NULL,
            seen_at         timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, message_id),
            FOREIGN KEY (workspace_id, message_id) REFERENCES triage.messages (workspace_id, id)
        )
        """
    ),
    create_index(
        "CREATE INDEX incident_signals_window ON triage.incident_signals (workspace_id, at)"
    ),
    create_index("CREATE INDEX incident_signals_recent ON triage.incident_signals (at)"),
    create_table(
        """
        CREATE TABLE triage.incident_history (
            workspace_id uuid NOT NULL,
            id           bigint GENERATED ALWAYS AS IDENTITY,
            incident_id  bigint NOT NULL,
            change       text NOT NULL CHECK (change IN (
                             'opened', 'grown', 'merged', 'split', 'closed', 'reopened',
                             'note')),
            detail       jsonb NOT NULL DEFAULT '{}',
            user_id      uuid,
            at           timestamptz NOT NULL DEFAULT clock_timestamp(),
            PRIMARY KEY (workspace_id, id),
            FOREIGN KEY (workspace_id, incident_id) REFERENCES triage.incidents (workspace_id, id)
        )
        """
    ),
    create_index(
        "CREATE INDEX incident_history_incident ON triage.incident_history "
        "(workspace_id, incident_id, id)"
    ),
)
