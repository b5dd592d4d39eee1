"""Search: full-text over messages in French and English, and exact author handles.

Revision ID: t0014
Revises: t0013

A message's language is decided later, in ``triage.decisions``, and an index cannot read
another table, so the index holds both stemmings of every message: the English and the
French lexemes together. A query is stemmed both ways too, so "remboursement" finds
"rembourser" (French) and "cancelled" finds "cancellation" (English) whatever the decision
said, and a message triage got wrong or has not decided yet is still found. Tokens with
digits (booking references, order numbers) pass both parsers unstemmed, so the same index
serves their prefix matches. Erased messages are blank and outside the partial index.
"""

from services.infra.schema_changes import create_index, reversible

revision = "t0014"
down_revision = "t0013"
branch_labels = None
depends_on = None


SEARCH_INDEX = (
    "CREATE INDEX messages_search ON triage.messages USING gin "
    "((to_tsvector('english', text) || to_tsvector('french', text))) "
    "WHERE erased_at IS NULL"
)
"""Also what the search bench rebuilds after its bulk load."""


upgrade, downgrade = reversible(
    create_index(SEARCH_INDEX),
    create_index(
        "CREATE INDEX messages_author_handle ON triage.messages "
        "(workspace_id, lower(author_handle)) WHERE erased_at IS NULL"
    ),
)
