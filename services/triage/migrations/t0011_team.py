"""A team that runs itself: one-time links (invitations, password resets, sign-in links) and
deactivated users.

Revision ID: t0011
Revises: t0010

``account_links`` keeps each link's token by its SHA-256 digest only, with its expiry and
when it was used or revoked: a link works once. An invitation names the e-mail and role of
the person to come (the user is created when they accept); a password reset or a sign-in
link names its user. ``users.deactivated_at`` marks someone who left: no password, no
session, no token. Sessions opened by a sign-in link say so (``method = 'link'``).
"""

from services.infra.schema_changes import add_columns, create_index, create_table, reversible, sql

revision = "t0011"
down_revision = "t0010"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    add_columns("triage.users", "deactivated_at timestamptz"),
    create_table(
        """
        CREATE TABLE triage.account_links (
            digest       bytea PRIMARY KEY,
            workspace_id uuid NOT NULL REFERENCES triage.workspaces (id),
            id           uuid NOT NULL,
            kind         text NOT NULL
                         CHECK (kind IN ('invitation', 'set_password', 'sign_in')),
            user_id      uuid,
            email        text,
            role         text CHECK (role IN ('agent', 'lead', 'admin')),
            display_name text NOT NULL DEFAULT '',
            created_by   uuid,
            created_at   timestamptz NOT NULL,
            expires_at   timestamptz NOT NULL,
            used_at      timestamptz,
            revoked_at   timestamptz,
            CHECK ((kind = 'invitation') = (email IS NOT NULL AND role IS NOT NULL)),
            CHECK ((kind = 'invitation') = (user_id IS NULL)),
            FOREIGN KEY (workspace_id, user_id)
                REFERENCES triage.users (workspace_id, id) ON DELETE CASCADE
        )
        """
    ),
    create_index("CREATE UNIQUE INDEX account_links_id ON triage.account_links (workspace_id, id)"),
    create_index(
        "CREATE INDEX account_links_user ON triage.account_links (workspace_id, user_id) "
        "WHERE user_id IS NOT NULL"
    ),
    sql(
        "ALTER TABLE triage.sessions DROP CONSTRAINT sessions_method_check, "
        "ADD CONSTRAINT sessions_method_check "
        "CHECK (method IN ('password', 'totp', 'recovery_code', 'link'))",
        "DELETE FROM triage.sessions WHERE method = 'link'",
        "ALTER TABLE triage.sessions DROP CONSTRAINT sessions_method_check, "
        "ADD CONSTRAINT sessions_method_check "
        "CHECK (method IN ('password', 'totp', 'recovery_code'))",
    ),
)
