"""Meta webhook payloads become correctly typed messages; everything else is counted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from fakes.clock import ManualClock
from fakes.meta import (
    MetaState,
    batch,
    changes_payload,
    encode_body,
    messaging_payload,
)
from services.inbox.domain.messages import Incoming
from services.inbox.domain.meta import (
    UNKNOWN_AUTHOR,
    Malformed,
    clean_raw,
    epoch,
    graph_error,
    read_notification,
    read_profile,
    regain_at,
)

T0 = datetime(2024, 5, 13, 10, 0, tzinfo=UTC)
PAGE = "137542570280222"
IG = "17841405726653026"
PSID = "24000000000000001"
IGSID = "17800000000000001"
CUSTOMER = "139560936744123"


@pytest.fixture
def state() -> MetaState:
    return MetaState(clock=ManualClock(T0))


def over_the_wire(payload: dict[str, Any]) -> Any:
    """What the receiver parses: Meta's escaped bytes, decoded by json.loads."""
    return json.loads(encode_body(payload))


def only(payload: dict[str, Any], account: str) -> Incoming:
    found = read_notification(over_the_wire(payload))
    assert list(found.messages) == [account]
    (message,) = found.messages[account]
    return message


def test_a_feed_comment_is_an_inbound_comment_threaded_by_its_post(state: MetaState) -> None:
    event = state.feed_comment(CUSTOMER, "Where is my order? äöå")
    value = event.payload["entry"][0]["changes"][0]["value"]
    message = only(event.payload, PAGE)
    assert (message.platform, message.channel, message.kind, message.direction) == (
        "facebook",
        "",
        "comment",
        "in",
    )
    assert message.external_id == event.id
    assert message.thread_id == value["post_id"]
    assert message.in_reply_to == ""  # a top-level comment answers the post, not a message
    assert (message.author_external_id, message.author_display_name) == (CUSTOMER, "Jane Doe")
    assert message.text == "Where is my order? äöå"
    assert message.created_at == T0
    assert message.raw is not None and message.raw["value"]["verb"] == "add"


def test_a_reply_to_a_comment_points_at_it_and_the_pages_own_comment_is_outbound(
    state: MetaState,
) -> None:
    first = state.feed_comment(CUSTOMER, "Where is my order?")
    answer = state.feed_comment(PAGE, "We're on it", parent_id=first.id)
    follow_up = state.feed_comment(CUSTOMER, "Thanks!", parent_id=first.id)
    page = only(answer.payload, PAGE)
    customer = only(follow_up.payload, PAGE)
    assert (page.direction, page.author_external_id, page.in_reply_to) == ("out", PAGE, first.id)
    assert page.author_display_name == "Acme"
    assert (customer.direction, customer.in_reply_to) == ("in", first.id)
    assert page.thread_id == customer.thread_id == only(first.payload, PAGE).thread_id


def test_an_edit_is_read_under_the_same_id_and_a_removal_is_ignored(state: MetaState) -> None:
    event = state.feed_comment(CUSTOMER, "Where is my order?")
    edited = only(state.feed_comment_edit(event.id, "Where is order 1234?").payload, PAGE)
    assert (edited.external_id, edited.text) == (event.id, "Where is order 1234?")
    assert edited.created_at == T0  # when the person first wrote: SLA clocks start there
    removed = read_notification(over_the_wire(state.feed_comment_remove(event.id).payload))
    assert removed.messages == {} and removed.ignored == {"feed_remove": 1}
    assert removed.malformed == 0


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"item": "reaction", "verb": "add", "reaction_type": "like"}, "feed_not_comment"),
        ({"item": "status", "verb": "add", "post_id": "1_2", "message": "hi"}, "feed_not_comment"),
        ({"item": "comment", "verb": "hide", "comment_id": "2_3"}, "feed_other_verb"),
    ],
)
def test_feed_changes_that_are_not_new_comments_are_ignored(
    value: dict[str, Any], reason: str
) -> None:
    found = read_notification(changes_payload("page", PAGE, "feed", value, 1))
    assert (found.messages, dict(found.ignored), found.malformed) == ({}, {reason: 1}, 0)


def test_a_comment_whose_author_meta_withholds_is_kept(state: MetaState) -> None:
    payload = over_the_wire(state.feed_comment(CUSTOMER, "no from here").payload)
    del payload["entry"][0]["changes"][0]["value"]["from"]
    (message,) = read_notification(payload).messages[PAGE]
    assert (message.author_external_id, message.direction) == (UNKNOWN_AUTHOR, "in")


def test_messenger_message_echo_and_other_events(state: MetaState) -> None:
    incoming = state.messenger_message(PSID, "hello, world!", reply_to={"mid": "m_earlier"})
    message = only(incoming.payload, PAGE)
    assert (message.platform, message.kind, message.direction) == ("messenger", "dm", "in")
    assert (message.external_id, message.author_external_id) == (incoming.id, PSID)
    assert (message.thread_id, message.in_reply_to) == (PSID, "m_earlier")
    assert message.created_at == T0

    echo_event = state.messenger_echo(PSID, "Hi! How can we help?")
    echo = only(echo_event.payload, PAGE)
    assert (echo.direction, echo.author_external_id, echo.thread_id) == ("out", PAGE, PSID)
    assert echo.external_id == echo_event.id

    standby = read_notification(
        over_the_wire(state.messenger_message(PSID, "x", standby=True).payload)
    )
    assert standby.messages == {} and standby.ignored == {"standby": 1}

    people = {"sender": {"id": PSID}, "recipient": {"id": PAGE}}
    others = [
        people | {"delivery": {"watermark": 1}},
        people | {"read": {"watermark": 1}},
        people | {"postback": {"payload": "X"}},
    ]
    found = read_notification(messaging_payload("page", PAGE, others, 1))
    assert found.messages == {}
    assert found.ignored == {"messaging_delivery": 1, "messaging_read": 1, "messaging_postback": 1}


def test_instagram_comment_mention_dm_echo_and_deletion(state: MetaState) -> None:
    comment_event = state.ig_comment(IGSID, "@acme my order never came")
    comment = only(comment_event.payload, IG)
    media = comment_event.payload["entry"][0]["changes"][0]["value"]["media"]["id"]
    assert (comment.platform, comment.kind, comment.direction) == ("instagram", "comment", "in")
    assert (comment.external_id, comment.thread_id) == (comment_event.id, media)
    assert (comment.author_external_id, comment.author_handle) == (IGSID, "jane.doe")
    assert comment.created_at == T0

    state.ig_comment_id_key = "comment_id"
    by_other_key = state.ig_comment(IGSID, "hello?", parent_id=comment_event.id)
    reply = only(by_other_key.payload, IG)
    assert (reply.external_id, reply.in_reply_to) == (by_other_key.id, comment_event.id)

    mention = only(state.ig_mention("17918195224117851", "17894227972186120").payload, IG)
    assert (mention.kind, mention.external_id, mention.thread_id) == (
        "mention",
        "17894227972186120",
        "17918195224117851",
    )
    assert (mention.author_external_id, mention.text) == (UNKNOWN_AUTHOR, "")
    caption = only(state.ig_mention("17918195224117851").payload, IG)
    assert caption.external_id == "17918195224117851"

    dm_event = state.ig_message(IGSID, "hi")
    dm = only(dm_event.payload, IG)
    assert (dm.platform, dm.kind, dm.direction, dm.thread_id) == ("instagram", "dm", "in", IGSID)
    echo = only(state.ig_message(IGSID, "hey", is_echo=True).payload, IG)
    assert (echo.direction, echo.author_external_id, echo.thread_id) == ("out", IG, IGSID)
    deleted = read_notification(
        over_the_wire(state.ig_message(IGSID, mid=dm_event.id, is_deleted=True).payload)
    )
    assert deleted.messages == {} and deleted.ignored == {"message_deleted": 1}


def test_emoji_arrive_as_surrogate_escapes_and_leave_as_one_character(state: MetaState) -> None:
    event = state.messenger_message(PSID, "Colis perdu 😡 déjà 3 jours 👍🏽")
    wire = encode_body(event.payload)
    assert b"\\ud83d\\ude21" in wire and b"\\u00e9" in wire
    message = only(event.payload, PAGE)
    assert message.text == "Colis perdu 😡 déjà 3 jours 👍🏽"
    assert message.raw is not None and message.raw["message"]["text"] == message.text


def test_decomposed_text_is_stored_composed(state: MetaState) -> None:
    message = only(state.messenger_message(PSID, "de\u0301ja\u0300").payload, PAGE)
    assert message.text == "déjà"


def test_nul_and_lone_surrogates_cannot_break_storage() -> None:
    body = (
        b'{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"sender":{"id":"2"},'
        b'"recipient":{"id":"1"},"message":{"mid":"m_1","text":"a\\u0000b \\ud83d!",'
        b'"big":123456789012345678901234567890}}]}]}'
    )
    (message,) = read_notification(json.loads(body)).messages["1"]
    assert message.text == "ab \ufffd!"
    assert message.raw is not None
    assert orjson.dumps(message.raw)  # storable: no NUL, no lone surrogate, 64-bit integers
    assert message.raw["message"]["big"] == "123456789012345678901234567890"
    assert clean_raw({"k\x00": [1.5, float("nan")]}) == {"k": [1.5, None]}


def test_batched_entries_are_grouped_by_account(state: MetaState) -> None:
    payload = batch(
        state.feed_comment(CUSTOMER, "one").payload,
        state.messenger_message(PSID, "two").payload,
        state.messenger_echo(PSID, "three").payload,
    )
    found = read_notification(over_the_wire(payload))
    assert [m.platform for m in found.messages[PAGE]] == ["facebook", "messenger", "messenger"]
    assert found.message_count == 3


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "page",
        {"object": "page"},
        {"object": "page", "entry": {}},
    ],
)
def test_payloads_without_entries_are_malformed(payload: Any) -> None:
    found = read_notification(payload)
    assert (found.messages, found.malformed) == ({}, 1)


def test_malformed_events_do_not_lose_the_good_ones(state: MetaState) -> None:
    good = over_the_wire(state.messenger_message(PSID, "keep me").payload)
    events = good["entry"][0]["messaging"]
    events.append({"sender": {"id": PSID}, "message": {"text": "no mid"}})
    events.append({"recipient": {"id": PAGE}, "message": {"mid": "m_x", "text": "no sender"}})
    events.append("not an object")
    good["entry"].append({"time": 1, "messaging": []})  # no id
    good["entry"][0]["changes"] = [{"value": {}}]  # no field
    found = read_notification(good)
    assert [m.text for m in found.messages[PAGE]] == ["keep me"]
    assert found.malformed == 5


def test_unknown_objects_and_fields_are_ignored() -> None:
    found = read_notification({"object": "user", "entry": [{"id": "1", "changes": []}]})
    assert (found.messages, dict(found.ignored)) == ({}, {"unknown_object": 1})
    found = read_notification(changes_payload("page", PAGE, "ratings", {}, 1))
    assert (found.messages, dict(found.ignored), found.malformed) == (
        {},
        {"unknown_field": 1},
        0,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1511951015, datetime(2017, 11, 29, 10, 23, 35, tzinfo=UTC)),
        (1458692752478, datetime(2016, 3, 23, 0, 25, 52, 478000, tzinfo=UTC)),
        ("1511951015", datetime(2017, 11, 29, 10, 23, 35, tzinfo=UTC)),
        ("2017-11-29T10:23:35+0000", datetime(2017, 11, 29, 10, 23, 35, tzinfo=UTC)),
    ],
)
def test_meta_times_in_seconds_milliseconds_or_iso(value: Any, expected: datetime) -> None:
    assert epoch(value) == expected


@pytest.mark.parametrize("value", [True, "soon", "2017-11-29T10:23:35", -1, float("inf"), 10**15])
def test_impossible_times_are_malformed(value: Any) -> None:
    with pytest.raises(Malformed):
        epoch(value)


def test_graph_errors_and_regain_time() -> None:
    body = {
        "error": {
            "message": "(#10) outside",
            "type": "OAuthException",
            "code": 10,
            "error_subcode": 2018278,
            "fbtrace_id": "x",
        }
    }
    error = graph_error(body)
    assert (error.code, error.subcode, error.message, error.transient) == (
        10,
        2018278,
        "(#10) outside",
        False,
    )
    assert graph_error("<html>bad gateway</html>").code is None
    now = T0
    usage = {"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 17}
    buc = json.dumps({PAGE: [usage]})
    assert regain_at([buc, None], now) == now + timedelta(minutes=17)
    assert regain_at([json.dumps({PAGE: [{"estimated_time_to_regain_access": 0}]})], now) is None
    assert regain_at(["not json", '{"call_count": 100}'], now) is None
    assert regain_at([json.dumps({"x": [{"estimated_time_to_regain_access": 10**9}]})], now) == (
        now + timedelta(hours=24)
    )


@pytest.mark.parametrize(
    ("platform", "body", "expected"),
    [
        ("messenger", {"name": "Jane Doe", "first_name": "Jane", "id": "1"}, ("Jane Doe", "")),
        ("messenger", {"first_name": "Jane", "last_name": "Doe", "id": "1"}, ("Jane Doe", "")),
        ("messenger", {"first_name": "Jane", "last_name": None}, ("Jane", "")),
        ("instagram", {"name": None, "username": "lea.m", "id": "2"}, ("", "lea.m")),
        ("instagram", {"name": "Le\u0301a", "username": "@lea.m"}, ("L\u00e9a", "lea.m")),
        ("messenger", {"username": "ignored", "name": "Jo\x00e"}, ("Joe", "")),
    ],
)
def test_a_profile_answer_gives_a_name_and_an_instagram_username(
    platform: str, body: Any, expected: tuple[str, str]
) -> None:
    assert read_profile(platform, body) == expected


@pytest.mark.parametrize("body", [None, [], "Jane", {}, {"name": ""}, {"name": 7, "id": "1"}])
def test_a_profile_answer_without_a_name_is_malformed(body: Any) -> None:
    with pytest.raises(Malformed):
        read_profile("messenger", body)
