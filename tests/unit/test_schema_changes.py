"""A revision's changes, and how each is taken back on the way down."""

from __future__ import annotations

import pytest

from services.infra import schema_changes
from services.infra.schema_changes import (
    add_columns,
    create_index,
    create_schema,
    create_table,
    primary_key,
    reversible,
    sql,
    subscribe,
    undo,
)


@pytest.mark.parametrize(
    ("change", "back"),
    [
        (create_schema("inbox"), ("DROP SCHEMA inbox CASCADE",)),
        (
            create_table("\n        CREATE TABLE triage.tags (\n  id bigint\n)"),
            ("DROP TABLE triage.tags",),
        ),
        (
            create_index("CREATE UNIQUE INDEX tags_name ON triage.tags (workspace_id, name)"),
            ("DROP INDEX triage.tags_name",),
        ),
        (
            create_index("CREATE INDEX IF NOT EXISTS idle ON triage.conversations (id)"),
            ("DROP INDEX IF EXISTS triage.idle",),
        ),
        (
            add_columns("inbox.authors", "erased_at timestamptz", "seen boolean NOT NULL"),
            ("ALTER TABLE inbox.authors DROP COLUMN erased_at, DROP COLUMN seen",),
        ),
        (
            subscribe("triage", "a.b", "c.d"),
            (
                "DELETE FROM events.subscription "
                "WHERE consumer = 'triage' AND topic IN ('a.b', 'c.d')",
            ),
        ),
        (
            primary_key("inbox.ingest_tokens", "workspace_id, digest", before="digest"),
            (
                "ALTER TABLE inbox.ingest_tokens DROP CONSTRAINT ingest_tokens_pkey",
                "ALTER TABLE inbox.ingest_tokens ADD PRIMARY KEY (digest)",
            ),
        ),
        (sql("UPDATE x SET y = 1", "UPDATE x SET y = 0"), ("UPDATE x SET y = 0",)),
    ],
)
def test_each_change_knows_how_it_is_taken_back(
    change: schema_changes.Change, back: tuple[str, ...]
) -> None:
    assert change.back == back


def test_columns_and_subscriptions_are_made_in_one_statement() -> None:
    assert add_columns("t.x", "a int", "b text DEFAULT ''").forward == (
        "ALTER TABLE t.x ADD COLUMN a int, ADD COLUMN b text DEFAULT ''",
    )
    assert subscribe("inbox", "a.b", "c.d").forward == (
        "INSERT INTO events.subscription (topic, consumer) VALUES "
        "('a.b', 'inbox'), ('c.d', 'inbox') ON CONFLICT DO NOTHING",
    )


def test_undo_drops_on_the_way_up_and_recreates_on_the_way_down() -> None:
    dropped = undo(create_index("CREATE INDEX q ON triage.c (id)"))
    assert dropped.forward == ("DROP INDEX triage.q",)
    assert dropped.back == ("CREATE INDEX q ON triage.c (id)",)


@pytest.mark.parametrize("make", [create_table, create_index])
def test_a_statement_of_another_kind_is_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make("ALTER TABLE triage.tags ADD COLUMN x int")  # type: ignore[operator]


def test_downgrade_takes_the_changes_back_in_reverse_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[str] = []

    class Op:
        @staticmethod
        def execute(statement: str) -> None:
            ran.append(statement)

    monkeypatch.setattr(schema_changes, "op", Op)
    upgrade, downgrade = reversible(sql("1", "-1"), sql("2a"), sql("3", "-3a", "-3b"))
    upgrade()
    assert ran == ["1", "2a", "3"]
    ran.clear()
    downgrade()
    assert ran == ["-3a", "-3b", "-1"]
