"""Agents' corrections: stored with who and when, validated, exported as training labels."""

from __future__ import annotations

import asyncio
import csv
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ecoute.v1 import events_pb2
from services.infra.events import Event
from services.triage.access.store import create_user, create_workspace
from services.triage.desk.corrections import (
    InvalidCorrection,
    UnknownMessage,
    corrections_of,
    export,
    record_correction,
    write_csv,
)
from services.triage.intake import consumer
from services.triage.training import data
from tools.embedded_pg import ROOT

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


async def workspace_with_agent(engine: AsyncEngine, name: str) -> tuple[uuid.UUID, uuid.UUID]:
    async with engine.begin() as conn:
        ws = await create_workspace(conn, name)
        user = await create_user(conn, ws, f"agent@{name}.test", "Agent", "agent")
    return ws, user


async def triaged(engine: AsyncEngine, ws: uuid.UUID, message_id: int, body: str) -> None:
    """A message as the consumer stores it: ingested, then decided by the committed model."""
    ingested = events_pb2.MessageIngested(
        workspace_id=str(ws), message_id=message_id, conversation_id=message_id
    )
    ingested.message.platform = "x"
    ingested.message.channel = "support"
    ingested.message.external_id = f"e{message_id}"
    ingested.message.kind = "mention"
    ingested.message.author.external_id = "42"
    ingested.message.text = body
    ingested.message.created_at.FromDatetime(NOW - timedelta(minutes=5))
    ingested.received_at.FromDatetime(NOW)
    event = Event(message_id, consumer.MESSAGE_INGESTED, ws, ingested.SerializeToString(), 0)
    async with engine.begin() as conn:
        await consumer.handle_batch(conn, [event], now=lambda: NOW)


async def decided(engine: AsyncEngine, ws: uuid.UUID, message_id: int) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text("SELECT * FROM triage.decisions WHERE workspace_id = :ws AND message_id = :m"),
                {"ws": ws, "m": message_id},
            )
        ).one()


async def correct(engine: AsyncEngine, *args: Any, at: datetime = NOW) -> Any:
    async with engine.begin() as conn:
        return await record_correction(conn, *args, now=at)


async def test_a_correction_is_stored_with_who_when_and_the_value_it_replaced(
    engine: AsyncEngine,
) -> None:
    ws, agent = await workspace_with_agent(engine, "acme")
    await triaged(engine, ws, 1, "great crew today, thanks!")
    before = await decided(engine, ws, 1)

    first = await correct(engine, ws, 1, agent, "intent", "question")
    second = await correct(engine, ws, 1, agent, "intent", "request", at=NOW + timedelta(hours=1))

    assert first.old_value == before.intent
    assert (first.new_value, first.user_id, first.created_at) == ("question", agent, NOW)
    assert second.old_value == "question"  # the latest correction, not the model's decision
    async with engine.connect() as conn:
        history = await corrections_of(conn, ws, 1)
    assert [(c.field, c.old_value, c.new_value) for c in history] == [
        ("intent", before.intent, "question"),
        ("intent", "question", "request"),
    ]


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        ("needs_answer", True, "true"),
        ("needs_answer", "false", "false"),
        ("needs_answer", 1, "true"),
        ("abuse", "yes", "true"),
        ("abuse", False, "false"),
        ("priority", 2, "2"),
        ("priority", "P1", "1"),
        ("intent", " Spam ", "spam"),
    ],
)
async def test_values_are_stored_in_one_canonical_form(
    engine: AsyncEngine, field: str, value: object, stored: str
) -> None:
    ws, agent = await workspace_with_agent(engine, "acme")
    await triaged(engine, ws, 7, "@Free panne internet depuis ce matin")
    correction = await correct(engine, ws, 7, agent, field, value)
    assert correction.new_value == stored
    before = await decided(engine, ws, 7)
    decided_value = {
        "needs_answer": "true" if before.needs_answer else "false",
        "abuse": "true" if before.abuse else "false",
        "priority": str(before.priority),
        "intent": before.intent,
    }[field]
    assert correction.old_value == decided_value


@pytest.mark.parametrize(
    ("field", "value", "pointer"),
    [
        ("followers", "1000", "field"),
        ("intent", "angry", "intent"),
        ("intent", 3, "intent"),
        ("needs_answer", "maybe", "needs_answer"),
        ("abuse", None, "abuse"),
        ("priority", 0, "priority"),
        ("priority", "P5", "priority"),
        ("priority", True, "priority"),
    ],
)
async def test_an_invalid_correction_is_refused_and_names_the_field(
    engine: AsyncEngine, field: str, value: object, pointer: str
) -> None:
    ws, agent = await workspace_with_agent(engine, "acme")
    await triaged(engine, ws, 3, "my bag never arrived")
    with pytest.raises(InvalidCorrection) as refused:
        await correct(engine, ws, 3, agent, field, value)
    assert refused.value.field == pointer
    async with engine.connect() as conn:
        assert await corrections_of(conn, ws, 3) == []


async def test_another_workspaces_message_cannot_be_corrected(engine: AsyncEngine) -> None:
    acme, acme_agent = await workspace_with_agent(engine, "acme")
    other, _ = await workspace_with_agent(engine, "other")
    await triaged(engine, other, 5, "my bag never arrived")
    with pytest.raises(UnknownMessage):
        await correct(engine, acme, 5, acme_agent, "needs_answer", False)
    with pytest.raises(UnknownMessage):
        await correct(engine, acme, 999, acme_agent, "needs_answer", False)


async def test_export_gives_the_latest_label_per_field_and_only_corrected_fields(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    acme, agent = await workspace_with_agent(engine, "acme")
    other, other_agent = await workspace_with_agent(engine, "other")
    await triaged(engine, acme, 1, "lol same")
    await triaged(engine, acme, 2, "plus d'internet depuis ce matin")
    await triaged(engine, acme, 3, "never corrected")
    await triaged(engine, other, 4, "my bag never arrived")
    await correct(engine, acme, 1, agent, "needs_answer", True)
    await correct(engine, acme, 1, agent, "needs_answer", False, at=NOW + timedelta(minutes=1))
    await correct(engine, acme, 1, agent, "intent", "banter")
    await correct(engine, acme, 2, agent, "abuse", True)
    await correct(engine, other, 4, other_agent, "priority", "P1")

    async with engine.connect() as conn:
        rows = await export(conn, acme)
        everyone = await export(conn)
    assert [
        (r["text"], r["needs_answer"], r["intent"], r["abuse"], r["priority"]) for r in rows
    ] == [
        ("lol same", "0", "banter", "", ""),
        ("plus d'internet depuis ce matin", "", "", "1", ""),
    ]
    assert len(everyone) == 3

    path = tmp_path / "corrections.csv"
    assert write_csv(everyone, path) == 3
    # make train reads the export like our other labels; an empty label stays unknown
    examples = {e.text: e for e in data.gold(path, "corrections")}
    assert examples["lol same"].needs_answer == 0
    assert examples["lol same"].intent == "banter"
    assert examples["lol same"].abuse is None
    assert examples["my bag never arrived"].needs_answer is None


async def test_the_cli_writes_the_corrections_file(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    ws, agent = await workspace_with_agent(engine, "acme")
    await triaged(engine, ws, 1, "great crew today, thanks!")
    await correct(engine, ws, 1, agent, "needs_answer", True)
    out = tmp_path / "labels" / "corrections.csv"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.triage",
        "export-corrections",
        "--out",
        str(out),
        env={**os.environ, "DATABASE_URL": database_url},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await process.communicate()
    assert process.returncode == 0
    assert b'"corrections":1' in stdout
    with out.open(encoding="utf-8", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["text"] == "great crew today, thanks!"
    assert row["needs_answer"] == "1"
