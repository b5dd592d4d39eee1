"""Fake WhatsApp Cloud API: the business number's send endpoint, its templates, and the
signed webhooks Meta sends for customers' messages and for the statuses of ours.

Wire format from Meta's public Cloud API reference (docs/platforms/whatsapp.md):
``POST /{version}/{phone-number-id}/messages`` (text, template, and the mark-as-read
``status: read``), ``GET /{version}/{waba-id}/message_templates`` (cursor paging), and
``whatsapp_business_account`` notifications with ``metadata``, ``contacts``, ``messages`` and
``statuses``, signed like every Meta webhook (``fakes.meta.deliver_webhook``). The fake keeps the
24-hour customer-service window (free text only within 24 hours of the customer's last
message: error 131047 after), refuses unknown or unapproved templates (132001), answers a dead
token with 190, throttling with 130429, and can lose the answer to a send it made. Every send
queues a ``sent`` status webhook carrying ``biz_opaque_callback_data``, as the platform does.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from fakes.clock import ManualClock
from fakes.graph import GraphFaults
from fakes.meta import deliver_webhook, verify_subscription

__all__ = ["WhatsAppState", "create_app", "deliver_webhook", "verify_subscription"]

Clock = Callable[[], datetime]
Json = dict[str, Any]
TEXT_LIMIT = 4096
WINDOW = timedelta(hours=24)
STATE: web.AppKey[WhatsAppState] = web.AppKey("whatsapp_state")


@dataclass
class WhatsAppSend:
    """One message the business sent through the fake."""

    wamid: str
    to: str
    type: str  # text or template
    text: str
    template: str
    callback: str
    at: datetime


@dataclass
class WhatsAppState(GraphFaults):
    """The in-memory WhatsApp world of one test or of the demo."""

    app_secret: str = "whatsapp_app_secret"  # noqa: S105 - a fake credential
    verify_token: str = "whatsapp-verify"  # noqa: S105 - a fake credential
    access_token: str = "whatsapp-system-user-token"  # noqa: S105 - a fake credential
    phone_number_id: str = "106540352242922"
    display_phone_number: str = "15550783881"
    business_account_id: str = "102290129340398"
    clock: Clock = field(default_factory=ManualClock)
    templates: list[Json] = field(
        default_factory=lambda: [
            _template("order_update", "en_US", "UTILITY", "Hello, an update on your order."),
            _template("reprise_contact", "fr", "UTILITY", "Bonjour, nous revenons vers vous."),
            _template("spring_sale", "en_US", "MARKETING", "Our sale starts!", "PENDING"),
        ]
    )

    sends: list[WhatsAppSend] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)  # inbound wamids marked as read
    outbound_webhooks: list[Json] = field(default_factory=list)  # statuses not yet delivered
    requests: list[str] = field(default_factory=list)
    last_inbound: dict[str, datetime] = field(default_factory=dict)
    _counter: int = 0

    # -- the world -----------------------------------------------------------------------

    def _wamid(self) -> str:
        self._counter += 1
        return f"wamid.HBgL{self._counter:06d}FQIAERgSQUFBQUFB"

    def customer_message(
        self,
        wa_id: str,
        text: str,
        *,
        name: str = "",
        at: datetime | None = None,
        media: str = "",
        wamid: str | None = None,
    ) -> tuple[str, Json]:
        """A customer writes (``media``: an image, audio... with ``text`` as its caption):
        the message's wamid and the notification Meta would POST."""
        at = at or self.clock()
        wamid = wamid or self._wamid()
        message: Json = {"from": wa_id, "id": wamid, "timestamp": str(int(at.timestamp()))}
        if media:
            message["type"] = media
            message[media] = {"id": f"{self._counter}0001", "mime_type": "image/jpeg"}
            if text:
                message[media]["caption"] = text
        else:
            message["type"] = "text"
            message["text"] = {"body": text}
        self.last_inbound[wa_id] = max(at, self.last_inbound.get(wa_id, at))
        contacts = [{"profile": {"name": name or wa_id}, "wa_id": wa_id}]
        return wamid, self.notification({"contacts": contacts, "messages": [message]})

    def status(self, send: WhatsAppSend, status: str, *, error: int | None = None) -> Json:
        """The notification of what became of a send (sent, delivered, read, failed)."""
        item: Json = {
            "id": send.wamid,
            "status": status,
            "timestamp": str(int(self.clock().timestamp())),
            "recipient_id": send.to,
        }
        if send.callback:
            item["biz_opaque_callback_data"] = send.callback
        if error is not None:
            item["errors"] = [{"code": error, "title": "Message undeliverable"}]
        return self.notification({"statuses": [item]})

    def notification(self, value: Json) -> Json:
        metadata = {
            "display_phone_number": self.display_phone_number,
            "phone_number_id": self.phone_number_id,
        }
        change = {
            "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
            "field": "messages",
        }
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": self.business_account_id, "changes": [change]}],
        }

    def messages_to(self, wa_id: str) -> list[WhatsAppSend]:
        return [s for s in self.sends if s.to == wa_id]


def _template(name: str, language: str, category: str, body: str, status: str = "APPROVED") -> Json:
    return {
        "name": name,
        "language": language,
        "status": status,
        "category": category,
        "id": str(zlib.crc32(f"{name}:{language}".encode()) * 1000 + 7),
        "components": [{"type": "BODY", "text": body}],
    }


def _error(status: int, code: int, message: str, details: str = "") -> web.Response:
    error: Json = {"message": message, "type": "OAuthException", "code": code}
    error["error_data"] = {"messaging_product": "whatsapp", "details": details or message}
    error["fbtrace_id"] = "AbCdEfGhIjKlMnOp"
    return web.json_response({"error": error}, status=status)


def _refusal(state: WhatsAppState, request: web.Request) -> web.Response | None:
    """The token and fault checks every call passes first."""
    state.requests.append(f"{request.method} {request.path_qs}")
    return state.refusal(
        request,
        state.access_token,
        expired=_error(401, 190, "Error validating access token: Session has expired."),
        failed=_error(500, 131000, "Something went wrong"),
        throttled=_error(400, 130429, "(#130429) Rate limit hit", "Cloud API throughput reached"),
    )


async def _send(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    refused = _refusal(state, request)
    if refused is not None:
        return refused
    if request.match_info["number"] != state.phone_number_id:
        return _error(400, 100, "(#100) Invalid parameter", "Unknown phone number id")
    body = await request.json()
    if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
        return _error(400, 100, "(#100) The parameter messaging_product is required.")
    if body.get("status") == "read":  # mark an inbound message as read
        state.reads.append(str(body.get("message_id")))
        return web.json_response({"success": True})
    to = str(body.get("to", ""))
    if not re.fullmatch(r"[0-9]{6,20}", to):
        return _error(400, 100, "(#100) Invalid parameter", "to is not a phone number")
    made = _message(state, body, to)
    if isinstance(made, web.Response):
        return made
    state.sends.append(made)
    state.outbound_webhooks.append(state.status(made, "sent"))
    lost = state.answer_lost(request)  # the message exists; its answer may never arrive
    if lost is not None:
        return lost
    answer: Json = {
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": made.wamid}],
    }
    return web.json_response(answer)


def _message(state: WhatsAppState, body: Json, to: str) -> WhatsAppSend | web.Response:
    """The send a valid body makes, or the platform's refusal."""
    now = state.clock()
    callback = str(body.get("biz_opaque_callback_data") or "")[:512]
    if body.get("type", "text") == "template":
        template = body.get("template") or {}
        language = (template.get("language") or {}).get("code")
        if not any(
            t["name"] == template.get("name")
            and t["language"] == language
            and t["status"] == "APPROVED"
            for t in state.templates
        ):
            return _error(404, 132001, "(#132001) Template name does not exist in the translation")
        name = str(template["name"])
        return WhatsAppSend(state._wamid(), to, "template", "", name, callback, now)
    text = (body.get("text") or {}).get("body")
    if not isinstance(text, str) or not text:
        return _error(400, 100, "(#100) The parameter text['body'] is required.")
    if len(text) > TEXT_LIMIT:
        return _error(400, 100, "(#100) Param text['body'] must be at most 4096 characters long.")
    last = state.last_inbound.get(to)
    if last is None or now - last > WINDOW:
        return _error(
            400,
            131047,
            "(#131047) Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer "
            "last replied to this number.",
        )
    return WhatsAppSend(state._wamid(), to, "text", text, "", callback, now)


async def _templates(request: web.Request) -> web.StreamResponse:
    """``GET /{waba-id}/message_templates``: ``status`` filter and cursor paging by ``limit``."""
    state = request.app[STATE]
    refused = _refusal(state, request)
    if refused is not None:
        return refused
    if request.match_info["waba"] != state.business_account_id:
        return _error(400, 100, "(#100) Invalid parameter", "Unknown business account")
    wanted = request.query.get("status")
    found = [t for t in state.templates if wanted is None or t["status"] == wanted]
    limit = max(1, min(100, int(request.query.get("limit", "25"))))
    start = int(request.query.get("after", "0") or 0)
    page = found[start : start + limit]
    paging: Json = {"cursors": {"before": str(start), "after": str(start + len(page))}}
    if start + limit < len(found):
        paging["next"] = str(request.url.update_query(after=str(start + limit)))
    return web.json_response({"data": page, "paging": paging})


def create_app(state: WhatsAppState) -> web.Application:
    """The fake ``graph.facebook.com`` WhatsApp endpoints."""
    app = web.Application()
    app[STATE] = state
    app.router.add_post(r"/{version:v[0-9]+\.[0-9]+}/{number}/messages", _send)
    app.router.add_get(r"/{version:v[0-9]+\.[0-9]+}/{waba}/message_templates", _templates)
    return app
