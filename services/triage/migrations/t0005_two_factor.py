"""Two-factor sign-in, session expiry and workspace access policy.

Revision ID: t0005
Revises: t0003

``two_factor`` holds each user's TOTP secret, encrypted (AES-GCM, key from configuration),
with ``enabled_at`` NULL while enrolment awaits its first code, and ``last_step``, the
last TOTP step accepted, which a sign-in advances atomically so a code works once.
``recovery_codes`` keeps only digests. ``pending_logins`` are password-checked sign-ins
waiting for their code: they grant nothing by themselves.
"""

from services.infra.schema_changes import add_columns, create_index, create_table, reversible

revision = "t0005"
down_revision = "t0003"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    add_columns(
        "triage.workspaces",
        "two_factor_policy text NOT NULL DEFAULT 'off' "
        "CHECK (two_factor_policy IN ('off', 'leads_and_admins', 'everyone'))",
    ),
    create_table(
        """
        CREATE TABLE triage.two_factor (
            workspace_id uuid NOT NULL,
            user_id      uuid NOT NULL,
            secret       bytea NOT NULL,
            created_at   timestamptz NOT NULL,
            enabled_at   timestamptz,
            last_step    bigint,
            PRIMARY KEY (workspace_id, user_id),
            FOREIGN KEY (workspace_id, user_id)
                REFERENCES triage.users (workspace_id, id) ON DELETE CASCADE
        )
        """
    ),
    create_table(
        """
        CREATE TABLE triage.recovery_codes (
            workspace_id uuid NOT NULL,
            user_id      uuid NOT NULL,
            digest       bytea NOT NULL,
            used_at      timestamptz,
            PRIMARY KEY (workspace_id, user_id, digest),
            FOREIGN KEY (workspace_id, user_id)
                REFERENCES triage.users (workspace_id, id) ON DELETE CASCADE
        )
        """
    ),
    create_table(
        """
        CREATE TABLE triage.pending_logins (
            digest       bytea PRIMARY KEY,
            workspace_id uuid NOT NULL,
            user_id      uuid NOT NULL,
            created_at   timestamptz NOT NULL,
            expires_at   timestamptz NOT NULL,
            attempts     integer NOT NULL DEFAULT 0,
            used_at      timestamptz,
            FOREIGN KEY (workspace_id, user_id)
                REFERENCES triage.users (workspace_id, id) ON DELETE CASCADE
        )
        """
    ),
    add_columns(
        "triage.sessions",
        "id uuid NOT NULL DEFAULT gen_random_uuid()",
        "method text NOT NULL DEFAULT 'password' "
        "CHECK (method IN ('password', 'totp', 'recovery_code'))",
        "user_agent text NOT NULL DEFAULT ''",
    ),
    create_index("CREATE UNIQUE INDEX sessions_id ON triage.sessions (workspace_id, id)"),
)
