"""Threading rules: which conversation a message joins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.inbox.domain.messages import Incoming, first_occurrences
from services.inbox.domain.threading import thread_key, thread_keys

T0 = datetime(2026, 11, 21, 9, tzinfo=UTC)


def msg(
    external_id: str,
    *,
    kind: str = "mention",
    in_reply_to: str = "",
    thread_id: str = "",
    author: str = "42",
    minutes: int = 0,
    channel: str = "c",
    platform: str = "x",
    handle: str = "h",
) -> Incoming:
    return Incoming(
        platform=platform,
        channel=channel,
        external_id=external_id,
        kind=kind,
        direction="in",
        author_external_id=author,
        author_handle=handle,
        author_display_name="",
        text="t",
        created_at=T0 + timedelta(minutes=minutes),
        in_reply_to=in_reply_to,
        thread_id=thread_id,
    )


@pytest.mark.parametrize(
    ("message", "parent", "expected"),
    [
        (msg("1"), None, "t:1"),
        (msg("2", in_reply_to="1"), "t:root", "t:root"),
        (msg("2", in_reply_to="1"), None, "t:1"),
        (msg("2", thread_id="root"), None, "t:root"),
        (msg("2", in_reply_to="1", thread_id="root"), None, "t:root"),
        (msg("d", kind="dm", thread_id="conv-9"), None, "dm:conv-9"),
        (msg("d", kind="dm", author="77"), None, "dm:77"),
        (msg("d", kind="dm", in_reply_to="1"), "t:1", "dm:42"),
    ],
)
def test_thread_key(message: Incoming, parent: str | None, expected: str) -> None:
    assert thread_key(message, parent) == expected


def test_a_reply_in_the_same_batch_joins_its_parent_whatever_the_order() -> None:
    batch = [
        msg("3", in_reply_to="2", minutes=2),
        msg("1", thread_id="", minutes=0),
        msg("2", in_reply_to="1", minutes=1),
    ]
    assert thread_keys(batch, {}) == ["t:1", "t:1", "t:1"]


def test_a_reply_to_a_stored_message_joins_its_conversation() -> None:
    assert thread_keys([msg("9", in_reply_to="5")], {("x", "c", "5"): "t:1"}) == ["t:1"]


def test_the_same_id_in_another_channel_is_another_message() -> None:
    batch = [msg("1"), msg("1", channel="d"), msg("1")]
    assert first_occurrences(batch) == ([0, 1], [2])
