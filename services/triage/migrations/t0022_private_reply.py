"""Replies: whether a reply went as Meta's private reply to a comment.

Revision ID: t0022
Revises: t0021

A reply to a Facebook/Instagram comment may be sent as a private message to the commenter
(issue 18); the desk shows which replies went that way.
"""

from services.infra.schema_changes import add_columns, reversible

revision = "t0022"
down_revision = "t0021"
branch_labels = None
depends_on = None


upgrade, downgrade = reversible(
    add_columns("triage.replies", "private boolean NOT NULL DEFAULT false")
)
