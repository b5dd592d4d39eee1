"""People: the identities agents link by hand, notes about a person, and the index that finds a
person's conversations.

Revision ID: t0018
Revises: t0017

A person is named by a platform identity: platform, the platform's id of the author
(``author_id``) and, when known, their handle. ``person_links`` joins two identities of the same
person that an agent linked (a Messenger customer and their X handle); a link is read in both
directions. ``person_notes`` are short notes agents write about the person whose identity they
were looking at. Both are workspace-scoped and erased with the person.

``messages_author_id`` answers "the conversations of this author" (the panel opens with every
conversation): the handle side already has ``messages_author_handle`` (t0014).
"""

from services.infra.schema_changes import create_index, create_table, reversible

revision = "t0018"
down_revision = "t0017"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    create_table(
        """
        CREATE TABLE triage.person_links (
            workspace_id     uuid NOT NULL REFERENCES triage.workspaces (id),
            id               bigserial,
            platform         text NOT NULL,
            author_id        text NOT NULL,
            handle           text NOT NULL DEFAULT '',
            linked_platform  text NOT NULL,
            linked_author_id text NOT NULL DEFAULT '',
            linked_handle    text NOT NULL DEFAULT '',
            linked_by        uuid,
            linked_at        timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, id),
            CHECK (linked_author_id <> '' OR linked_handle <> '')
        )
        """
    ),
    create_index(
        "CREATE UNIQUE INDEX person_links_pair ON triage.person_links "
        "(workspace_id, platform, author_id, linked_platform, linked_author_id, linked_handle)"
    ),
    create_index(
        "CREATE INDEX person_links_linked ON triage.person_links "
        "(workspace_id, linked_platform, linked_author_id, linked_handle)"
    ),
    create_table(
        """
        CREATE TABLE triage.person_notes (
            workspace_id uuid NOT NULL REFERENCES triage.workspaces (id),
            id           bigserial,
            platform     text NOT NULL,
            author_id    text NOT NULL,
            handle       text NOT NULL DEFAULT '',
            text         text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 1000),
            written_by   uuid,
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace_id, id)
        )
        """
    ),
    create_index(
        "CREATE INDEX person_notes_person ON triage.person_notes "
        "(workspace_id, platform, author_id, created_at)"
    ),
    create_index(
        "CREATE INDEX messages_author_id ON triage.messages "
        "(workspace_id, author_external_id) WHERE erased_at IS NULL AND direction = 'in'"
    ),
)
