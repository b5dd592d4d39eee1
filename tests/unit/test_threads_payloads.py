"""Threads media objects and webhook notifications read as messages (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.inbox.domain.threads import media_message, read_notification

BRAND = "25025320000000001"
REPLY: dict[str, Any] = {
    "id": "18010000000000002",
    "username": "lea_m",
    "text": "Mon train a été annulé",
    "timestamp": "2024-08-07T10:33:16+0000",
    "replied_to": {"id": "18010000000000001"},
    "root_post": {"id": "18010000000000001", "owner_id": BRAND, "username": "acme"},
}


def notification(value: Any, field: str = "replies") -> dict[str, Any]:
    return {
        "app_id": "1",
        "target_id": BRAND,
        "time": 1,
        "values": {"value": value, "field": field},
    }


def test_a_top_level_reply_starts_a_conversation_and_a_nested_one_joins_its_parent() -> None:
    message = media_message(REPLY, "reply", BRAND)
    assert (message.kind, message.direction, message.author_external_id) == ("reply", "in", "lea_m")
    assert (message.thread_id, message.in_reply_to) == (REPLY["id"], "18010000000000001")
    nested = media_message({**REPLY, "id": "3", "replied_to": {"id": REPLY["id"]}}, "reply", BRAND)
    assert (nested.thread_id, nested.in_reply_to) == ("", REPLY["id"])
    assert message.created_at == datetime(2024, 8, 7, 10, 33, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "direction"),
    [
        ({"username": "acme"}, "out"),  # the root post's owner, the brand, wrote it
        ({"is_reply_owned_by_me": True, "username": "acme"}, "out"),
        (
            {"username": "acme", "root_post": {"id": "9", "owner_id": "77", "username": "acme"}},
            "in",
        ),
    ],
)
def test_the_brands_own_replies_are_outbound(changes: dict[str, Any], direction: str) -> None:
    assert media_message({**REPLY, **changes}, "reply", BRAND).direction == direction


def test_a_mention_that_is_no_reply_starts_its_own_thread() -> None:
    mention = {
        "id": "5",
        "username": "sam",
        "text": "@acme hi",
        "timestamp": "2024-08-07T10:00:00+0000",
    }
    message = media_message(mention, "mention", BRAND)
    assert (message.kind, message.thread_id, message.in_reply_to) == ("mention", "5", "")


@pytest.mark.parametrize(
    ("payload", "stored", "malformed", "ignored"),
    [
        (notification(REPLY), 1, 0, 0),
        (notification(REPLY, "mentions"), 1, 0, 0),
        (notification(REPLY, "publish"), 0, 0, 1),
        (notification({**REPLY, "timestamp": None}), 0, 1, 0),
        (notification({**REPLY, "username": 7}), 0, 1, 0),
        ({**notification(REPLY, "mentions"), "target_id": None}, 0, 1, 0),
        ({"values": []}, 0, 1, 0),
        ([], 0, 1, 0),
    ],
)
def test_notifications_store_posts_and_count_the_rest(
    payload: Any, stored: int, malformed: int, ignored: int
) -> None:
    read = read_notification(payload)
    assert (read.message_count, read.malformed, sum(read.ignored.values())) == (
        stored,
        malformed,
        ignored,
    )
    if stored:
        assert list(read.messages) == [BRAND]


def test_a_reply_goes_to_its_posts_owner_and_a_mention_to_the_subscriber() -> None:
    other = {"id": "9", "owner_id": "777", "username": "someone"}
    reply = {**notification(REPLY), "target_id": "123"}  # not the brand's id
    assert list(read_notification(reply).messages) == [BRAND]
    mention = notification({**REPLY, "root_post": other, "replied_to": {"id": "9"}}, "mentions")
    assert list(read_notification(mention).messages) == [BRAND]
