"""Reversible schema changes: a migration lists each change once, with how to take it back.

``reversible(*changes)`` gives a revision its ``upgrade`` (the changes in order) and its
``downgrade`` (each change taken back, in the reverse order), so the two cannot drift apart,
and the SQL of the patterns every service repeats (a schema, a table, an index, columns, a
primary key, an event subscription) is written here once. What fits none of them is
``sql(forward, *back)``: its own statements, written out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from alembic import op

_TABLE = re.compile(r"\s*CREATE TABLE (\w+\.\w+) \(")
_INDEX = re.compile(
    r"\s*CREATE (?:UNIQUE )?INDEX (IF NOT EXISTS )?(\w+) ON (\w+)\.\w+ ", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Change:
    """Statements that make a change, and the statements that take it back (none: what the
    change made goes with something dropped later in the downgrade, or nothing to undo)."""

    forward: tuple[str, ...]
    back: tuple[str, ...] = ()


def sql(forward: str, *back: str) -> Change:
    """A change no pattern below covers."""
    return Change((forward,), back)


def undo(change: Change) -> Change:
    """The change that takes ``change`` back: dropping an index, then re-creating it on the
    way down."""
    return Change(change.back, change.forward)


def create_schema(name: str) -> Change:
    """A service's schema; taking it back drops all it holds."""
    return Change((f"CREATE SCHEMA IF NOT EXISTS {name}",), (f"DROP SCHEMA {name} CASCADE",))


def create_table(statement: str) -> Change:
    """``CREATE TABLE schema.name (…)``, written out."""
    found = _TABLE.match(statement)
    if found is None:
        raise ValueError("not a CREATE TABLE schema.name (…) statement")
    return Change((statement,), (f"DROP TABLE {found[1]}",))


def create_index(statement: str) -> Change:
    """``CREATE [UNIQUE] INDEX [IF NOT EXISTS] name ON schema.table …``, written out."""
    found = _INDEX.match(statement)
    if found is None:
        raise ValueError("not a CREATE INDEX name ON schema.table statement")
    if_exists = "IF EXISTS " if found[1] else ""
    return Change((statement,), (f"DROP INDEX {if_exists}{found[3]}.{found[2]}",))


def add_columns(table: str, *columns: str) -> Change:
    """Columns added to ``table`` in one statement, each ``name type [constraints]``."""
    added = ", ".join(f"ADD COLUMN {column}" for column in columns)
    dropped = ", ".join(f"DROP COLUMN {column.split()[0]}" for column in columns)
    return Change((f"ALTER TABLE {table} {added}",), (f"ALTER TABLE {table} {dropped}",))


def primary_key(table: str, columns: str, before: str) -> Change:
    """``table``'s primary key becomes ``columns`` (it was ``before``)."""
    name = table.split(".")[-1]

    def key(on: str) -> tuple[str, ...]:
        return (
            f"ALTER TABLE {table} DROP CONSTRAINT {name}_pkey",
            f"ALTER TABLE {table} ADD PRIMARY KEY ({on})",
        )

    return Change(key(columns), key(before))


def subscribe(consumer: str, *topics: str) -> Change:
    """``consumer`` hears of ``topics`` on the event transport (``events.subscription``)."""
    rows = ", ".join(f"('{topic}', '{consumer}')" for topic in topics)
    listed = ", ".join(f"'{topic}'" for topic in topics)
    insert = f"INSERT INTO events.subscription (topic, consumer) VALUES {rows}"
    where = f"consumer = '{consumer}' AND topic IN ({listed})"
    return Change(
        (f"{insert} ON CONFLICT DO NOTHING",), (f"DELETE FROM events.subscription WHERE {where}",)
    )


def reversible(*changes: Change) -> tuple[Callable[[], None], Callable[[], None]]:
    """A revision's ``upgrade`` and ``downgrade`` made of ``changes``."""

    def upgrade() -> None:
        for change in changes:
            for statement in change.forward:
                op.execute(statement)

    def downgrade() -> None:
        for change in reversed(changes):
            for statement in change.back:
                op.execute(statement)

    return upgrade, downgrade
