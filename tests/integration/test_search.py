"""Search through the API: French and English stemming, references, handles, scope, erasure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.infra.db import create_engine
from services.triage.privacy.store import erase_content
from services.triage.search import store
from tests.support.world import answer_when, bearer, ingest, make_workspace, message

MESSAGES = [
    message("s1", "Bonjour, je voudrais me faire rembourser ma commande", author="11"),
    message("s2", "My flight was cancelled and nobody answers", author="12", minutes=1),
    message("s3", "Booking ABX4TR: the hotel never confirmed", author="13", minutes=2),
    message("s4", "Where is my parcel? It has been a week", author="14", minutes=3),
    message("s5", "Remboursement toujours pas reçu, c'est scandaleux", author="15", minutes=4),
]


async def customers_wrote(inbox: Any, ws: Any) -> dict[str, int]:
    """MESSAGES ingested; their conversations by external id."""
    items = await ingest(inbox, ws.ingest_token, *MESSAGES)
    return {i["external_id"]: i["conversation_id"] for i in items}


async def hits(triage: Any, token: str, q: str, expected: int | None = None) -> list[Any]:
    """The hits for ``q`` once ``expected`` of them are there (triage works in the background)."""
    body = await answer_when(
        triage,
        "/v1/search",
        token,
        lambda b: expected is None or b["count"] == expected,
        q=q,
    )
    return list(body["items"])


async def test_words_references_and_handles_find_their_conversations(desk: Any) -> None:
    inbox, triage, ws = desk
    ids = await customers_wrote(inbox, ws)
    token = ws.agent_token

    refund = await hits(triage, token, "remboursement", expected=2)
    assert [h["conversation_id"] for h in refund] == [ids["s5"], ids["s1"]]  # newest first
    first = refund[1]
    start, end = first["highlights"][0]
    assert first["snippet"][start:end] == "rembourser"
    assert first["author_handle"] == "user11" and first["platform"] == "x"
    assert first["status"] == "open" and first["priority"].startswith("P")

    cancelled = await hits(triage, token, "cancellation", expected=1)
    assert cancelled[0]["conversation_id"] == ids["s2"]
    assert [h["conversation_id"] for h in await hits(triage, token, "ABX4TR", 1)] == [ids["s3"]]
    assert [h["conversation_id"] for h in await hits(triage, token, "abx4", 1)] == [ids["s3"]]
    assert [h["conversation_id"] for h in await hits(triage, token, "@user14", 1)] == [ids["s4"]]
    assert await hits(triage, token, "refrigerator") == []

    page = await answer_when(
        triage, "/v1/search", token, lambda b: True, q="remboursement", limit="1"
    )
    assert page["count"] == 1 and page["next_before"] is not None
    rest = await answer_when(
        triage,
        "/v1/search",
        token,
        lambda b: True,
        q="remboursement",
        before=str(page["next_before"]),
    )
    assert [h["conversation_id"] for h in rest["items"]] == [ids["s1"]]


async def test_common_words_walk_the_newest_messages_to_the_same_hits(
    desk: Any, monkeypatch: Any
) -> None:
    """Past ``RARE`` matches the store walks the newest messages instead of the indexes."""
    inbox, triage, ws = desk
    await customers_wrote(inbox, ws)
    by_index = await hits(triage, ws.agent_token, "remboursement", expected=2)
    monkeypatch.setattr(store, "RARE", 1)
    assert await hits(triage, ws.agent_token, "remboursement") == by_index
    assert len(await hits(triage, ws.agent_token, "@user13")) == 1


async def test_another_workspace_and_erased_messages_are_never_found(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws = desk
    await customers_wrote(inbox, ws)
    found = await hits(triage, ws.agent_token, "ABX4TR", expected=1)

    other = await make_workspace(database_url, "Other care")
    assert await hits(triage, other.agent_token, "ABX4TR") == []
    assert await hits(triage, other.agent_token, "user13") == []

    engine = create_engine(database_url, 1)
    try:
        async with engine.begin() as conn:
            await erase_content(conn, ws.id, [found[0]["message_id"]], [], [], datetime.now(UTC))
    finally:
        await engine.dispose()
    assert await hits(triage, ws.agent_token, "ABX4TR") == []
    assert await hits(triage, ws.agent_token, "@user13") == []


async def test_a_query_too_short_is_refused_with_what_to_send(desk: Any) -> None:
    _, triage, ws = desk
    for q in ("", "a", "  b "):
        answer = await triage.get("/v1/search", params={"q": q}, headers=bearer(ws.agent_token))
        assert answer.status == 422
        body = await answer.json()
        assert body["errors"][0]["pointer"] == "/query/q"
        assert "at least 2 characters" in body["detail"]
    answer = await triage.get(
        "/v1/search", params={"q": "ok", "limit": "51"}, headers=bearer(ws.agent_token)
    )
    assert answer.status == 422
    assert (await triage.get("/v1/search?q=refund")).status == 401
