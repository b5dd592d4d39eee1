"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
"""

from services.infra.schema_changes import reversible

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


# Each change once, with how to take it back (services/infra/schema_changes.py):
# create_table(...), create_index(...), add_columns(...), subscribe(...), sql(forward, *back).
upgrade, downgrade = reversible()
