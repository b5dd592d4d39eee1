"""The fake X API follows platforms.md §1 and §6, so connector tests against it mean something."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from fakes.clock import ManualClock
from fakes.x import (
    XState,
    aaa_dm_payloads,
    aaa_tweet_create_payloads,
    aaa_tweet_delete_payloads,
    check_crc,
    crc_response_token,
    deliver_webhook,
    webhook_signature,
)
from tests.fakes import T0

BRAND = "1500000000000000001"
AUTH = {"Authorization": "Bearer x-user-token"}
MENTIONS = f"/2/users/{BRAND}/mentions"
VECTOR_BODY = (
    b'{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"message":{"mid":"m_1",'
    b'"text":"\\u00e4\\u00f6\\u00e5 \\ud83d\\ude21"}}]}]}'
)
UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
TOO_MANY = {
    "title": "Too Many Requests",
    "detail": "Too Many Requests",
    "type": "about:blank",
    "status": 429,
}


@pytest.fixture
def state(clock: ManualClock) -> XState:
    return XState(clock=clock)


def add_mentions(state: XState, clock: ManualClock, n: int) -> list[str]:
    """``n`` mentions one minute apart, oldest first."""
    ids = []
    for i in range(n):
        clock.advance(60)
        ids.append(state.add_mention("janedoe", f"@AcmeSupport order {i} never arrived"))
    return ids


async def get(client: TestClient[Any, Any], path: str, **params: Any) -> tuple[int, Any]:
    resp = await client.get(path, params={k: str(v) for k, v in params.items()}, headers=AUTH)
    return resp.status, await resp.json()


async def walk(client: TestClient[Any, Any], path: str, **params: Any) -> list[dict[str, Any]]:
    """Follow ``next_token`` to the end; returns every page body."""
    pages = []
    while True:
        status, body = await get(client, path, **params)
        assert status == 200, body
        pages.append(body)
        if "next_token" not in body["meta"]:
            return pages
        params["pagination_token"] = body["meta"]["next_token"]


# -- mentions: pagination and shapes -----------------------------------------------------------


async def test_pages_run_newest_first_and_next_token_is_absent_on_the_last(
    client: TestClient[Any, Any], state: XState, clock: ManualClock
) -> None:
    ids = add_mentions(state, clock, 23)
    pages = await walk(client, MENTIONS, max_results=10)
    assert [p["meta"]["result_count"] for p in pages] == [10, 10, 3]
    served = [t["id"] for p in pages for t in p["data"]]
    assert served == list(reversed(ids))
    assert all(isinstance(i, str) and i.isdigit() for i in served)
    assert [int(i) for i in served] == sorted((int(i) for i in served), reverse=True)
    for page in pages:
        assert page["meta"]["newest_id"] == page["data"][0]["id"]
        assert page["meta"]["oldest_id"] == page["data"][-1]["id"]
    assert ["next_token" in p["meta"] for p in pages] == [True, True, False]
    assert "previous_token" not in pages[0]["meta"]
    assert "previous_token" in pages[1]["meta"]


async def test_previous_token_goes_back_to_the_newer_page(
    client: TestClient[Any, Any], state: XState, clock: ManualClock
) -> None:
    add_mentions(state, clock, 12)
    pages = await walk(client, MENTIONS, max_results=5)
    _, back = await get(
        client, MENTIONS, max_results=5, pagination_token=pages[1]["meta"]["previous_token"]
    )
    assert back["data"] == pages[0]["data"]


async def test_default_page_size_is_ten(
    client: TestClient[Any, Any], state: XState, clock: ManualClock
) -> None:
    add_mentions(state, clock, 12)
    _, body = await get(client, MENTIONS)
    assert body["meta"]["result_count"] == 10


async def test_an_empty_result_has_only_meta(client: TestClient[Any, Any]) -> None:
    status, body = await get(client, MENTIONS)
    assert (status, body) == (200, {"meta": {"result_count": 0}})


async def test_since_id_excludes_the_cursor_and_everything_older(
    client: TestClient[Any, Any], state: XState, clock: ManualClock
) -> None:
    ids = add_mentions(state, clock, 5)
    _, body = await get(client, MENTIONS, since_id=ids[2])
    assert [t["id"] for t in body["data"]] == [ids[4], ids[3]]
    _, body = await get(client, MENTIONS, since_id=ids[4])
    assert body == {"meta": {"result_count": 0}}
    _, body = await get(client, MENTIONS, until_id=ids[1])
    assert [t["id"] for t in body["data"]] == [ids[0]]


async def test_the_documented_polling_pattern_keeps_since_id_across_pages(
    client: TestClient[Any, Any], state: XState, clock: ManualClock
) -> None:
    old = add_mentions(state, clock, 3)
    new = add_mentions(state, clock, 12)
    pages = await walk(client, MENTIONS, since_id=old[-1], max_results=5)
    assert [t["id"] for p in pages for t in p["data"]] == list(reversed(new))
    assert pages[0]["meta"]["newest_id"] == new[-1]


async def test_only_the_800_most_recent_mentions_are_reachable(
    client: TestClient[Any, Any], state: XState, clock: ManualClock
) -> None:
    ids = add_mentions(state, clock, 805)
    pages = await walk(client, MENTIONS, max_results=100)
    served = [t["id"] for p in pages for t in p["data"]]
    assert len(served) == 800
    assert served[-1] == ids[5]


async def test_default_fields_are_id_text_and_edit_history(
    client: TestClient[Any, Any], state: XState
) -> None:
    pid = state.add_mention("janedoe", "@AcmeSupport hello")
    _, body = await get(client, MENTIONS)
    assert body["data"] == [
        {"id": pid, "text": "@AcmeSupport hello", "edit_history_tweet_ids": [pid]}
    ]
    assert "includes" not in body


async def test_requested_fields_and_expansions_are_honoured(
    client: TestClient[Any, Any], state: XState, clock: ManualClock
) -> None:
    root = state.add_post("AcmeSupport", "New drop is live!")
    clock.advance(30)
    pid = state.add_mention("janedoe", "@AcmeSupport my order never arrived 😡", in_reply_to=root)
    _, body = await get(
        client,
        MENTIONS,
        **{
            "tweet.fields": "created_at,author_id,conversation_id,in_reply_to_user_id,"
            "referenced_tweets,lang,entities",
            "expansions": "author_id,referenced_tweets.id",
            "user.fields": "username,name,verified",
        },
    )
    tweet = body["data"][0]
    jane = state.add_user("janedoe")
    assert tweet == {
        "id": pid,
        "text": "@AcmeSupport my order never arrived 😡",
        "edit_history_tweet_ids": [pid],
        "author_id": jane.id,
        "conversation_id": root,
        "in_reply_to_user_id": BRAND,
        "created_at": "2024-05-13T10:00:30.000Z",
        "lang": "en",
        "referenced_tweets": [{"type": "replied_to", "id": root}],
        "entities": {"mentions": [{"start": 0, "end": 12, "username": "AcmeSupport", "id": BRAND}]},
    }
    assert body["includes"]["users"] == [
        {"id": jane.id, "name": "janedoe", "username": "janedoe", "verified": False}
    ]
    assert body["includes"]["tweets"][0]["id"] == root


async def test_a_long_post_has_its_full_text_only_in_note_tweet(
    client: TestClient[Any, Any], state: XState
) -> None:
    long_text = "@AcmeSupport " + "x" * 400
    state.add_mention("janedoe", long_text)
    _, plain = await get(client, MENTIONS)
    assert plain["data"][0]["text"] == long_text[:280]
    assert "note_tweet" not in plain["data"][0]
    _, full = await get(client, MENTIONS, **{"tweet.fields": "note_tweet"})
    assert full["data"][0]["note_tweet"]["text"] == long_text


async def test_an_edit_is_a_new_id_chained_through_the_edit_history(
    client: TestClient[Any, Any], state: XState, clock: ManualClock
) -> None:
    first = state.add_mention("janedoe", "@AcmeSupport typo")
    clock.advance(60)
    second = state.edit_post(first, "@AcmeSupport fixed")
    assert int(second) > int(first)
    _, body = await get(client, MENTIONS)
    assert body["data"] == [
        {"id": second, "text": "@AcmeSupport fixed", "edit_history_tweet_ids": [first, second]}
    ]


async def test_a_deleted_post_leaves_the_timeline_and_becomes_a_partial_error(
    client: TestClient[Any, Any], state: XState, clock: ManualClock
) -> None:
    root = state.add_post("AcmeSupport", "Big sale")
    pid = state.add_mention("janedoe", "@AcmeSupport late", in_reply_to=root)
    gone = state.add_mention("bob", "@AcmeSupport delete me")
    state.delete_post(gone)
    state.delete_post(root)
    status, body = await get(client, MENTIONS, expansions="referenced_tweets.id")
    assert status == 200
    assert [t["id"] for t in body["data"]] == [pid]
    error = body["errors"][0]
    assert error["resource_id"] == root
    assert error["type"] == "https://api.twitter.com/2/problems/resource-not-found"
    assert error["detail"] == f"Could not find tweet with id: [{root}]."


async def test_max_results_outside_5_to_100_is_an_invalid_request(
    client: TestClient[Any, Any],
) -> None:
    status, body = await get(client, MENTIONS, max_results=1)
    assert status == 400
    assert body == {
        "errors": [
            {
                "parameters": {"max_results": ["1"]},
                "message": "The `max_results` query parameter value [1] is not between 5 and 100",
            }
        ],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    status, _ = await get(client, MENTIONS, max_results=101)
    assert status == 400


async def test_post_fields_alias_can_be_refused(
    client: TestClient[Any, Any], state: XState
) -> None:
    state.add_mention("janedoe", "@AcmeSupport hi")
    status, body = await get(client, MENTIONS, **{"post.fields": "lang"})
    assert status == 200 and body["data"][0]["lang"] == "en"
    state.accept_post_fields_alias = False
    status, _ = await get(client, MENTIONS, **{"post.fields": "lang"})
    assert status == 400


# -- scenario switches --------------------------------------------------------------------------


async def test_duplicate_overlap_reserves_items_across_pages_and_polls(
    client: TestClient[Any, Any], state: XState, clock: ManualClock
) -> None:
    ids = add_mentions(state, clock, 12)
    state.duplicate_overlap = 2
    pages = await walk(client, MENTIONS, max_results=5)
    served = [t["id"] for p in pages for t in p["data"]]
    assert set(served) == set(ids)
    assert len(served) > len(set(served))
    _, body = await get(client, MENTIONS, since_id=ids[-1])
    assert [t["id"] for t in body["data"]] == [ids[-1], ids[-2]]


async def test_out_of_order_pages_still_report_the_right_newest_id(
    client: TestClient[Any, Any], state: XState, clock: ManualClock
) -> None:
    ids = add_mentions(state, clock, 5)
    state.out_of_order = True
    _, body = await get(client, MENTIONS)
    assert [t["id"] for t in body["data"]] == ids
    assert body["meta"]["newest_id"] == ids[-1]


async def test_a_late_mention_is_missed_by_since_id_until_an_overlap_poll(
    client: TestClient[Any, Any], state: XState, clock: ManualClock
) -> None:
    clock.advance(60)
    late = state.add_mention("janedoe", "@AcmeSupport I was slow to index", visible=False)
    clock.advance(60)
    seen = state.add_mention("bob", "@AcmeSupport hi")
    _, body = await get(client, MENTIONS)
    assert [t["id"] for t in body["data"]] == [seen]
    state.reveal(late)
    _, body = await get(client, MENTIONS, since_id=seen)
    assert body == {"meta": {"result_count": 0}}
    _, body = await get(client, MENTIONS, start_time="2024-05-13T10:00:00Z")
    assert [t["id"] for t in body["data"]] == [seen, late]


# -- auth, limits, failures ---------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic eC11c2VyLXRva2Vu"])
async def test_a_missing_or_wrong_token_gets_the_401_problem(
    client: TestClient[Any, Any], header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    resp = await client.get(MENTIONS, headers=headers)
    assert resp.status == 401
    assert await resp.json() == UNAUTHORIZED
    assert resp.headers["x-rate-limit-limit"] == "300"


async def test_an_expired_token_gets_401_until_renewed(
    client: TestClient[Any, Any], state: XState
) -> None:
    state.expire_token()
    status, body = await get(client, MENTIONS)
    assert (status, body) == (401, UNAUTHORIZED)
    state.renew_token("x-user-token")
    status, _ = await get(client, MENTIONS)
    assert status == 200


async def test_every_response_counts_down_and_429_when_exhausted(
    client: TestClient[Any, Any], state: XState, clock: ManualClock
) -> None:
    state.rate_limits["mentions"] = (2, 900)
    reset = str(int(T0.timestamp()) + 900)
    for remaining in ("1", "0"):
        resp = await client.get(MENTIONS, headers=AUTH)
        assert resp.status == 200
        assert resp.headers["x-rate-limit-limit"] == "2"
        assert resp.headers["x-rate-limit-remaining"] == remaining
        assert resp.headers["x-rate-limit-reset"] == reset
    resp = await client.get(MENTIONS, headers=AUTH)
    assert resp.status == 429
    assert await resp.json() == TOO_MANY
    assert resp.headers["x-rate-limit-remaining"] == "0"
    assert resp.headers["x-rate-limit-reset"] == reset
    clock.advance(900)
    resp = await client.get(MENTIONS, headers=AUTH)
    assert resp.status == 200


async def test_rate_limit_next_forces_429_with_a_reset_from_the_clock(
    client: TestClient[Any, Any], state: XState
) -> None:
    state.rate_limit_next(count=1, reset_in_seconds=60)
    resp = await client.get(MENTIONS, headers=AUTH)
    assert resp.status == 429
    assert await resp.json() == TOO_MANY
    assert resp.headers["x-rate-limit-remaining"] == "0"
    assert resp.headers["x-rate-limit-reset"] == str(int(T0.timestamp()) + 60)
    assert (await client.get(MENTIONS, headers=AUTH)).status == 200


async def test_the_v1_style_429_body_is_available(
    client: TestClient[Any, Any], state: XState
) -> None:
    state.rate_limit_body_style = "v1"
    state.rate_limit_next()
    _, body = await get(client, MENTIONS)
    assert body == {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}


@pytest.mark.parametrize(
    ("status", "title"), [(500, "Internal Server Error"), (503, "Service Unavailable")]
)
async def test_fail_next_answers_server_errors_then_recovers(
    client: TestClient[Any, Any], state: XState, status: int, title: str
) -> None:
    state.fail_next(status, count=2)
    for _ in range(2):
        resp = await client.get(MENTIONS, headers=AUTH)
        assert resp.status == status
        assert await resp.json() == {
            "title": title,
            "detail": title,
            "type": "about:blank",
            "status": status,
        }
        assert "x-rate-limit-reset" in resp.headers
    assert (await client.get(MENTIONS, headers=AUTH)).status == 200


async def test_an_expansion_brings_its_linking_field_without_asking_for_it(
    client: TestClient[Any, Any], state: XState
) -> None:
    """docs.x.com fundamentals/expansions: ``expansions=author_id`` alone answers ``author_id``
    in ``data``, linking the user in ``includes``; the same for a DM's ``sender_id``."""
    pat = state.add_user("pat", user_id="944480690")
    state.add_mention("pat", "@AcmeSupport where is my parcel?")
    state.add_dm("pat", "Hi, my parcel is late")
    _, plain = await get(client, MENTIONS)
    assert "author_id" not in plain["data"][0] and "includes" not in plain
    _, mentions = await get(client, MENTIONS, expansions="author_id")
    assert mentions["data"][0]["author_id"] == mentions["includes"]["users"][0]["id"] == pat.id
    _, events = await get(client, "/2/dm_events", expansions="sender_id")
    assert events["data"][0]["sender_id"] == events["includes"]["users"][0]["id"] == pat.id
    _, bare = await get(client, "/2/dm_events")
    assert "sender_id" not in bare["data"][0]


# -- DMs ------------------------------------------------------------------------------------------


async def test_dm_list_includes_the_brands_own_messages(
    client: TestClient[Any, Any], state: XState, clock: ManualClock
) -> None:
    pat = state.add_user("pat", user_id="944480690")
    inbound = state.add_dm("pat", "Hi, my parcel is late")
    clock.advance(60)
    own = state.add_dm("AcmeSupport", "Sorry! Checking now", recipient="pat")
    clock.advance(60)
    resp = await client.post(
        f"/2/dm_conversations/with/{pat.id}/messages", json={"text": "Found it"}, headers=AUTH
    )
    assert resp.status == 201
    sent = (await resp.json())["data"]
    assert sent == {"dm_conversation_id": f"{pat.id}-{BRAND}", "dm_event_id": sent["dm_event_id"]}
    _, body = await get(client, "/2/dm_events", **{"dm_event.fields": "sender_id,created_at"})
    assert [e["id"] for e in body["data"]] == [sent["dm_event_id"], own, inbound]
    assert [e["sender_id"] for e in body["data"]] == [BRAND, BRAND, pat.id]
    assert body["meta"] == {"result_count": 3}
    assert len(state.sent_dms) == 1


async def test_dm_events_default_fields_and_no_since_id(
    client: TestClient[Any, Any], state: XState
) -> None:
    eid = state.add_dm("pat", "hello")
    _, body = await get(client, "/2/dm_events")
    assert body["data"] == [{"id": eid, "event_type": "MessageCreate", "text": "hello"}]
    status, err = await get(client, "/2/dm_events", since_id=eid)
    assert status == 400
    assert err["type"] == "https://api.twitter.com/2/problems/invalid-request"
    assert "since_id" in err["errors"][0]["parameters"]


async def test_dm_pages_use_tokens_of_at_least_16_chars(
    client: TestClient[Any, Any], state: XState, clock: ManualClock
) -> None:
    state.rate_limits["dm_events"] = (100, 900)
    ids = []
    for i in range(7):
        clock.advance(60)
        ids.append(state.add_dm("pat", f"message {i}"))
    pages = await walk(client, "/2/dm_events", max_results=3)
    assert [e["id"] for p in pages for e in p["data"]] == list(reversed(ids))
    tokens = [p["meta"]["next_token"] for p in pages[:-1]]
    assert all(len(t) >= 16 for t in tokens)
    assert all("newest_id" not in p["meta"] for p in pages)
    status, _ = await get(client, "/2/dm_events", pagination_token="SHORT")
    assert status == 400


async def test_one_conversation_shares_the_dm_rate_limit(
    client: TestClient[Any, Any], state: XState
) -> None:
    pat = state.add_user("pat", user_id="944480690")
    mine = state.add_dm("pat", "about my parcel")
    state.add_dm("sam", "unrelated")
    status, body = await get(client, f"/2/dm_conversations/with/{pat.id}/dm_events")
    assert status == 200 and [e["id"] for e in body["data"]] == [mine]
    status, body = await get(client, f"/2/dm_conversations/{pat.id}-{BRAND}/dm_events")
    assert [e["id"] for e in body["data"]] == [mine]
    resp = await client.get("/2/dm_events", headers=AUTH)
    assert resp.headers["x-rate-limit-limit"] == "15"
    assert resp.headers["x-rate-limit-remaining"] == "12"


async def test_dms_older_than_30_days_are_gone(
    client: TestClient[Any, Any], state: XState, clock: ManualClock
) -> None:
    state.add_dm("pat", "ancient")
    clock.advance(31 * 86_400)
    recent = state.add_dm("pat", "recent")
    _, body = await get(client, "/2/dm_events")
    assert [e["id"] for e in body["data"]] == [recent]


async def test_an_app_only_token_cannot_read_dms(
    client: TestClient[Any, Any], state: XState
) -> None:
    state.app_only_token = "app-token"
    app_auth = {"Authorization": "Bearer app-token"}
    assert (await client.get(MENTIONS, headers=app_auth)).status == 200
    resp = await client.get("/2/dm_events", headers=app_auth)
    assert resp.status == 403
    assert (await resp.json())["type"].endswith("/unsupported-authentication")


# -- posting ----------------------------------------------------------------------------------


async def test_a_reply_is_201_and_counted(client: TestClient[Any, Any], state: XState) -> None:
    mention = state.add_mention("janedoe", "@AcmeSupport help")
    text = "Sorry about that! We've DMed you."
    resp = await client.post(
        "/2/tweets", json={"text": text, "reply": {"in_reply_to_tweet_id": mention}}, headers=AUTH
    )
    assert resp.status == 201
    body = await resp.json()
    assert body == {"data": {"id": body["data"]["id"], "text": text}}
    assert isinstance(body["data"]["id"], str)
    assert [p.in_reply_to_tweet_id for p in state.sent_posts] == [mention]
    assert state.posts[body["data"]["id"]].conversation_id == mention


async def test_duplicate_text_is_the_documented_403(
    client: TestClient[Any, Any], state: XState
) -> None:
    mention = state.add_mention("janedoe", "@AcmeSupport help")
    payload = {"text": "We're on it", "reply": {"in_reply_to_tweet_id": mention}}
    assert (await client.post("/2/tweets", json=payload, headers=AUTH)).status == 201
    resp = await client.post("/2/tweets", json=payload, headers=AUTH)
    assert resp.status == 403
    assert await resp.json() == {
        "detail": "You are not allowed to create a Tweet with duplicate content.",
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
    }
    assert len(state.sent_posts) == 1


async def test_a_lost_response_then_a_retry_posts_once(
    client: TestClient[Any, Any], state: XState
) -> None:
    mention = state.add_mention("janedoe", "@AcmeSupport help")
    payload = {"text": "On it!", "reply": {"in_reply_to_tweet_id": mention}}
    state.fail_after_commit_next(503, endpoint="tweets_create")
    assert (await client.post("/2/tweets", json=payload, headers=AUTH)).status == 503
    assert (await client.post("/2/tweets", json=payload, headers=AUTH)).status == 403
    assert len(state.replies_to(mention)) == 1


async def test_a_held_answer_comes_after_the_post_exists(
    client: TestClient[Any, Any], state: XState
) -> None:
    mention = state.add_mention("janedoe", "@AcmeSupport help")
    payload = {"text": "On it!", "reply": {"in_reply_to_tweet_id": mention}}
    state.hold_post_answers(0.5)
    posting = asyncio.ensure_future(client.post("/2/tweets", json=payload, headers=AUTH))
    for _ in range(100):
        if state.posts_held:
            break
        await asyncio.sleep(0.01)
    assert (state.posts_held, len(state.replies_to(mention)), posting.done()) == (1, 1, False)
    answer = await posting
    assert answer.status == 201
    assert (await answer.json())["data"]["id"] == state.replies_to(mention)[0].id
    assert state.posts_held == 0


async def test_reply_body_is_validated(client: TestClient[Any, Any], state: XState) -> None:
    bad = {"text": "hi", "reply": {"in_reply_to_tweet_id": "1", "extra": True}}
    resp = await client.post("/2/tweets", json=bad, headers=AUTH)
    assert resp.status == 400
    assert (await resp.json())["title"] == "Invalid Request"
    gone = state.add_mention("janedoe", "@AcmeSupport bye")
    state.delete_post(gone)
    payload = {"text": "hello?", "reply": {"in_reply_to_tweet_id": gone}}
    assert (await client.post("/2/tweets", json=payload, headers=AUTH)).status == 403
    assert state.sent_posts == []


async def test_write_endpoints_carry_24_hour_headers(
    client: TestClient[Any, Any], state: XState
) -> None:
    resp = await client.post("/2/tweets", json={"text": "status"}, headers=AUTH)
    assert resp.headers["x-user-limit-24hour-limit"] == "10000"
    assert resp.headers["x-user-limit-24hour-remaining"] == "9999"


# -- Account Activity webhooks -----------------------------------------------------------------


def test_crc_reproduces_the_platforms_md_vector() -> None:
    token = crc_response_token("test_consumer_secret", "abc123")
    assert token == "sha256=NRSmW12qpe3CEF8MYyBrEyg562XPUUrrQ1iu+H6dKZs="


def test_event_signature_reproduces_the_vector_and_not_over_reserialised_json() -> None:
    assert webhook_signature("test_consumer_secret", VECTOR_BODY) == (
        "sha256=1222NkVP1DTWmxnztVfRM0CGMYR+TfzAL3F6oIOO58I="
    )
    reserialised = json.dumps(json.loads(VECTOR_BODY), ensure_ascii=False).encode()
    assert webhook_signature("test_consumer_secret", reserialised) != webhook_signature(
        "test_consumer_secret", VECTOR_BODY
    )


async def test_webhooks_are_posted_raw_and_signed(aiohttp_client: Any, state: XState) -> None:
    received: list[tuple[bytes, str]] = []

    async def hook(request: web.Request) -> web.Response:
        if "crc_token" in request.query:
            return web.json_response(
                {
                    "response_token": crc_response_token(
                        "test_consumer_secret", request.query["crc_token"]
                    )
                }
            )
        received.append((await request.read(), request.headers["x-twitter-webhooks-signature"]))
        return web.Response()

    app = web.Application()
    app.router.add_route("*", "/hook", hook)
    receiver: TestClient[Any, Any] = await aiohttp_client(app)
    url = str(receiver.make_url("/hook"))
    assert await check_crc(receiver.session, url, state)
    assert not await check_crc(receiver.session, url, XState(consumer_secret="other"))
    assert await deliver_webhook(receiver.session, url, state, VECTOR_BODY) == 200
    assert received == [(VECTOR_BODY, "sha256=1222NkVP1DTWmxnztVfRM0CGMYR+TfzAL3F6oIOO58I=")]
    pid = state.add_mention("janedoe", "@AcmeSupport où est ma commande 😡")
    payload = aaa_tweet_create_payloads(state, pid)[0]
    assert await deliver_webhook(receiver.session, url, state, payload) == 200
    body, signature = received[-1]
    assert signature == webhook_signature(state.consumer_secret, body)
    assert json.loads(body) == payload


def test_a_mention_of_two_subscribed_users_is_delivered_once_per_user(state: XState) -> None:
    other = state.add_user("AcmeShop")
    state.subscribed_user_ids = [BRAND, other.id]
    pid = state.add_mention("janedoe", "@AcmeSupport @AcmeShop refund please", mentions=[other.id])
    payloads = aaa_tweet_create_payloads(state, pid)
    assert [p["for_user_id"] for p in payloads] == [BRAND, other.id]
    tweet = payloads[0]["tweet_create_events"][0]
    assert tweet["id"] == int(pid) and tweet["id_str"] == pid
    assert tweet["created_at"] == "Mon May 13 10:00:00 +0000 2024"
    assert tweet["entities"]["user_mentions"][0]["indices"] == [0, 12]
    assert tweet["truncated"] is False and "extended_tweet" not in tweet


def test_aaa_long_posts_use_extended_tweet(state: XState) -> None:
    text = "@AcmeSupport " + "y" * 300
    payload = aaa_tweet_create_payloads(state, state.add_mention("janedoe", text))[0]
    tweet = payload["tweet_create_events"][0]
    assert tweet["truncated"] is True and len(tweet["text"]) <= 140
    assert tweet["extended_tweet"]["full_text"] == text


def test_aaa_dm_and_delete_shapes(state: XState) -> None:
    pat = state.add_user("pat", user_id="3001969357")
    eid = state.add_dm("pat", "Hello World!")
    [dm] = aaa_dm_payloads(state, eid)
    assert dm["for_user_id"] == BRAND
    event = dm["direct_message_events"][0]
    assert event["type"] == "message_create" and event["id"] == eid
    assert event["message_create"]["target"] == {"recipient_id": BRAND}
    assert event["message_create"]["sender_id"] == pat.id
    assert event["message_create"]["message_data"]["text"] == "Hello World!"
    assert event["created_timestamp"] == str(int(T0.timestamp() * 1000))
    assert set(dm["users"]) == {pat.id, BRAND}
    pid = state.add_mention("pat", "@AcmeSupport oops")
    state.delete_post(pid)
    [deleted] = aaa_tweet_delete_payloads(state, pid)
    assert deleted["for_user_id"] == BRAND
    assert deleted["tweet_delete_events"][0]["status"] == {"id": pid, "user_id": pat.id}


def test_ids_grow_with_time_and_look_like_snowflakes(state: XState, clock: ManualClock) -> None:
    first = state.add_mention("a", "@AcmeSupport 1")
    earlier = state.add_mention("b", "@AcmeSupport 0", created_at=T0 - timedelta(hours=1))
    clock.advance(1)
    later = state.add_mention("c", "@AcmeSupport 2")
    assert int(earlier) < int(first) < int(later)
    assert len(first) == 19
