"""WhatsApp's customer-service window: a business may answer in free text only within 24
hours of the customer's last message; after that, only an approved message template goes
(WhatsApp Cloud API, "customer service windows"; the platform refuses with error 131047)."""

from __future__ import annotations

from datetime import datetime, timedelta

WINDOW = timedelta(hours=24)
WINDOWED_PLATFORMS = frozenset({"whatsapp"})


def free_text_allowed(
    platform: str, last_customer_message_at: datetime | None, now: datetime
) -> bool:
    """Whether a reply in free text may go now; False means: choose an approved template."""
    if platform not in WINDOWED_PLATFORMS:
        return True
    return last_customer_message_at is not None and now < last_customer_message_at + WINDOW
