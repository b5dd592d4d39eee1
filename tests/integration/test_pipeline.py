"""End to end: messages ingested by inbox are triaged and reach the agents' queue."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.world import (
    answer_when,
    bearer,
    ingest,
    make_workspace,
    message,
)


async def test_problems_reach_the_queue_by_priority_then_wait_and_chatter_does_not(
    services: tuple[Any, Any], database_url: str
) -> None:
    inbox, triage = services
    ws = await make_workspace(database_url)
    await ingest(
        inbox,
        ws.ingest_token,
        message("q1", "How do I change the date of my flight?", minutes=0, author="1"),
        message(
            "p1",
            "No internet since this morning, the whole street is down, outage!",
            minutes=30,
            author="2",
        ),
        message("q2", "Can I bring my bike on the train? Is there a form?", minutes=10, author="3"),
        message("b1", "Great crew today, thanks!", minutes=5, author="4"),
        message(
            "s1", "Follow me and check out my channel for free giveaways", minutes=6, author="5"
        ),
    )
    body = await answer_when(triage, "/v1/queue", ws.agent_token, lambda q: q["count"] >= 3)
    ids = [item["latest_message"]["text"][:10] for item in body["items"]]
    assert len(body["items"]) == 3, ids
    priorities = [item["priority"] for item in body["items"]]
    assert priorities == sorted(priorities)
    assert body["items"][0]["latest_message"]["text"].startswith("No internet")
    questions = [i for i in body["items"] if i["priority"] == body["items"][-1]["priority"]]
    assert [i["waiting_since"] for i in questions] == sorted(i["waiting_since"] for i in questions)
    for item in body["items"]:
        assert item["reasons"], "every queued conversation says why"
        assert item["latest_message"]["author"]["handle"].startswith("user")


async def test_a_follow_up_while_waiting_keeps_one_entry_and_the_first_wait(
    services: tuple[Any, Any], database_url: str
) -> None:
    inbox, triage = services
    ws = await make_workspace(database_url)
    await ingest(inbox, ws.ingest_token, message("a", "My bag never arrived", author="8"))
    await answer_when(triage, "/v1/queue", ws.agent_token, lambda q: q["count"] == 1)
    await ingest(
        inbox,
        ws.ingest_token,
        message(
            "b",
            "still waiting for an answer about my bag??",
            minutes=45,
            author="8",
            in_reply_to="a",
        ),
    )
    body = await answer_when(
        triage,
        "/v1/queue",
        ws.agent_token,
        lambda q: q["count"] == 1 and q["items"][0]["latest_message"]["text"].startswith("still"),
    )
    assert body["items"][0]["waiting_since"] == "2026-11-21T09:00:00Z"


async def test_the_brands_reply_takes_the_conversation_out_of_the_queue(
    services: tuple[Any, Any], database_url: str
) -> None:
    inbox, triage = services
    ws = await make_workspace(database_url)
    await ingest(
        inbox, ws.ingest_token, message("m1", "I was charged twice for my order", author="6")
    )
    await answer_when(triage, "/v1/queue", ws.agent_token, lambda q: q["count"] == 1)
    await ingest(
        inbox,
        ws.ingest_token,
        message(
            "m2",
            "Sorry about that, refund on its way",
            minutes=3,
            author="brand",
            kind="reply",
            direction="out",
            in_reply_to="m1",
        ),
    )
    await answer_when(triage, "/v1/queue", ws.agent_token, lambda q: q["count"] == 0)


async def test_agents_see_only_their_workspace(
    services: tuple[Any, Any], database_url: str
) -> None:
    inbox, triage = services
    acme = await make_workspace(database_url, "Acme")
    globex = await make_workspace(database_url, "Globex")
    await ingest(inbox, acme.ingest_token, message("1", "My account is locked, help"))
    await answer_when(triage, "/v1/queue", acme.agent_token, lambda q: q["count"] == 1)
    other = await triage.get("/v1/queue", headers=bearer(globex.agent_token))
    assert (await other.json())["items"] == []


@pytest.mark.parametrize("limit", ["0", "501", "abc", "-1"])
async def test_queue_limit_out_of_range_is_422(
    services: tuple[Any, Any], database_url: str, limit: str
) -> None:
    _, triage = services
    ws = await make_workspace(database_url)
    response = await triage.get(
        "/v1/queue", params={"limit": limit}, headers=bearer(ws.agent_token)
    )
    assert response.status == 422
    assert (await response.json())["errors"][0]["pointer"] == "/query/limit"


async def test_queue_limit_is_honoured(services: tuple[Any, Any], database_url: str) -> None:
    inbox, triage = services
    ws = await make_workspace(database_url)
    await ingest(
        inbox,
        ws.ingest_token,
        *[
            message(str(n), "my package never arrived, where is it?", author=str(n), minutes=n)
            for n in range(5)
        ],
    )
    await answer_when(triage, "/v1/queue", ws.agent_token, lambda q: q["count"] == 5)
    body = await answer_when(triage, "/v1/queue", ws.agent_token, lambda q: True, limit=2)
    assert body["count"] == 2


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Token x"])
async def test_queue_without_a_valid_token_is_401(
    services: tuple[Any, Any], authorization: str | None
) -> None:
    _, triage = services
    headers = {"Authorization": authorization} if authorization else {}
    response = await triage.get("/v1/queue", headers=headers)
    assert response.status == 401
    assert response.content_type == "application/problem+json"
