"""The composer's use cases: starting points for a reply (similar resolved conversations and
their answers, saved replies filled for this customer, the move to private messages), and
the rules a reply's starting point must pass before it is sent."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage.composer import store
from services.triage.domain import composer

SUGGESTIONS = 3
CANDIDATES = 30
"""Resolved conversations read by full-text rank, then ranked by the incidents' similarity."""
FLOOR = 0.2
"""The least similarity (estimated Jaccard of MinHash sketches) a resolved conversation needs
to be suggested: on 30 demo messages judged by hand, 8 of the 9 neighbours at or above 0.2
were about the same problem, 5 of the 17 below 0.15."""
_WORD = re.compile(r"[^\W_]{2,}")
_QUERY_WORDS = 40


class NoSuchConversation(LookupError):
    """No conversation with that id in the caller's workspace."""


class NoSuchSuggestion(LookupError):
    """No reply with that id in the caller's workspace."""


class RefusedStart(ValueError):
    """A reply whose starting point breaks a rule; ``pointer`` names the request's field."""

    def __init__(self, pointer: str, detail: str, message: str) -> None:
        super().__init__(message)
        self.pointer = pointer
        self.detail = detail


def config_of(language: str) -> str:
    """The text-search configuration of a conversation's language."""
    return "french" if language == "fr" else "english"


def query_words(texts: tuple[str, ...]) -> str:
    """The customer's words as a ``websearch_to_tsquery`` that any of them may match (its
    "or"; letters and digits only, so nothing in them is query syntax)."""
    words = dict.fromkeys(w.lower() for t in texts for w in _WORD.findall(t) if w.lower() != "or")
    return " or ".join(list(words)[:_QUERY_WORDS])


def values_for(customer: store.Customer) -> dict[str, str]:
    """What the placeholders of a saved reply become in this conversation."""
    return {
        "name": composer.first_name(customer.display_name),
        "handle": f"@{customer.handle}" if customer.handle else "",
        "reference": composer.latest_reference(customer.texts),
    }


async def _customer(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int
) -> store.Customer:
    found = await store.customer(conn, workspace_id, conversation_id)
    if found is None:
        raise NoSuchConversation(conversation_id)
    return found


async def suggestions(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int
) -> dict[str, Any]:
    """Up to three resolved conversations like this one with the answers that resolved
    them, the saved replies filled for this customer, and the move to private messages."""
    customer = await _customer(conn, workspace_id, conversation_id)
    words = query_words(customer.texts)
    similar = await _similar(conn, workspace_id, conversation_id, customer, words)
    values = values_for(customer)
    for row in similar:
        row["text"] = await _for_this_customer(
            conn, workspace_id, row["text"], row["conversation_id"], values
        )
    saved = []
    for item in await store.saved_replies(conn, workspace_id):
        filled = composer.fill(item["text"], values)
        saved.append(item | {"text": filled.text, "unfilled": list(filled.unfilled)})
    handle, account = await store.brand_account(conn, workspace_id, customer.channel)
    move = composer.invitation(customer.platform, customer.kind, values["name"], handle, account)
    return {
        "suggestions": [_suggestion(row) for row in similar],
        "saved_replies": saved,
        "private": {"offered": move.offered, "text": move.text or None, "reason": move.reason},
    }


async def _similar(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    conversation_id: int,
    customer: store.Customer,
    words: str,
) -> list[dict[str, Any]]:
    """Full-text finds the candidates (an index read), the incidents' similarity ranks them:
    measured on the demo corpus, ``ts_rank`` alone put one shared common word ("toujours",
    "booking") first as often as the same problem, and has no usable floor."""
    if not words:
        return []
    rows = await store.similar_resolved(
        conn,
        workspace_id,
        conversation_id,
        config=config_of(customer.language),
        words=words,
        limit=CANDIDATES,
    )
    by_id = {row["conversation_id"]: row for row in rows}
    candidates = [(row["conversation_id"], row["customer_text"]) for row in rows]
    ranked = composer.closest(" ".join(customer.texts), candidates, FLOOR, SUGGESTIONS)
    return [by_id[cid] | {"score": score} for cid, score in ranked]


async def _for_this_customer(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    answer: str,
    answered: int,
    values: dict[str, str],
) -> str:
    """An answer to another customer as a starting point for this one: their name, handle
    and references out, this customer's in (or placeholders left to fill)."""
    earlier = await store.customer(conn, workspace_id, answered)
    if earlier is not None:
        answer = composer.generalise(
            answer, values_for(earlier), composer.references(earlier.texts)
        )
    return composer.fill(answer, values).text


async def _suggested(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int, reply_id: uuid.UUID
) -> str:
    """The suggestion's text as this conversation's customer gets it."""
    customer = await _customer(conn, workspace_id, conversation_id)
    found = await store.reply(conn, workspace_id, reply_id)
    if found is None:
        raise NoSuchSuggestion(reply_id)
    answer, answered = found
    return await _for_this_customer(conn, workspace_id, answer, answered, values_for(customer))


def _suggestion(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "conversation_id": row["conversation_id"],
        "platform": row["platform"],
        "customer_text": row["customer_text"],
        "text": row["text"],
        "answered_at": row["created_at"],
        "score": round(float(row["score"]), 4),
    }


async def use_suggestion(
    conn: AsyncConnection, workspace_id: uuid.UUID, conversation_id: int, reply_id: uuid.UUID
) -> str:
    """The text of a suggestion the agent puts in the reply box (never sent from here)."""
    return await _suggested(conn, workspace_id, conversation_id, reply_id)


@dataclass(frozen=True, slots=True)
class Start:
    """Whether a reply is its starting point word for word (a saved reply: filled or not)."""

    unchanged: bool


async def check_saved_start(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    conversation_id: int,
    saved_id: uuid.UUID,
    reply: str,
) -> Start:
    """A reply that started from a saved reply: refused when that saved reply would reach a
    second person word for word (``composer.unchanged_to_many``)."""
    template = await store.saved_reply_text(conn, workspace_id, saved_id)
    if template is None:
        raise RefusedStart("/saved_reply_id", "not found", "no such reply.")
    customer = await _customer(conn, workspace_id, conversation_id)
    filled = composer.fill(template, values_for(customer)).text
    unchanged = composer.same_text(reply, template) or composer.same_text(reply, filled)
    if unchanged and composer.unchanged_to_many(
        customer.person, await store.people_sent_unchanged(conn, workspace_id, saved_id)
    ):
        raise RefusedStart(
            "/text",
            "saved reply unchanged",
            "this saved reply already went word for word to another person: edit it for "
            "this one before sending.",
        )
    return Start(unchanged)


async def check_suggestion_start(
    conn: AsyncConnection,
    workspace_id: uuid.UUID,
    conversation_id: int,
    reply_id: uuid.UUID,
    reply: str,
) -> Start:
    """A reply that started from a suggestion: whether it was sent as suggested."""
    try:
        suggested = await _suggested(conn, workspace_id, conversation_id, reply_id)
    except NoSuchSuggestion:
        raise RefusedStart("/suggestion_id", "not found", "no such suggestion.") from None
    return Start(composer.same_text(reply, suggested))


def check_placeholders(reply: str) -> None:
    """A reply still holding a placeholder is refused, the placeholder named."""
    left = composer.unfilled(reply)
    if left:
        names = ", ".join("{" + p + "}" for p in left)
        raise RefusedStart(
            "/text",
            f"unfilled placeholder {names}",
            f"replace {names} with this person's details before sending.",
        )
