"""WhatsApp Cloud API webhook notifications as messages and reply statuses (pure).

One POST carries ``{"object": "whatsapp_business_account", "entry": [...]}``; each entry is a
WhatsApp Business Account (``entry.id``: the WABA id) with ``changes[]`` whose ``field`` is
``messages`` and whose ``value`` holds ``metadata.phone_number_id`` (the business number the
channel is keyed by), ``contacts[]`` (``wa_id`` and ``profile.name``), ``messages[]`` (what
customers wrote) and ``statuses[]`` (what became of the business's own messages).

- A message → a ``dm`` threaded by the customer's ``wa_id`` (``from``): one conversation per
  customer and business number. Its id is the ``wamid``, so a redelivery stores nothing new.
  ``text`` keeps ``text.body``; media (image, audio, video, document, sticker) becomes a
  placeholder such as ``[image]`` (plus its caption): the media itself needs a Graph read of
  its id, which the inbox does not make. ``interactive`` and ``button`` answers keep their
  title; ``location`` and ``contacts`` placeholders; ``reaction``, ``system``,
  ``unsupported`` and ``errors``-only messages are not messages for the inbox.
- A status → :class:`Status` (``sent``, ``delivered``, ``read``, ``failed`` of a ``wamid``),
  with ``biz_opaque_callback_data`` (the reply id the connector sent along) and the first
  error code of a ``failed`` one. Statuses may arrive out of order: :func:`later_status`
  keeps the furthest one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.inbox.domain.messages import Incoming
from services.inbox.domain.meta import (
    Ignored,
    Malformed,
    clean_raw,
    clean_text,
    epoch,
    platform_id,
)
from services.inbox.domain.meta import Notification as GraphNotification

OBJECT = "whatsapp_business_account"
STATUSES = ("sent", "delivered", "read", "failed")
# How far a status says the message went: evidence of delivery beats a failure that another
# of the customer's devices may have reported first.
_PROGRESS = {"sent": 1, "failed": 2, "delivered": 3, "read": 4}
MEDIA = ("image", "audio", "video", "document", "sticker")
IGNORED_TYPES = ("reaction", "system", "unsupported", "ephemeral", "request_welcome")
MAX_CALLBACK = 512


@dataclass(frozen=True, slots=True)
class Status:
    """What became of a message the business sent."""

    message_id: str  # the wamid
    status: str  # one of STATUSES
    at: datetime
    recipient: str  # the customer's wa_id
    callback: str  # biz_opaque_callback_data: the reply id, when the connector sent one
    error_code: int | None = None


@dataclass(frozen=True, slots=True)
class Notification(GraphNotification):
    """Messages and statuses per business phone number id, and what was left out."""

    statuses: dict[str, list[Status]] = field(default_factory=dict)

    @property
    def status_count(self) -> int:
        return sum(len(found) for found in self.statuses.values())

    @property
    def item_count(self) -> int:
        return self.message_count + self.status_count


def later_status(current: str | None, incoming: str) -> str:
    """The status to keep when ``incoming`` arrives after ``current`` (in any order)."""
    if current not in _PROGRESS:
        return incoming
    return incoming if _PROGRESS[incoming] > _PROGRESS[str(current)] else str(current)


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{what} is not an object")
    return value


def _string(value: Any) -> str:
    return clean_text(value) if isinstance(value, str) else ""


def message_text(message: dict[str, Any]) -> str:
    """The words of a customer's message, or a placeholder that says what was sent."""
    kind = message.get("type")
    if kind == "text":
        return _string(_dict(message.get("text"), "text").get("body"))
    if kind in MEDIA:
        media = message.get(kind)
        caption = _string(media.get("caption")) if isinstance(media, dict) else ""
        return f"[{kind}] {caption}".strip()
    if kind == "interactive":
        chosen = _dict(message.get("interactive"), "interactive")
        reply = chosen.get("button_reply") or chosen.get("list_reply")
        return _string(reply.get("title")) if isinstance(reply, dict) else "[interactive]"
    if kind == "button":
        return _string(_dict(message.get("button"), "button").get("text"))
    if kind in ("location", "contacts", "order"):
        return f"[{kind}]"
    if kind in IGNORED_TYPES:
        raise Ignored(f"message_{kind}")
    raise Ignored("message_other")


def read_message(message: Any, names: dict[str, str]) -> Incoming:
    """A customer's message as a ``dm`` of the conversation with their ``wa_id``."""
    message = _dict(message, "message")
    wamid = platform_id(message.get("id"), "message id")
    customer = platform_id(message.get("from"), "from")
    text = message_text(message)
    context = message.get("context")
    return Incoming(
        platform="whatsapp",
        channel="",
        external_id=wamid,
        kind="dm",
        direction="in",
        author_external_id=customer,
        author_handle=customer,
        author_display_name=names.get(customer, "")[:256],
        text=text,
        created_at=epoch(message.get("timestamp")),
        in_reply_to=_string(context.get("id")) if isinstance(context, dict) else "",
        thread_id=customer,
        raw=clean_raw(message),
    )


def read_status(status: Any) -> Status:
    status = _dict(status, "status")
    state = status.get("status")
    if state not in STATUSES:
        raise Ignored("status_other")
    errors = status.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    code = first.get("code") if isinstance(first, dict) else None
    return Status(
        message_id=platform_id(status.get("id"), "status id"),
        status=str(state),
        at=epoch(status.get("timestamp")),
        recipient=_string(status.get("recipient_id")),
        callback=_string(status.get("biz_opaque_callback_data"))[:MAX_CALLBACK],
        error_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
    )


def read_notification(payload: Any) -> Notification:
    """Every message and status of a parsed notification, by business phone number id."""
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        return Notification(malformed=1)
    found = Notification()
    if payload.get("object") != OBJECT:
        found.ignored["unknown_object"] += len(payload["entry"]) or 1
        return found
    malformed = 0
    for entry in payload["entry"]:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            malformed += 1
            continue
        for change in changes:
            malformed += _read_change(change, found)
    return Notification(found.messages, found.ignored, malformed, found.statuses)


def _read_change(change: Any, found: Notification) -> int:
    """Adds one change's messages and statuses to ``found``; returns how many were malformed."""
    if not isinstance(change, dict) or change.get("field") != "messages":
        found.ignored["unknown_field"] += 1
        return 0
    try:
        value = _dict(change.get("value"), "value")
        number = platform_id(_dict(value.get("metadata"), "metadata").get("phone_number_id"), "id")
    except Malformed:
        return 1
    names = _names(value.get("contacts"))
    malformed = 0
    for message in _list(value.get("messages")):
        try:
            found.messages.setdefault(number, []).append(read_message(message, names))
        except Ignored as skip:
            found.ignored[skip.reason] += 1
        except Malformed:
            malformed += 1
    for status in _list(value.get("statuses")):
        try:
            found.statuses.setdefault(number, []).append(read_status(status))
        except Ignored as skip:
            found.ignored[skip.reason] += 1
        except Malformed:
            malformed += 1
    if _list(value.get("errors")):
        found.ignored["errors"] += 1
    return malformed


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _names(contacts: Any) -> dict[str, str]:
    """wa_id → profile name, from the notification's ``contacts``."""
    names: dict[str, str] = {}
    for contact in _list(contacts):
        if not isinstance(contact, dict):
            continue
        profile = contact.get("profile")
        wa_id = contact.get("wa_id")
        if isinstance(wa_id, str) and isinstance(profile, dict):
            names[wa_id] = _string(profile.get("name"))
    return names
