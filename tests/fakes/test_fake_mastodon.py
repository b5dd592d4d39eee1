"""The fake Mastodon follows platforms.md §3, so connector tests against it mean something."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from fakes.clock import ManualClock
from fakes.mastodon import MastodonState, status_html
from tests.fakes import T0, serve

TOKEN = "mastodon-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOTIFICATIONS = "/api/v1/notifications"


@pytest.fixture
def state(clock: ManualClock) -> MastodonState:
    return MastodonState(clock=clock)


def links(header: str | None) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', header or "")}


def add_mentions(state: MastodonState, n: int) -> list[str]:
    """``n`` mentions a minute apart; returns notification ids, oldest first."""
    return [
        state.add_mention(
            f"user{i}@example.social", status_html(f"@acme help {i}"), T0 + timedelta(minutes=i)
        ).notification_id
        for i in range(n)
    ]


async def get_ids(client: TestClient[Any, Any], query: str) -> tuple[list[str], Any]:
    resp = await client.get(f"{NOTIFICATIONS}?{query}", headers=AUTH)
    assert resp.status == 200
    return [n["id"] for n in await resp.json()], resp


async def test_min_id_catch_up_following_prev_links_sees_everything_once(
    client: TestClient[Any, Any], state: MastodonState
) -> None:
    ids = add_mentions(state, 57)
    last_seen = ids[9]
    page, resp = await get_ids(client, f"types[]=mention&min_id={last_seen}&limit=20")
    assert page == ids[10:30][::-1], "min_id returns the page just above the cursor, newest first"
    caught_up = list(reversed(page))
    while page:
        prev = links(resp.headers.get("Link"))["prev"]
        assert "types%5B%5D=mention" in prev and "limit=20" in prev
        resp = await client.session.get(prev, headers=AUTH)
        page = [n["id"] for n in await resp.json()]
        caught_up += reversed(page)
    assert caught_up == ids[10:]
    assert "Link" not in resp.headers, "an empty page has no Link header (mastodon#25495)"


async def test_next_links_walk_older_pages_to_the_end(
    client: TestClient[Any, Any], state: MastodonState
) -> None:
    ids = add_mentions(state, 95)
    page, resp = await get_ids(client, "types[]=mention")
    assert len(page) == 40, "default limit is 40"
    seen = list(page)
    while "next" in links(resp.headers.get("Link")):
        resp = await client.session.get(links(resp.headers["Link"])["next"], headers=AUTH)
        seen += [n["id"] for n in await resp.json()]
    assert seen == ids[::-1]


async def test_since_id_gives_the_newest_page_min_id_the_next_one(
    client: TestClient[Any, Any], state: MastodonState
) -> None:
    ids = add_mentions(state, 30)
    newest, _ = await get_ids(client, f"since_id={ids[4]}&limit=5")
    adjacent, _ = await get_ids(client, f"min_id={ids[4]}&limit=5")
    assert newest == ids[-5:][::-1]
    assert adjacent == ids[5:10][::-1]
    older, _ = await get_ids(client, f"max_id={ids[4]}")
    assert older == ids[:4][::-1]


async def test_limit_is_capped_at_80(client: TestClient[Any, Any], state: MastodonState) -> None:
    add_mentions(state, 100)
    page, _ = await get_ids(client, "limit=500")
    assert len(page) == 80


async def test_a_status_id_used_as_cursor_returns_nothing(
    client: TestClient[Any, Any], state: MastodonState
) -> None:
    add_mentions(state, 3)
    status_id = next(iter(state.statuses))
    page, resp = await get_ids(client, f"min_id={status_id}")
    assert page == [] and "Link" not in resp.headers


async def test_types_and_exclude_types_filters(
    client: TestClient[Any, Any], state: MastodonState
) -> None:
    mention = add_mentions(state, 1)[0]
    status_id = next(iter(state.statuses))
    fav = state.add_notification("favourite", "fan@example.social", status_id, T0)
    follow = state.add_notification("follow", "fan@example.social", None, T0)
    assert (await get_ids(client, "types[]=mention"))[0] == [mention]
    both, _ = await get_ids(client, "types[]=mention&types[]=follow")
    assert both == [follow, mention]
    assert (await get_ids(client, "exclude_types[]=mention"))[0] == [follow, fav]


async def test_notification_and_status_wire_shape(
    client: TestClient[Any, Any], state: MastodonState
) -> None:
    original = state.add_status(state.brand, "<p>Our new store is open</p>", T0)
    html = status_html('@acme my order & refund? 😡 it\'s "late" #help https://example.com/o/1')
    ids = state.add_mention(
        "zsc@example.social", html, T0 + timedelta(minutes=1), in_reply_to_id=original
    )
    dm = state.add_mention(
        "zsc@example.social",
        status_html("@acme my address is private"),
        T0 + timedelta(minutes=2),
        visibility="direct",
        language=None,
    )
    body = await (await client.get(NOTIFICATIONS, headers=AUTH)).json()
    assert [n["id"] for n in body] == [dm.notification_id, ids.notification_id]
    public = body[1]
    assert public["type"] == "mention" and public["group_key"] == f"ungrouped-{public['id']}"
    assert isinstance(public["id"], str) and public["id"] != public["status"]["id"]
    status = public["status"]
    assert status["id"] == ids.status_id and status["visibility"] == "public"
    assert status["in_reply_to_id"] == original
    assert status["in_reply_to_account_id"] == state.brand_id
    assert status["account"]["acct"] == "zsc@example.social"
    assert status["mentions"][0]["acct"] == "acme"
    assert status["created_at"] == "2024-05-13T10:01:00.000Z"
    assert status["edited_at"] is None and status["language"] == "en"
    assert "&amp; refund?" in status["content"]
    assert "it&#39;s &quot;late&quot;" in status["content"]
    assert 'class="u-url mention">@<span>acme</span></a>' in status["content"]
    assert 'class="mention hashtag" rel="tag">#<span>help</span>' in status["content"]
    assert '<span class="invisible">https://</span>' in status["content"]
    assert status["content"].startswith("<p>")
    assert body[0]["status"]["visibility"] == "direct" and body[0]["status"]["language"] is None


def test_status_html_can_render_remote_style_without_paragraphs() -> None:
    html = status_html("@acme@mastodon.example hi\nthere", paragraphs=False)
    assert html.startswith('<span class="h-card"') and "<br />" in html


async def test_edit_keeps_the_id_sets_edited_at_and_adds_no_notification(
    client: TestClient[Any, Any], state: MastodonState, clock: ManualClock
) -> None:
    ids = state.add_mention("a@example.social", status_html("@acme broken"), T0)
    clock.advance(300)
    state.edit_status(ids.status_id, "<p>fixed &amp; fine</p>")
    body = await (await client.get(NOTIFICATIONS, headers=AUTH)).json()
    assert len(body) == 1 and body[0]["id"] == ids.notification_id
    refetched = await (await client.get(f"/api/v1/statuses/{ids.status_id}", headers=AUTH)).json()
    assert refetched["id"] == ids.status_id
    assert refetched["content"] == "<p>fixed &amp; fine</p>"
    assert refetched["edited_at"] == "2024-05-13T10:05:00.000Z"


async def test_deleted_status_is_404_and_its_notification_vanishes(
    client: TestClient[Any, Any], state: MastodonState
) -> None:
    ids = state.add_mention("a@example.social", status_html("@acme oops"), T0)
    state.delete_status(ids.status_id)
    resp = await client.get(f"/api/v1/statuses/{ids.status_id}", headers=AUTH)
    assert resp.status == 404 and await resp.json() == {"error": "Record not found"}
    assert (await get_ids(client, ""))[0] == []


async def test_idempotency_key_returns_the_same_status_within_an_hour(
    client: TestClient[Any, Any], state: MastodonState, clock: ManualClock
) -> None:
    ids = state.add_mention("zsc@example.social", status_html("@acme help"), T0)
    form = {"status": "@zsc@example.social we're on it", "in_reply_to_id": ids.status_id}
    headers = {**AUTH, "Idempotency-Key": "0b7e1c"}
    first = await client.post("/api/v1/statuses", data=form, headers=headers)
    assert first.status == 200
    created = await first.json()
    assert created["in_reply_to_id"] == ids.status_id
    assert created["in_reply_to_account_id"] == state.statuses[ids.status_id].account_id
    assert created["mentions"][0]["acct"] == "zsc@example.social"
    assert "we&#39;re on it" in created["content"]
    clock.advance(59 * 60)
    again = await client.post("/api/v1/statuses", json=form, headers=headers)
    assert (await again.json())["id"] == created["id"]
    assert state.created_count == 1
    clock.advance(2 * 60)
    later = await client.post("/api/v1/statuses", json=form, headers=headers)
    assert (await later.json())["id"] != created["id"]
    assert state.created_count == 2


async def test_a_held_answer_comes_after_the_post_exists(
    client: TestClient[Any, Any], state: MastodonState
) -> None:
    state.hold_post_answers(0.5)
    posting = asyncio.ensure_future(
        client.post("/api/v1/statuses", json={"status": "on it"}, headers=AUTH)
    )
    for _ in range(100):
        if state.posts_held:
            break
        await asyncio.sleep(0.01)
    assert (state.posts_held, state.created_count, posting.done()) == (1, 1, False)
    answer = await posting
    assert answer.status == 200
    assert (await answer.json())["id"] == state.created_statuses[0]
    assert state.posts_held == 0
    again = await client.post("/api/v1/statuses", json={"status": "and again"}, headers=AUTH)
    assert again.status == 200
    assert state.created_count == 2


async def test_post_status_errors(client: TestClient[Any, Any], state: MastodonState) -> None:
    blank = await client.post("/api/v1/statuses", json={"status": " "}, headers=AUTH)
    assert blank.status == 422
    assert await blank.json() == {"error": "Validation failed: Text can't be blank"}
    missing = await client.post(
        "/api/v1/statuses", json={"status": "hi", "in_reply_to_id": "1"}, headers=AUTH
    )
    assert missing.status == 404
    direct = await client.post(
        "/api/v1/statuses", json={"status": "@zsc hi", "visibility": "direct"}, headers=AUTH
    )
    assert (await direct.json())["visibility"] == "direct"
    assert state.created_count == 1


async def test_bad_or_expired_token_gets_401_with_the_documented_body(
    client: TestClient[Any, Any], state: MastodonState
) -> None:
    for headers in ({"Authorization": "Bearer nope"}, {}):
        resp = await client.get(NOTIFICATIONS, headers=headers)
        assert resp.status == 401
        assert await resp.json() == {"error": "The access token is invalid"}
        assert "X-RateLimit-Remaining" in resp.headers
    state.expire_token()
    resp = await client.get(NOTIFICATIONS, headers=AUTH)
    assert resp.status == 401


async def test_rate_limit_headers_and_429_until_the_window_resets(
    aiohttp_client: Any, clock: ManualClock
) -> None:
    state = MastodonState(clock=clock, rate_limit=3)
    client = await serve(aiohttp_client, state)
    first = await client.get(NOTIFICATIONS, headers=AUTH)
    assert first.headers["X-RateLimit-Limit"] == "3"
    assert first.headers["X-RateLimit-Remaining"] == "2"
    assert first.headers["X-RateLimit-Reset"] == "2024-05-13T10:05:00+00:00"
    await client.get(NOTIFICATIONS, headers=AUTH)
    await client.get(NOTIFICATIONS, headers=AUTH)
    limited = await client.get(NOTIFICATIONS, headers=AUTH)
    assert limited.status == 429
    assert await limited.json() == {"error": "Too many requests"}
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    clock.advance(300)
    assert (await client.get(NOTIFICATIONS, headers=AUTH)).status == 200


async def test_rate_limit_next_and_reset_formats(
    client: TestClient[Any, Any], state: MastodonState
) -> None:
    state.rate_limit_next(count=2, reset_in_seconds=90)
    for _ in range(2):
        resp = await client.get(NOTIFICATIONS, headers=AUTH)
        assert resp.status == 429 and resp.headers["X-RateLimit-Reset"].startswith(
            "2024-05-13T10:01:30"
        )
    assert (await client.get(NOTIFICATIONS, headers=AUTH)).status == 200
    state.reset_format = "epoch"
    resp = await client.get(NOTIFICATIONS, headers=AUTH)
    assert resp.headers["X-RateLimit-Reset"] == str(int((T0 + timedelta(minutes=5)).timestamp()))
    state.reset_format = "iso_fraction"
    resp = await client.get(NOTIFICATIONS, headers=AUTH)
    assert resp.headers["X-RateLimit-Reset"] == "2024-05-13T10:05:00.000000Z"


async def test_fail_next_injects_errors_then_recovers(
    client: TestClient[Any, Any], state: MastodonState
) -> None:
    state.fail_next(503, count=2, path=NOTIFICATIONS)
    statuses = [(await client.get(NOTIFICATIONS, headers=AUTH)).status for _ in range(3)]
    assert statuses == [503, 503, 200]


async def test_duplicate_overlap_repeats_already_seen_items(
    client: TestClient[Any, Any], state: MastodonState
) -> None:
    ids = add_mentions(state, 5)
    state.duplicate_overlap(1)
    page, _ = await get_ids(client, f"min_id={ids[2]}")
    assert page == [ids[4], ids[3], ids[2]]


async def test_unknown_cursor_policy_is_configurable(
    client: TestClient[Any, Any], state: MastodonState
) -> None:
    ids = add_mentions(state, 3)
    deleted = state.notifications[0].status_id
    assert deleted is not None
    state.delete_status(deleted)
    page, _ = await get_ids(client, f"min_id={ids[0]}")
    assert page == [ids[2], ids[1]], "vanilla compares ids, known or not"
    state.reject_unknown_cursors("empty")
    assert (await get_ids(client, f"min_id={ids[0]}"))[0] == []
    state.reject_unknown_cursors("error", status=422, error="Invalid cursor")
    resp = await client.get(f"{NOTIFICATIONS}?max_id={ids[0]}", headers=AUTH)
    assert resp.status == 422 and await resp.json() == {"error": "Invalid cursor"}


async def test_filtered_mentions_need_include_filtered(
    client: TestClient[Any, Any], state: MastodonState
) -> None:
    hidden = state.add_mention("new@example.social", "<p>hi</p>", T0, filtered=True)
    assert (await get_ids(client, ""))[0] == []
    assert (await get_ids(client, "include_filtered=true"))[0] == [hidden.notification_id]
