"""X posts, DM events and Account Activity payloads become clean, correctly typed messages."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from fakes.clock import ManualClock
from fakes.x import (
    XState,
    aaa_dm_payloads,
    aaa_tweet_create_payloads,
    aaa_tweet_delete_payloads,
)
from services.inbox.domain.x import (
    Malformed,
    account_activity,
    dm_conversation_id,
    dm_event_message,
    is_duplicate_content,
    names_parameter,
    other_participant,
    parse_v1_time,
    problem_kind,
    reset_at,
    same_text,
    tweet_message,
    users_by_id,
)

BRAND = "1500000000000000001"
JANE = "2244994945"
T0 = datetime(2024, 5, 13, 10, 0, tzinfo=UTC)
USERS = users_by_id({"users": [{"id": JANE, "name": "Jane Doe", "username": "janedoe"}]})


def _tweet(**extra: Any) -> dict[str, Any]:
    tweet: dict[str, Any] = {
        "id": "1790112233445566778",
        "text": "@AcmeSupport my order #4411 never arrived 😡 can you help?",
        "edit_history_tweet_ids": ["1790112233445566778"],
        "author_id": JANE,
        "conversation_id": "1790112233445566778",
        "created_at": "2024-05-13T10:30:00.000Z",
        "lang": "en",
    }
    tweet.update(extra)
    return tweet


def test_a_mention_of_the_brand() -> None:
    m = tweet_message(_tweet(), USERS, "support", BRAND)
    assert m is not None
    assert (m.platform, m.channel, m.external_id, m.kind, m.direction) == (
        "x",
        "support",
        "1790112233445566778",
        "mention",
        "in",
    )
    assert (m.author_external_id, m.author_handle, m.author_display_name) == (
        JANE,
        "janedoe",
        "Jane Doe",
    )
    assert m.text == "@AcmeSupport my order #4411 never arrived 😡 can you help?"
    assert (m.thread_id, m.in_reply_to, m.lang) == ("1790112233445566778", "", "en")
    assert m.created_at == datetime(2024, 5, 13, 10, 30, tzinfo=UTC)
    assert m.raw is not None and "previous_version_ids" not in m.raw


@pytest.mark.parametrize(
    ("extra", "kind", "in_reply_to", "direction", "text"),
    [
        (
            {"referenced_tweets": [{"type": "replied_to", "id": "1790100000000000000"}]},
            "reply",
            "1790100000000000000",
            "in",
            None,
        ),
        (
            {"referenced_tweets": [{"type": "quoted", "id": "1790100000000000000"}]},
            "mention",
            "",
            "in",
            None,
        ),
        ({"author_id": BRAND}, "mention", "", "out", None),
        (
            {"text": "cut at 280…", "note_tweet": {"text": "the whole long story " * 20}},
            "mention",
            "",
            "in",
            ("the whole long story " * 20),
        ),
        (
            {"text": "Tom &amp; Jerry &lt;3 a&gt;b &amp;lt;"},
            "mention",
            "",
            "in",
            "Tom & Jerry <3 a>b &lt;",
        ),
        ({"text": "cafe\u0301"}, "mention", "", "in", "café"),
    ],
    ids=["reply", "quote", "own-post", "long-post", "html-entities", "nfc"],
)
def test_post_kinds_directions_and_text(
    extra: dict[str, Any], kind: str, in_reply_to: str, direction: str, text: str | None
) -> None:
    m = tweet_message(_tweet(**extra), USERS, "c", BRAND)
    assert m is not None
    assert (m.kind, m.in_reply_to, m.direction) == (kind, in_reply_to, direction)
    if text is not None:
        assert m.text == text


def test_a_repost_is_not_a_message() -> None:
    retweet = _tweet(referenced_tweets=[{"type": "retweeted", "id": "1790100000000000000"}])
    assert tweet_message(retweet, USERS, "c", BRAND) is None


def test_an_edit_is_its_own_message_and_keeps_the_earlier_ids() -> None:
    edited = _tweet(
        id="1790112233445566999",
        edit_history_tweet_ids=["1790112233445566778", "1790112233445566999"],
    )
    m = tweet_message(edited, USERS, "c", BRAND)
    assert m is not None and m.external_id == "1790112233445566999"
    assert m.raw is not None and m.raw["previous_version_ids"] == ["1790112233445566778"]


def test_unknown_author_and_undetermined_language() -> None:
    m = tweet_message(_tweet(author_id="99", lang="und"), USERS, "c", BRAND)
    assert m is not None
    assert (m.author_external_id, m.author_handle, m.lang) == ("99", "", "")


@pytest.mark.parametrize(
    "broken",
    [
        {"id": None},
        {"id": 1790112233445566778},
        {"id": "17901x"},
        {"author_id": None},
        {"created_at": None},
        {"created_at": "yesterday"},
        {"text": None},
        {"referenced_tweets": "replied_to"},
    ],
    ids=["no-id", "numeric-id", "bad-id", "no-author", "no-time", "bad-time", "no-text", "refs"],
)
def test_a_broken_post_is_malformed(broken: dict[str, Any]) -> None:
    with pytest.raises(Malformed):
        tweet_message(_tweet(**broken), USERS, "c", BRAND)


def _dm(**extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": "1582838499983564806",
        "event_type": "MessageCreate",
        "text": "Hi, my parcel is late",
        "sender_id": JANE,
        "dm_conversation_id": f"{JANE}-{BRAND}",
        "created_at": "2022-10-19T20:58:00.000Z",
    }
    event.update(extra)
    return event


def test_dm_events() -> None:
    m = dm_event_message(_dm(), USERS, "c", BRAND)
    assert m is not None
    assert (m.kind, m.direction, m.thread_id, m.author_handle, m.text) == (
        "dm",
        "in",
        f"{JANE}-{BRAND}",
        "janedoe",
        "Hi, my parcel is late",
    )
    own = dm_event_message(_dm(sender_id=BRAND), USERS, "c", BRAND)
    assert own is not None and (own.direction, own.author_external_id) == ("out", BRAND)
    joined = _dm(event_type="ParticipantsJoin", participant_ids=[JANE])
    assert dm_event_message(joined, USERS, "c", BRAND) is None
    assert dm_event_message(_dm(event_type="ParticipantsLeave"), USERS, "c", BRAND) is None
    with pytest.raises(Malformed):
        dm_event_message(_dm(dm_conversation_id=None), USERS, "c", BRAND)
    with pytest.raises(Malformed):
        dm_event_message(_dm(sender_id=None), USERS, "c", BRAND)


# -- Account Activity payloads, as the fake X builds them --------------------------------------


@pytest.fixture
def world() -> XState:
    state = XState(clock=ManualClock(T0))
    state.add_user("janedoe", "Jane Doe", user_id=JANE)
    return state


def test_aaa_mention_with_long_text(world: XState) -> None:
    post = world.add_mention("janedoe", "@AcmeSupport " + "ma box est en panne. " * 20)
    (payload,) = aaa_tweet_create_payloads(world, post)
    activity = account_activity(payload, "")
    assert (activity.account_id, activity.malformed, activity.ignored) == (BRAND, 0, 0)
    (m,) = activity.messages
    assert m.external_id == post and m.text == world.posts[post].full_text
    assert len(payload["tweet_create_events"][0]["text"]) <= 140
    assert (m.kind, m.direction, m.author_handle, m.channel) == ("mention", "in", "janedoe", "")
    assert m.created_at == T0


def test_aaa_reply_and_the_brands_own_post(world: XState) -> None:
    root = world.add_mention("janedoe", "@AcmeSupport help")
    answer = world.add_post("AcmeSupport", "@janedoe on it", in_reply_to=root)
    (payload,) = aaa_tweet_create_payloads(world, answer)
    (m,) = account_activity(payload, "").messages
    assert (m.kind, m.in_reply_to, m.direction) == ("reply", root, "out")


def test_aaa_fan_out_gives_one_copy_per_subscribed_user(world: XState) -> None:
    other = world.add_user("OtherBrand").id
    world.subscribed_user_ids = [BRAND, other]
    post = world.add_mention("janedoe", "@AcmeSupport @OtherBrand who broke my order?")
    payloads = aaa_tweet_create_payloads(world, post)
    activities = [account_activity(p, "") for p in payloads]
    assert sorted(a.account_id for a in activities) == sorted([BRAND, other])
    assert {a.messages[0].external_id for a in activities} == {post}


def test_aaa_dms_in_and_out_share_the_polled_conversation_id(world: XState) -> None:
    incoming = world.add_dm("janedoe", "mon colis est perdu")
    outgoing = world.add_dm("AcmeSupport", "on regarde", recipient="janedoe")
    for event_id, direction in ((incoming, "in"), (outgoing, "out")):
        (payload,) = aaa_dm_payloads(world, event_id)
        (m,) = account_activity(payload, "").messages
        assert (m.external_id, m.kind, m.direction) == (event_id, "dm", direction)
        assert m.thread_id == world.dm_events[event_id].dm_conversation_id
    (payload,) = aaa_dm_payloads(world, incoming)
    (m,) = account_activity(payload, "").messages
    assert (m.author_handle, m.author_display_name) == ("janedoe", "Jane Doe")


def test_aaa_deletes_and_other_events_are_counted_not_stored(world: XState) -> None:
    post = world.add_mention("janedoe", "@AcmeSupport oops")
    (deleted,) = aaa_tweet_delete_payloads(world, post)
    activity = account_activity(deleted, "")
    assert (activity.messages, activity.deleted, activity.ignored) == ([], 1, 0)
    favourite = {"for_user_id": BRAND, "favorite_events": [{"id": "1"}, {"id": "2"}]}
    assert account_activity(favourite, "").ignored == 2
    revoke = {"user_event": {"revoke": {"date_time": "2018-05-24T09:48:12+00:00"}}}
    assert account_activity(revoke, "").ignored == 1
    typing = {"for_user_id": BRAND, "direct_message_events": [{"type": "typing", "id": "5"}]}
    assert account_activity(typing, "").ignored == 1


def test_aaa_retweets_are_ignored(world: XState) -> None:
    post = world.add_mention("janedoe", "@AcmeSupport great")
    (payload,) = aaa_tweet_create_payloads(world, post)
    payload["tweet_create_events"][0]["retweeted_status"] = {"id_str": "1"}
    activity = account_activity(payload, "")
    assert (activity.messages, activity.ignored) == ([], 1)


def test_aaa_broken_events_are_counted_and_the_others_kept(world: XState) -> None:
    good = world.add_mention("janedoe", "@AcmeSupport still down")
    (payload,) = aaa_tweet_create_payloads(world, good)
    event = payload["tweet_create_events"][0]
    no_user = copy.deepcopy(event) | {"user": None}
    bad_id = copy.deepcopy(event) | {"id_str": "abc", "id": "abc"}
    payload["tweet_create_events"] = [no_user, event, bad_id, "text"]
    activity = account_activity(payload, "")
    assert ([m.external_id for m in activity.messages], activity.malformed) == ([good], 3)
    dm = {"for_user_id": BRAND, "direct_message_events": [{"type": "message_create", "id": "7"}]}
    assert account_activity(dm, "").malformed == 1
    assert account_activity({"for_user_id": BRAND, "tweet_create_events": {}}, "").malformed == 1


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "text",
        None,
        {"tweet_create_events": []},
        {"for_user_id": 1500000000000000001, "direct_message_events": []},
        {"for_user_id": "me", "tweet_create_events": []},
    ],
)
def test_aaa_payload_that_cannot_be_placed_is_malformed(payload: Any) -> None:
    with pytest.raises(Malformed):
        account_activity(payload, "")


# -- small rules -------------------------------------------------------------------------------


def test_rate_limit_reset_is_epoch_seconds() -> None:
    assert reset_at("1705420800") == datetime(2024, 1, 16, 16, 0, tzinfo=UTC)
    assert reset_at(" 1705420800 ") == datetime(2024, 1, 16, 16, 0, tzinfo=UTC)
    assert reset_at(None) is None
    assert reset_at("") is None
    assert reset_at("Tue, 16 Jan 2024 16:00:00 GMT") is None
    assert reset_at("9" * 30) is None


def test_v1_times() -> None:
    assert parse_v1_time("Mon May 19 14:01:46 +0000 2025") == datetime(
        2025, 5, 19, 14, 1, 46, tzinfo=UTC
    )
    assert parse_v1_time("1516403560557") == datetime(2018, 1, 19, 23, 12, 40, 557000, tzinfo=UTC)
    for bad in (None, "", "19/05/2025", "9" * 40):
        with pytest.raises(Malformed):
            parse_v1_time(bad)


def test_dm_conversation_ids_sort_numerically_and_name_the_other_person() -> None:
    assert dm_conversation_id("944480690", BRAND) == f"944480690-{BRAND}"
    assert dm_conversation_id(BRAND, "944480690") == f"944480690-{BRAND}"
    assert dm_conversation_id("10", "9") == "9-10"
    assert other_participant(f"944480690-{BRAND}", BRAND) == "944480690"
    assert other_participant(f"{BRAND}-9444806900000000000", BRAND) == "9444806900000000000"
    assert other_participant("1578398451921985538", BRAND) is None
    assert other_participant("1-2", BRAND) is None


def test_error_bodies() -> None:
    duplicate = {
        "detail": "You are not allowed to create a Tweet with duplicate content.",
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
    }
    assert is_duplicate_content(duplicate)
    assert not is_duplicate_content({"detail": "Forbidden", "status": 403})
    assert not is_duplicate_content(None)
    invalid = {
        "errors": [{"parameters": {"pagination_token": ["zz"]}, "message": "not valid"}],
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    assert names_parameter(invalid, "pagination_token")
    assert not names_parameter(invalid, "since_id")
    assert not names_parameter({"errors": "x"}, "pagination_token")
    assert problem_kind(invalid) == "invalid-request"
    assert problem_kind(duplicate) == ""


def test_text_read_back_compares_loosely_on_links_only() -> None:
    assert same_text("See https://t.co/abc123 &amp; thanks", "See https://example.com/a & thanks")
    assert same_text("Merci  Jane", "Merci Jane ")
    assert not same_text("Merci Jane", "Merci Jean")
