"""Bluesky notifications and chat logs become clean, correctly typed and threaded messages."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fakes.bluesky import facets_for
from services.inbox.domain.bluesky import (
    SCAN_MARGIN,
    chat_message,
    facet_spans,
    is_record_collision,
    link_facets,
    newest_indexed,
    notification_message,
    own_message_in,
    page_is_older,
    record_key,
    reply_refs,
    reset_at,
    written_at,
)

BRAND = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
JANE = "did:plc:abc123"
ROOT = f"at://{BRAND}/app.bsky.feed.post/3kq2w1root2a"
PARENT = "at://did:plc:xyz789/app.bsky.feed.post/3kq2w2parent"
POST_URI = f"at://{JANE}/app.bsky.feed.post/3kq2x7yvz2c2a"
T = datetime(2024, 5, 13, 10, 30, tzinfo=UTC)


def _note(reason: str = "mention", reply: bool = False, **record_extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "text": "@acme.bsky.social where's my parcel? 📦",
        "langs": ["en"],
        "createdAt": "2024-05-13T10:29:58.123Z",
    }
    if reply:
        record["reply"] = {
            "root": {"uri": ROOT, "cid": "bafyreiroot"},
            "parent": {"uri": PARENT, "cid": "bafyreiparent"},
        }
    record.update(record_extra)
    return {
        "uri": POST_URI,
        "cid": "bafyreihm5",
        "author": {"did": JANE, "handle": "jane.bsky.social", "displayName": "Jane 🌷"},
        "reason": reason,
        "record": record,
        "isRead": False,
        "indexedAt": "2024-05-13T10:30:00.412Z",
        "labels": [],
    }


# ----- notifications -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "reply", "kind", "in_reply_to", "thread_id"),
    [
        ("mention", False, "mention", "", POST_URI),  # a post of its own: it roots its thread
        ("reply", True, "reply", PARENT, ROOT),
        # mention > reply: a reply that mentions the brand is only a mention, same thread
        ("mention", True, "mention", PARENT, ROOT),
    ],
)
def test_mentions_and_replies_are_keyed_by_uri_and_threaded_by_root(
    reason: str, reply: bool, kind: str, in_reply_to: str, thread_id: str
) -> None:
    m = notification_message(_note(reason, reply), "bsky", BRAND)
    assert m is not None
    assert (m.platform, m.channel, m.external_id, m.kind, m.direction) == (
        "bluesky",
        "bsky",
        POST_URI,
        kind,
        "in",
    )
    assert (m.in_reply_to, m.thread_id) == (in_reply_to, thread_id)
    assert (m.author_external_id, m.author_handle, m.author_display_name) == (
        JANE,
        "jane.bsky.social",
        "Jane 🌷",
    )
    assert m.text == "@acme.bsky.social where's my parcel? 📦"
    assert m.created_at == datetime(2024, 5, 13, 10, 29, 58, 123000, tzinfo=UTC)
    assert m.lang == "en"
    assert m.raw is not None and m.raw["cid"] == "bafyreihm5"


@pytest.mark.parametrize(
    "note",
    [
        {**_note(), "reason": "like"},
        {**_note(), "reason": "quote"},
        {**_note(), "reason": "follow"},
        {**_note(), "reason": "some-future-reason"},
        {**_note(), "record": {"$type": "app.bsky.feed.like", "createdAt": "2024-05-13T10:00Z"}},
        {**_note(), "author": {"handle": "no-did.example"}},
        {**_note(), "uri": None},
        {**_note(), "indexedAt": "never", "record": {"$type": "app.bsky.feed.post", "text": "x"}},
    ],
)
def test_other_notifications_are_not_messages(note: dict[str, Any]) -> None:
    assert notification_message(note, "bsky", BRAND) is None


def test_the_brands_own_post_is_outbound_and_text_is_nfc() -> None:
    note = _note(text="e\u0301te\u0301 sans re\u0301seau", langs=[])
    note["author"] = {"did": BRAND, "handle": "acme.bsky.social"}
    m = notification_message(note, "bsky", BRAND)
    assert m is not None
    assert m.direction == "out"
    assert m.text == "été sans réseau" and unicodedata.is_normalized("NFC", m.text)
    assert (m.lang, m.author_display_name) == ("", "")


@pytest.mark.parametrize(
    ("created", "indexed", "expected"),
    [
        (T, T + timedelta(seconds=2), T),  # the usual: written, then indexed
        (T - timedelta(minutes=50), T, T - timedelta(minutes=50)),  # a slow index
        (T + timedelta(minutes=3), T, T),  # the phone's clock runs fast
        (T - timedelta(days=400), T, T),  # back-dated (an import): seen when indexed
        (None, T, T),
        (T, None, T),
    ],
)
def test_when_a_post_counts_as_written(
    created: datetime | None, indexed: datetime | None, expected: datetime
) -> None:
    assert written_at(created, indexed) == expected


def test_a_back_dated_post_starts_its_clock_when_indexed() -> None:
    m = notification_message(_note(createdAt="2023-01-01T00:00:00Z"), "bsky", BRAND)
    assert m is not None
    assert m.created_at == datetime(2024, 5, 13, 10, 30, 0, 412000, tzinfo=UTC)
    assert m.raw is not None and m.raw["record"]["createdAt"] == "2023-01-01T00:00:00Z"


# ----- facets ------------------------------------------------------------------------------


def test_facets_count_utf8_bytes_so_emoji_before_them_do_not_shift_the_text() -> None:
    text = "📦🇫🇷 colis perdu @acme.bsky.social voir https://t.co/x?a=é #retard"
    handles = {"acme.bsky.social": BRAND}
    facets = facets_for(text, handles)  # as the official client writes them
    spans = facet_spans(text, facets)
    assert [(s.kind, s.text, s.value) for s in spans] == [
        ("mention", "@acme.bsky.social", BRAND),
        ("link", "https://t.co/x?a=é", "https://t.co/x?a=é"),
        ("tag", "#retard", "retard"),
    ]
    mention = spans[0]
    assert mention.byte_start == len("📦🇫🇷 colis perdu ".encode())
    # Slicing the str with the byte offsets would have cut somewhere else entirely.
    assert text[mention.byte_start : mention.byte_end] != "@acme.bsky.social"


def test_hand_written_facet_after_an_emoji() -> None:
    text = "👋 @jane.bsky.social hello"
    facets = [
        {
            "index": {"byteStart": 5, "byteEnd": 22},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": JANE}],
        }
    ]
    (span,) = facet_spans(text, facets)
    assert (span.text, span.value) == ("@jane.bsky.social", JANE)


@pytest.mark.parametrize(
    "index",
    [
        {"byteStart": 1, "byteEnd": 4},  # inside the 4-byte emoji
        {"byteStart": 0, "byteEnd": 400},  # past the end
        {"byteStart": 6, "byteEnd": 6},  # empty
        {"byteStart": -1, "byteEnd": 3},
        {"byteStart": True, "byteEnd": 3},
        {"byteStart": "0", "byteEnd": "3"},
    ],
)
def test_broken_facets_are_skipped(index: dict[str, Any]) -> None:
    facets = [{"index": index, "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "x"}]}]
    assert facet_spans("👋 @jane.bsky.social hello", facets) == []
    assert facet_spans("text", "not a list") == []


def test_link_facets_we_write_read_back_as_the_urls() -> None:
    text = "Désolé 🙏 voir https://status.acme.test/incident/42. Ou (https://acme.test/aide)"
    spans = facet_spans(text, link_facets(text))
    assert [(s.kind, s.text, s.value) for s in spans] == [
        ("link", "https://status.acme.test/incident/42", "https://status.acme.test/incident/42"),
        ("link", "https://acme.test/aide", "https://acme.test/aide"),
    ]
    assert link_facets("no links here, just acme.test") == []


# ----- chat --------------------------------------------------------------------------------


def _log(sender: str, text: str = "Hi, order #4411? 📦", **extra: Any) -> dict[str, Any]:
    return {
        "$type": "chat.bsky.convo.defs#logCreateMessage",
        "rev": "2222223ybf4q2",
        "convoId": "3kq2abcconvo",
        "message": {
            "$type": "chat.bsky.convo.defs#messageView",
            "id": "3kq2msg0001",
            "rev": "2222223ybf4q2",
            "text": text,
            "sender": {"did": sender},
            "sentAt": "2024-05-13T10:40:00.000Z",
            **extra,
        },
    }


def test_a_chat_message_is_a_dm_threaded_by_convo() -> None:
    profiles = {JANE: ("jane.bsky.social", "Jane")}
    m = chat_message(_log(JANE), "bsky", BRAND, profiles)
    assert m is not None
    assert (m.kind, m.direction, m.external_id, m.thread_id, m.in_reply_to) == (
        "dm",
        "in",
        "3kq2msg0001",
        "3kq2abcconvo",
        "",
    )
    assert (m.author_external_id, m.author_handle, m.author_display_name) == (
        JANE,
        "jane.bsky.social",
        "Jane",
    )
    assert m.created_at == datetime(2024, 5, 13, 10, 40, tzinfo=UTC)
    assert m.text == "Hi, order #4411? 📦"


def test_the_brands_own_chat_message_is_outbound_and_unknown_senders_have_no_handle() -> None:
    own = chat_message(_log(BRAND, "On regarde 🙏"), "bsky", BRAND, {})
    assert own is not None and own.direction == "out" and own.author_handle == ""


@pytest.mark.parametrize(
    "entry",
    [
        {"$type": "chat.bsky.convo.defs#logBeginConvo", "rev": "1", "convoId": "c"},
        {"$type": "chat.bsky.convo.defs#logReadMessage", "rev": "1", "convoId": "c"},
        {**_log(JANE), "$type": "chat.bsky.convo.defs#logDeleteMessage"},
        _log(JANE, **{"$type": "chat.bsky.convo.defs#deletedMessageView"}),
        {**_log(JANE), "convoId": None},
        _log(JANE, sentAt="yesterday"),
    ],
)
def test_other_log_entries_are_not_messages(entry: dict[str, Any]) -> None:
    assert chat_message(entry, "bsky", BRAND, {}) is None


def _view(mid: str, sender: str, text: str) -> dict[str, Any]:
    return {"id": mid, "sender": {"did": sender}, "text": text, "sentAt": "2024-05-13T10:41:00Z"}


def test_finding_a_dm_we_sent_stops_at_the_message_it_answers() -> None:
    canned = "Merci, on regarde ça 🙏"
    newest_first = [
        _view("m5", JANE, canned),  # the customer quoting us is not our message
        _view("m4", BRAND, "e\u0301crit autrement"),
        _view("m3", BRAND, canned),  # ours, after the answered message: sent
        _view("m2", JANE, "toujours en panne"),  # the answered message
        _view("m1", BRAND, canned),  # the same canned answer, to an older message
    ]
    found, reached = own_message_in(newest_first, BRAND, canned, answered_id="m2")
    assert found is not None and found["id"] == "m3" and not reached
    found, reached = own_message_in(newest_first[3:], BRAND, canned, answered_id="m2")
    assert found is None and reached, "an answer before the answered message does not count"
    found, reached = own_message_in(newest_first, BRAND, "écrit autrement", answered_id="m2")
    assert found is not None and found["id"] == "m4", "compared as NFC"
    assert own_message_in([], BRAND, canned, "m2") == (None, False)


# ----- replies -----------------------------------------------------------------------------


def test_reply_refs_take_the_root_of_the_answered_post() -> None:
    nested = reply_refs(_note("reply", reply=True), POST_URI)
    assert nested == {
        "root": {"uri": ROOT, "cid": "bafyreiroot"},
        "parent": {"uri": POST_URI, "cid": "bafyreihm5"},
    }
    top = reply_refs(_note(), POST_URI)
    assert top == {
        "root": {"uri": POST_URI, "cid": "bafyreihm5"},
        "parent": {"uri": POST_URI, "cid": "bafyreihm5"},
    }
    assert reply_refs(None, POST_URI) is None
    assert reply_refs({**_note(), "cid": None}, POST_URI) is None
    assert reply_refs(_note(), PARENT) is None, "the payload must be the answered post's"


TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def _tid_micros(tid: str) -> int:
    value = 0
    for char in tid:
        value = value * 32 + _ALPHABET.index(char)
    return value >> 10


def test_record_keys_are_tids_derived_from_the_reply_id() -> None:
    one, two = uuid.uuid4(), uuid.uuid4()
    key = record_key(one, T)
    assert TID.fullmatch(key), key
    assert record_key(one, T) == key, "a resend names the same record"
    assert record_key(two, T) != key, "another reply to the same post gets another key"
    offset = _tid_micros(key) - int(T.timestamp() * 1_000_000)
    assert 0 <= offset < 1_100_000, "sorts like a TID written just after the answered post"
    assert TID.fullmatch(record_key(one))
    # 30 bits come from the reply id: fixed ids keep this check deterministic (random ones
    # collide about once in 500 runs of 2,000, which is fine for replies to one post).
    keys = {record_key(uuid.UUID(int=n * 7919), T) for n in range(2000)}
    assert len(keys) == 2000


@pytest.mark.parametrize(
    ("status", "error", "message", "collision"),
    [
        (400, "InvalidRequest", "Record already exists", True),  # the fake's default
        (409, "RecordAlreadyExists", "Record already exists", True),
        (409, "", "", True),
        (500, "InternalServerError", "There is already a value at key: app.bsky.feed.post/x", True),
        (400, "InvalidRequest", "Invalid record key", False),
        (400, "InvalidRequest", "Invalid app.bsky.feed.post record: Record/text too long", False),
        (500, "InternalServerError", "Internal Server Error", False),
        (200, "", "already exists", False),
    ],
)
def test_an_rkey_collision_is_recognised(
    status: int, error: str, message: str, collision: bool
) -> None:
    assert is_record_collision(status, error, message) is collision


# ----- paging and rate limits --------------------------------------------------------------


def test_a_page_is_older_only_when_every_item_was_indexed_before_the_floor() -> None:
    floor = T
    old = {"indexedAt": "2024-05-13T10:29:00Z"}
    new = {"indexedAt": "2024-05-13T10:31:00Z"}
    assert page_is_older([old, old], floor)
    assert not page_is_older([old, new, old], floor), "a late-indexed item among old ones"
    assert not page_is_older([old, {"indexedAt": "garbage"}], floor)
    assert newest_indexed([old, new], None) == datetime(2024, 5, 13, 10, 31, tzinfo=UTC)
    assert newest_indexed([old], T) == T, "the mark never moves backwards"
    assert newest_indexed([], None) is None
    assert timedelta(minutes=5) <= SCAN_MARGIN


def test_rate_limit_reset_is_epoch_seconds() -> None:
    assert reset_at("1715594700") == datetime.fromtimestamp(1715594700, UTC)
    assert reset_at(" 1715594700.5 ") == datetime.fromtimestamp(1715594700.5, UTC)
    assert reset_at("2024-05-13T10:05:00Z") is None
    assert reset_at("") is None and reset_at(None) is None
    assert reset_at("9" * 30) is None
