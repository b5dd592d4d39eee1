"""The queue's saved views through the API: nobody's conversations, and one channel's."""

from __future__ import annotations

from typing import Any

from tests.integration.test_reply_limits import held
from tests.support.world import bearer, ingest, message


async def test_unassigned_and_channel_views(desk: Any) -> None:
    inbox, triage, ws = desk
    await held(triage, inbox, ws, message("q1", "my internet is down", author="1"))
    await ingest(
        inbox,
        ws.ingest_token,
        message("q2", "my parcel never arrived", author="2"),
        message("q3", "ma box ne marche plus", author="3", channel="support-fr"),
    )

    async def queue(query: str) -> list[str]:
        for _ in range(100):
            answer = await triage.get(f"/v1/queue?{query}", headers=bearer(ws.agent_token))
            assert answer.status == 200, await answer.text()
            items = (await answer.json())["items"]
            if query or len(items) == 3:
                return sorted(i["latest_message"]["author"]["handle"] for i in items)
        raise AssertionError("the queue never had the three conversations")

    assert await queue("") == ["user1", "user2", "user3"]
    assert await queue("unassigned=true") == ["user2", "user3"]
    assert await queue("channel=support-fr") == ["user3"]
    assert await queue("channel=support-en&unassigned=true") == ["user2"]
    assert await queue("channel=nowhere") == []
    refused = await triage.get("/v1/queue?channel=", headers=bearer(ws.agent_token))
    assert refused.status == 422
    assert (await refused.json())["errors"][0]["pointer"] == "/query/channel"
