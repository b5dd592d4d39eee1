"""How a Meta or WhatsApp webhook post is counted: stored, duplicate, malformed or ignored."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from services.inbox.domain import meta, whatsapp

COMMENT = {"id": "17", "from": {"id": "2", "username": "ann"}, "text": "hi", "timestamp": 1767225}
MESSAGE = meta.ig_comment_change(COMMENT, "99", None)
STATUS = whatsapp.Status("wamid.1", "delivered", datetime(2026, 1, 1, tzinfo=UTC), "33600", "")


@pytest.mark.parametrize(
    ("notification", "stored", "outcome"),
    [
        (meta.Notification({"p": [MESSAGE]}), 1, "stored"),
        (meta.Notification({"p": [MESSAGE]}), 0, "duplicate"),
        (meta.Notification(malformed=1), 0, "malformed"),
        (meta.Notification(ignored=Counter(feed_other_verb=1)), 0, "ignored"),
        (whatsapp.Notification(statuses={"n": [STATUS]}), 0, "duplicate"),
        (whatsapp.Notification(statuses={"n": [STATUS]}), 1, "stored"),
        (whatsapp.Notification(malformed=2), 0, "malformed"),
    ],
)
def test_a_post_is_counted_by_what_it_held_and_what_was_new(
    notification: meta.Notification, stored: int, outcome: str
) -> None:
    assert notification.outcome(stored) == outcome
