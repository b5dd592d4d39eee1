"""WhatsApp notifications read as messages and statuses, the status order, and the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fakes.whatsapp import WhatsAppState
from services.inbox.domain.whatsapp import later_status, read_notification
from services.triage.domain.reply_window import free_text_allowed

NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # the night Europe moves its clocks


def test_a_text_message_is_a_dm_of_the_customers_conversation() -> None:
    state = WhatsAppState(clock=lambda: NOW)
    wamid, payload = state.customer_message("33612345678", "Où est mon colis ?", name="Léa")
    found = read_notification(payload)
    [message] = found.messages[state.phone_number_id]
    assert (message.external_id, message.kind, message.thread_id) == (wamid, "dm", "33612345678")
    assert (message.text, message.author_display_name, message.created_at) == (
        "Où est mon colis ?",
        "Léa",
        NOW,
    )


@pytest.mark.parametrize(
    ("media", "caption", "text"),
    [("image", "the receipt", "[image] the receipt"), ("audio", "", "[audio]")],
)
def test_media_becomes_a_placeholder(media: str, caption: str, text: str) -> None:
    state = WhatsAppState(clock=lambda: NOW)
    _, payload = state.customer_message("33612345678", caption, media=media)
    assert read_notification(payload).messages[state.phone_number_id][0].text == text


def test_reactions_unknown_objects_and_broken_changes_are_counted_not_stored() -> None:
    state = WhatsAppState(clock=lambda: NOW)
    reaction = {"from": "1", "id": "wamid.r", "timestamp": "1", "type": "reaction"}
    found = read_notification(state.notification({"messages": [reaction]}))
    assert found.message_count == 0 and found.ignored["message_reaction"] == 1
    assert read_notification({"object": "page", "entry": [{}]}).ignored["unknown_object"] == 1
    broken = state.notification({"messages": [{"id": "wamid.x", "type": "text"}]})
    assert read_notification(broken).malformed == 1
    assert read_notification([]).malformed == 1


def test_statuses_carry_the_reply_id_and_the_error_code() -> None:
    state = WhatsAppState(clock=lambda: NOW)
    from fakes.whatsapp import WhatsAppSend

    send = WhatsAppSend("wamid.1", "33612345678", "text", "hi", "", "reply-1", NOW)
    found = read_notification(state.status(send, "failed", error=131026))
    [status] = found.statuses[state.phone_number_id]
    assert (status.message_id, status.status, status.callback, status.error_code) == (
        "wamid.1",
        "failed",
        "reply-1",
        131026,
    )


@pytest.mark.parametrize(
    ("arrivals", "kept"),
    [
        (["sent", "delivered", "read"], "read"),
        (["read", "sent", "delivered"], "read"),
        (["delivered", "sent"], "delivered"),
        (["sent", "failed"], "failed"),
        (["failed", "delivered"], "delivered"),  # another device got it
    ],
)
def test_the_furthest_status_is_kept_whatever_the_order(arrivals: list[str], kept: str) -> None:
    current: str | None = None
    for status in arrivals:
        current = later_status(current, status)
    assert current == kept


@pytest.mark.parametrize(
    ("platform", "ago", "allowed"),
    [
        ("whatsapp", timedelta(hours=23, minutes=59), True),
        ("whatsapp", timedelta(hours=24), False),
        ("whatsapp", None, False),
        ("messenger", timedelta(days=3), True),  # Meta's own window is the platform's to apply
    ],
)
def test_free_text_only_inside_the_24_hour_window(
    platform: str, ago: timedelta | None, allowed: bool
) -> None:
    last = None if ago is None else NOW - ago
    assert free_text_allowed(platform, last, NOW) is allowed
