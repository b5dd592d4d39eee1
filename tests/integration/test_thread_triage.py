"""Triage reads the conversation: a customer's reply is decided after what the brand said.

Through the real services and database: the inbox threads the messages, the triage consumer
passes the brand's last message to the decision, the queue shows the result.
"""

from __future__ import annotations

from typing import Any

from tests.support.world import ago, answer_when, ingest, make_workspace, message

BAG = "My bag never arrived at JFK, can you help?"


def _brand(external_id: str, text: str, in_reply_to: str, minutes_ago: int) -> dict[str, Any]:
    return message(
        external_id,
        text,
        author="brand",
        kind="reply",
        direction="out",
        in_reply_to=in_reply_to,
        created_at=ago(minutes=minutes_ago),
    )


def _customer(external_id: str, text: str, in_reply_to: str, author: str) -> dict[str, Any]:
    return message(
        external_id,
        text,
        author=author,
        kind="reply",
        in_reply_to=in_reply_to,
        created_at=ago(minutes=1),
    )


async def _last_triage(triage: Any, token: str, conversation_id: int) -> dict[str, Any]:
    body = await answer_when(
        triage,
        f"/v1/conversations/{conversation_id}",
        token,
        lambda c: len(c["messages"]) == 3 and c["messages"][-1]["triage"] is not None,
    )
    return dict(body["messages"][-1]["triage"])


async def test_a_bare_reference_the_brand_asked_for_reaches_the_queue(
    services: tuple[Any, Any], database_url: str
) -> None:
    """Alone, "ABX4TR" says nothing; after "DM us your booking reference" it is the case
    going on, and the conversation is back in the queue."""
    inbox, triage = services
    ws = await make_workspace(database_url)
    (first,) = await ingest(
        inbox, ws.ingest_token, message("q1", BAG, author="7", created_at=ago(minutes=30))
    )
    await ingest(
        inbox,
        ws.ingest_token,
        _brand("b1", "So sorry! Please DM us your booking reference.", "q1", minutes_ago=20),
    )
    await answer_when(triage, "/v1/queue", ws.agent_token, lambda q: q["count"] == 0)
    await ingest(inbox, ws.ingest_token, _customer("q2", "ABX4TR", "b1", author="7"))
    decided = await _last_triage(triage, ws.agent_token, first["conversation_id"])
    assert decided["needs_answer"] is True
    assert decided["reasons"] == ["sends the details the brand asked for"]
    queue = await answer_when(triage, "/v1/queue", ws.agent_token, lambda q: q["count"] == 1)
    assert queue["items"][0]["conversation_id"] == first["conversation_id"]


async def test_a_thanks_after_the_brand_answered_closes_it_even_in_one_batch(
    services: tuple[Any, Any], database_url: str
) -> None:
    """The brand's answer and the customer's "ok" arrive together (one batch): the "ok"
    is read after that answer and nothing reaches an agent."""
    inbox, triage = services
    ws = await make_workspace(database_url)
    (first,) = await ingest(
        inbox, ws.ingest_token, message("q1", BAG, author="8", created_at=ago(minutes=30))
    )
    await answer_when(triage, "/v1/queue", ws.agent_token, lambda q: q["count"] == 1)
    await ingest(
        inbox,
        ws.ingest_token,
        _brand("b1", "Found it: your bag will be delivered tonight.", "q1", minutes_ago=5),
        _customer("q2", "ok", "b1", author="8"),
    )
    decided = await _last_triage(triage, ws.agent_token, first["conversation_id"])
    assert decided["needs_answer"] is False
    assert decided["reasons"] == ["closes the conversation"]
    await answer_when(triage, "/v1/queue", ws.agent_token, lambda q: q["count"] == 0)
