"""Search over a workspace's conversations: what a query asks for, and what a hit shows."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.search.store import HIGHLIGHT_START, HIGHLIGHT_STOP, search_messages

_TOKEN = re.compile(r"[0-9A-Za-z]+")
_HANDLE = re.compile(r"@?([\w.\-]{2,64})")
MIN_PREFIX = 4
"""Shorter tokens match whole only: "3" as a prefix would match every reference from 3."""


@dataclass(frozen=True, slots=True)
class Query:
    """A query as the store runs it: the words for full-text, a prefix query over the
    reference-like tokens (those with a digit), and a handle to match exactly."""

    words: str
    references: str
    handle: str


def parse_query(q: str) -> Query:
    """Tokens with digits ("ABX4TR", "order 12345") become prefixes from 4 characters,
    lower-cased and reduced to letters and digits so nothing in them is tsquery syntax; a
    single word (with or without its @) is also tried as an author's handle."""
    tokens = {t.lower() for t in _TOKEN.findall(q) if any(ch.isdigit() for ch in t)}
    references = " | ".join(t + ":*" if len(t) >= MIN_PREFIX else t for t in sorted(tokens))
    handle = _HANDLE.fullmatch(q.strip())
    return Query(q, references, handle.group(1).lower() if handle else "")


@dataclass(frozen=True, slots=True)
class Snippet:
    text: str
    highlights: list[tuple[int, int]]  # [start, end) offsets of the matched words


def split_snippet(marked: str) -> Snippet:
    """Plain text and the offsets of its matched words: no markup reaches a client, so a
    message's own ``<`` or ``&`` can never become HTML."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    start = 0
    length = 0
    for ch in marked:
        if ch == HIGHLIGHT_START:
            start = length
        elif ch == HIGHLIGHT_STOP:
            spans.append((start, length))
        else:
            out.append(ch)
            length += 1
    return Snippet("".join(out), spans)


async def search(
    conn: AsyncConnection, workspace_id: uuid.UUID, q: str, before: int | None, limit: int
) -> dict[str, object]:
    """One page of hits, newest first, and where the next page starts (None at the end)."""
    query = parse_query(q)
    rows = await search_messages(
        conn,
        workspace_id,
        words=query.words,
        references=query.references,
        handle=query.handle,
        before=before,
        limit=limit,
    )
    items = []
    for row in rows:
        snippet = split_snippet(row.pop("snippet"))
        items.append(
            row
            | {
                "priority": f"P{row['priority']}",
                "snippet": snippet.text,
                "highlights": [list(s) for s in snippet.highlights],
            }
        )
    following = rows[-1]["message_id"] if len(rows) == limit else None
    return {"items": items, "count": len(items), "next_before": following}
