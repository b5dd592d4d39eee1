"""The fake Threads API follows docs/platforms/threads.md, so connector tests against it mean
something: only the fields asked for, newest first with ``after`` cursors, a container
published once, hiding only a top-level reply to the brand's own post."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from fakes.clock import ManualClock
from fakes.threads import ThreadsState

TOKEN = ThreadsState.access_token
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def state(clock: ManualClock) -> ThreadsState:
    return ThreadsState(clock=clock)


async def get(client: TestClient[Any, Any], path: str, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=AUTH)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_a_conversation_pages_newest_first_with_only_the_fields_asked(
    client: TestClient[Any, Any], state: ThreadsState, clock: ManualClock
) -> None:
    post = state.post("Our timetable")
    ids = []
    for n in range(3):
        clock.advance(60)
        ids.append(state.reply(f"user{n}", f"question {n}", post)["id"])
    path = f"/v1.0/{post}/conversation"
    first = await get(client, path, fields="id,username", limit=2, reverse="true")
    assert [i["id"] for i in first["data"]] == [ids[2], ids[1]]
    assert set(first["data"][0]) == {"id", "username"}
    after = first["paging"]["cursors"]["after"]
    second = await get(client, path, fields="id", limit=2, reverse="true", after=after)
    assert [i["id"] for i in second["data"]] == [ids[0]]
    assert "next" not in second["paging"]  # Threads gives cursors, not links, on these edges


async def test_a_reply_is_a_container_then_one_publication(
    client: TestClient[Any, Any], state: ThreadsState
) -> None:
    asked = state.reply("lea_m", "is my train on time?", state.post("Strike"))
    made = await client.post(
        f"/v1.0/{state.user_id}/threads",
        params={"media_type": "TEXT", "text": "It is.", "reply_to_id": asked["id"]},
        headers=AUTH,
    )
    creation = (await made.json())["id"]
    assert state.brand_replies() == []  # a container is not a post
    publish = f"/v1.0/{state.user_id}/threads_publish"
    published = await client.post(publish, data={"creation_id": creation}, headers=AUTH)
    (reply,) = state.brand_replies()
    assert (await published.json()) == {"id": reply["id"]}
    assert reply["replied_to"] == {"id": asked["id"]} and reply["is_reply_owned_by_me"]
    again = await client.post(publish, data={"creation_id": creation}, headers=AUTH)
    assert again.status == 400 and len(state.brand_replies()) == 1
    limit = await get(
        client, f"/v1.0/{state.user_id}/threads_publishing_limit", fields="reply_quota_usage"
    )
    assert limit["data"][0]["reply_quota_usage"] == 1


async def test_only_a_top_level_reply_to_the_brands_post_can_be_hidden(
    client: TestClient[Any, Any], state: ThreadsState
) -> None:
    top = state.reply("troll", "thieves", state.post("Strike"))
    nested = state.reply("other", "agreed", top["id"])
    elsewhere = state.reply("troll", "lol", state.post("my cat", username="someone"))
    for media, status in ((top, 200), (nested, 400), (elsewhere, 400)):
        answer = await client.post(
            f"/v1.0/{media['id']}/manage_reply", data={"hide": "true"}, headers=AUTH
        )
        assert answer.status == status
    assert [state.is_hidden(m["id"]) for m in (top, nested, elsewhere)] == [True, False, False]


async def test_a_dead_token_is_error_190(client: TestClient[Any, Any], state: ThreadsState) -> None:
    state.expire_token()
    answer = await client.get(f"/v1.0/{state.user_id}/mentions", headers=AUTH)
    assert answer.status == 401 and (await answer.json())["error"]["code"] == 190
