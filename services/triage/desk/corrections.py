"""Agents' corrections of triage: stored with who and when, exported as training labels.

An agent may correct a message's ``intent``, ``needs_answer``, ``abuse`` or ``priority``.
Each correction is one row (the history is kept: old value, new value, user, time); the
latest correction of a field is the label. ``export`` writes one row per corrected message
with its text and corrected labels, in the format ``make train`` reads
(``data/labels/corrections.csv``); a label nobody corrected is left empty, so the model is
never trained on its own decisions.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.desk import store
from services.triage.domain.model import INTENTS

FIELDS = ("intent", "needs_answer", "abuse", "priority")
EXPORT_COLUMNS = ("id", "lang", "text", "needs_answer", "intent", "abuse", "priority")


class InvalidCorrection(ValueError):
    """A correction that names an unknown field or a value the field cannot take."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class UnknownMessage(LookupError):
    """No such message in this workspace."""


@dataclass(frozen=True, slots=True)
class Correction:
    workspace_id: uuid.UUID
    id: int
    message_id: int
    field: str
    old_value: str | None
    new_value: str
    user_id: uuid.UUID
    created_at: datetime


_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def canonical_value(field: str, value: object) -> str:
    """The stored form of ``value`` for ``field``, or InvalidCorrection."""
    if field not in FIELDS:
        raise InvalidCorrection("field", f"must be one of {', '.join(FIELDS)}")
    if field == "intent":
        name = value.strip().lower() if isinstance(value, str) else None
        if name not in INTENTS:
            raise InvalidCorrection(field, f"must be one of {', '.join(INTENTS)}")
        return name
    if field in ("needs_answer", "abuse"):
        if isinstance(value, bool):
            return "true" if value else "false"
        word = str(value).strip().lower() if isinstance(value, str | int) else ""
        if word in _TRUE:
            return "true"
        if word in _FALSE:
            return "false"
        raise InvalidCorrection(field, "must be true or false")
    # priority: 1..4, also written "P1".."P4"
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        digits = value.strip().upper().removeprefix("P")
        number = int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 3 else 0
    else:
        number = 0
    if number not in (1, 2, 3, 4):
        raise InvalidCorrection(field, "must be 1, 2, 3 or 4 (P1 to P4)")
    return str(number)


def _decided(row: Any, field: str) -> str | None:
    value = getattr(row, field)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def record_correction(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    message_id: int,
    user_id: uuid.UUID,
    field: str,
    value: object,
    now: datetime,
) -> Correction:
    """Store one correction; the old value is the latest correction's, else the decision's.

    The message row is locked for the statement's transaction, so two agents correcting the
    same message at once each record the value the other replaced.
    """
    new = canonical_value(field, value)
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    row = await store.lock_labels(conn, workspace_id, message_id, field)
    if row is None:
        raise UnknownMessage(f"message {message_id} is not in this workspace")
    old = row.corrected if row.corrected is not None else _decided(row, field)
    correction_id = await store.insert_correction(
        conn,
        {
            "ws": workspace_id,
            "message": message_id,
            "field": field,
            "old": old,
            "new": new,
            "user": user_id,
            "now": now,
        },
    )
    return Correction(workspace_id, correction_id, message_id, field, old, new, user_id, now)


async def corrections_of(
    conn: AsyncConnection, workspace_id: uuid.UUID, message_id: int
) -> list[Correction]:
    """A message's correction history, oldest first."""
    rows = await store.correction_rows(conn, workspace_id, message_id)
    return [Correction(*r) for r in rows]


async def export(
    conn: AsyncConnection, workspace_id: uuid.UUID | None = None
) -> list[dict[str, str]]:
    """One row per corrected message: its text and its latest label per corrected field.

    ``workspace_id`` None exports every workspace (the operator's training run).
    """
    rows = await store.latest_corrections(conn, workspace_id)
    labels: dict[tuple[uuid.UUID, int], dict[str, str]] = {}
    for r in rows:
        record = labels.setdefault(
            (r.workspace_id, r.message_id),
            {
                "id": f"correction-{r.workspace_id}-{r.message_id}",
                "lang": r.language or "",
                "text": r.text,
                **dict.fromkeys(FIELDS, ""),
            },
        )
        value = r.new_value
        if r.field in ("needs_answer", "abuse"):
            value = "1" if value == "true" else "0"
        record[r.field] = value
    return [labels[key] for key in sorted(labels, key=lambda k: (str(k[0]), k[1]))]


def write_csv(rows: Sequence[dict[str, str]], path: Path) -> int:
    """Write the export in the labels format ``make train`` reads; returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
