"""Meta's private reply to a comment through the API: sent as a message to the commenter
from a Facebook comment conversation, refused (422) anywhere else."""

from __future__ import annotations

from typing import Any

import pytest

from ecoute.v1 import events_pb2
from tests.integration.test_reply_limits import held
from tests.support.facebook import FacebookDesk, facebook_desk
from tests.support.waiting import wait_until
from tests.support.world import bearer, message, scalar


@pytest.mark.parametrize(
    ("platform", "kind"), [("x", "mention"), ("messenger", "dm"), ("instagram", "dm")]
)
async def test_a_private_reply_outside_a_meta_comment_is_refused(
    desk: Any, database_url: str, platform: str, kind: str
) -> None:
    inbox, triage, ws = desk
    item = message(f"{platform}-p", "my refund is late", platform=platform, kind=kind)
    cid = await held(triage, inbox, ws, item)
    refused = await triage.post(
        f"/v1/conversations/{cid}/replies",
        json={"text": "Sorry, sending you a message", "private": True},
        headers=bearer(ws.agent_token),
    )
    assert refused.status == 422
    problem = await refused.json()
    assert problem["errors"][0]["pointer"] == "/private"
    assert "Facebook or Instagram comment" in problem["detail"]
    assert await scalar(database_url, "SELECT count(*) FROM triage.replies") == 0


async def test_a_private_reply_to_a_facebook_comment_is_asked_of_the_inbox(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws = desk
    item = message("fb-p", "charged twice!", platform="facebook", kind="comment")
    cid = await held(triage, inbox, ws, item)
    sent = await triage.post(
        f"/v1/conversations/{cid}/replies",
        json={"text": "Sorry! Which card?", "private": True},
        headers=bearer(ws.agent_token),
    )
    assert sent.status == 202, await sent.text()
    assert (await sent.json())["reply"]["private"] is True
    payload = await scalar(
        database_url, "SELECT payload FROM events.outbox WHERE topic = 'reply.requested' LIMIT 1"
    )
    assert events_pb2.ReplyRequested.FromString(bytes(payload)).private


facebook = facebook_desk  # the services, a connected Page and its fake (fixture)


async def test_a_private_reply_reaches_the_commenter_and_the_desk_shows_it(
    facebook: FacebookDesk,
) -> None:
    agent = await facebook.user("agent@example.com", "agent")
    comment = await facebook.commented("I was charged twice for my order")
    comment_id, cid = comment.id, comment.conversation_id
    path = f"/v1/conversations/{cid}"
    claimed = await facebook.triage.post(f"{path}/claim", headers=bearer(agent))
    assert claimed.status == 200, await claimed.text()
    sent = await facebook.triage.post(
        f"{path}/replies",
        json={"text": "Sorry! Which card was it?", "private": True},
        headers=bearer(agent),
    )
    assert sent.status == 202, await sent.text()
    replies: list[Any] = []

    async def delivered() -> bool:
        view = await (await facebook.triage.get(path, headers=bearer(agent))).json()
        replies[:] = view["replies"]
        return bool(replies) and replies[0]["state"] == "delivered"

    await wait_until(delivered, what="the private reply was never delivered")
    assert replies[0]["private"] is True
    assert [(s.kind, s.target, s.text) for s in facebook.meta.sends] == [
        ("private_reply", comment_id, "Sorry! Which card was it?")
    ]
