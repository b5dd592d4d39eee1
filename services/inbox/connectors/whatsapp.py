"""WhatsApp Business (Cloud API): replies and message templates through the Graph API.

WhatsApp only pushes: customers' messages and the statuses of ours arrive through
``/webhooks/whatsapp`` (``webhooks/http_whatsapp.py``), so this connector has no streams;
create these channels with ``"polling": false``. A channel's ``account_id`` is the business
phone number's id (``phone_number_id``); its credentials are ``{"access_token": ...,
"business_account_id": ...}`` (a system user token; the WABA id lists the templates), the
token sent as a Bearer header (never in a URL).

Replies: ``POST /{version}/{phone-number-id}/messages`` with ``messaging_product:
whatsapp``, ``recipient_type: individual``, ``to`` = the customer's ``wa_id`` and either
``type: text`` (``text.body``, at most 4,096 characters) or ``type: template``
(``template.name`` and ``template.language.code``: an approved template, the only kind of
message allowed outside the 24-hour customer-service window) → ``{"messages": [{"id":
"wamid..."}]}``. ``biz_opaque_callback_data`` carries the reply id: the platform echoes it in
the statuses of the message, which is how a send whose answer was lost is found again (the
Cloud API has no idempotency key and no way to read a sent message back).

Errors (Graph's ``{"error": {"code", ...}}``): 190, 102 or HTTP 401 → ``AuthExpired``; 4,
80007, 130429, 131048 and 131056 (throughput, account, spam and pair rate limits) →
``RateLimited``; 131047 (more than 24 hours since the customer wrote) →
``Rejected("window_closed")``; 1, 2, 131000, 131016 and 5xx → ``Unavailable``; any other →
``Rejected("rejected")``. A request that may have reached the platform without an answer is
``Unavailable(maybe_sent=True)``: the delivery loop then waits for a status, never resends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from services.inbox.connectors.base import (
    AuthExpired,
    BearerConnector,
    ConnectorError,
    PushOnly,
    RateLimited,
    Rejected,
    Reply,
    Sent,
    Unavailable,
    answer_json,
)
from services.inbox.connectors.meta import GRAPH_VERSION, graph_request
from services.inbox.domain.meta import graph_error, regain_at

AUTH_CODES = frozenset({102, 190})
THROTTLE_CODES = frozenset({4, 80007, 130429, 131048, 131056})
WINDOW_CODE = 131047
TRANSIENT_CODES = frozenset({1, 2, 131000, 131016})
MAX_TEMPLATE_PAGES = 20
_NUMBER_ID = re.compile(r"[0-9]{1,64}")


@dataclass(frozen=True, slots=True)
class Template:
    """An approved message template an agent may send outside the window."""

    name: str
    language: str
    category: str
    body: str


class WhatsAppConnector(PushOnly, BearerConnector):
    bearer_credential = "access_token"

    async def send(self, reply: Reply) -> Sent:
        number = _number(self.channel.account_id, "the channel's phone number id")
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": _number(reply.thread_id or reply.author_external_id, "the customer's wa_id"),
            "biz_opaque_callback_data": str(reply.reply_id),
        }
        if reply.template:
            payload["type"] = "template"
            payload["template"] = {
                "name": reply.template["name"],
                "language": {"code": reply.template["language"]},
            }
        else:
            payload["type"] = "text"
            payload["text"] = {"preview_url": False, "body": reply.text}
        body = await self._call("POST", f"/{GRAPH_VERSION}/{number}/messages", payload)
        messages = body.get("messages") if isinstance(body, dict) else None
        first = messages[0] if isinstance(messages, list) and messages else None
        wamid = first.get("id") if isinstance(first, dict) else None
        if not isinstance(wamid, str) or not wamid:
            raise Rejected("unknown_outcome", "WhatsApp accepted the reply but sent no id")
        return Sent(wamid, self.clock())

    async def templates(self, business_account_id: str) -> list[Template]:
        """The account's approved templates (``GET /{waba-id}/message_templates``), every page."""
        waba = _number(business_account_id, "the business account id")
        path: str | None = (
            f"/{GRAPH_VERSION}/{waba}/message_templates?status=APPROVED"
            "&fields=name,language,status,category,components&limit=100"
        )
        found: list[Template] = []
        for _ in range(MAX_TEMPLATE_PAGES):
            if path is None:
                break
            body = await self._call("GET", path, None)
            data = body.get("data") if isinstance(body, dict) else None
            found.extend(_template(t) for t in data or [] if _approved(t))
            after = _after(body)
            path = f"{path.split('&after=')[0]}&after={after}" if after else None
        return found

    async def _call(self, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        def lost(exc: BaseException) -> ConnectorError:
            return Unavailable(type(exc).__name__, maybe_sent=method == "POST")

        status, usage, raw = await graph_request(
            self.session, method, self.base + path, payload, self.headers, lost
        )
        body = answer_json(raw)
        if 200 <= status < 300:
            return body
        error = graph_error(body)
        detail = error.message or f"HTTP {status}"
        if error.code in AUTH_CODES or status == 401:
            raise AuthExpired(detail)
        if error.code in THROTTLE_CODES or status == 429:
            raise RateLimited(regain_at(usage, self.clock()), detail)
        if error.code == WINDOW_CODE:
            raise Rejected("window_closed", detail)
        if status >= 500 or error.code in TRANSIENT_CODES or error.transient:
            raise Unavailable(detail)
        raise Rejected("rejected", detail)


def _number(value: str, what: str) -> str:
    """Phone number ids, WABA ids and wa_ids are digits: nothing else goes into a URL or ``to``."""
    if not _NUMBER_ID.fullmatch(value or ""):
        raise Rejected("rejected", f"{what} is not a WhatsApp id")
    return value


def _approved(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and item.get("status") == "APPROVED"
        and isinstance(item.get("name"), str)
        and isinstance(item.get("language"), str)
    )


def _template(item: dict[str, Any]) -> Template:
    body = ""
    for component in item.get("components") or []:
        if isinstance(component, dict) and component.get("type") == "BODY":
            body = str(component.get("text") or "")
    return Template(item["name"], item["language"], str(item.get("category") or ""), body)


def _after(body: Any) -> str:
    """The ``paging.cursors.after`` cursor when ``paging.next`` says there is another page."""
    paging = body.get("paging") if isinstance(body, dict) else None
    if not isinstance(paging, dict) or not paging.get("next"):
        return ""
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return after if isinstance(after, str) and re.fullmatch(r"[A-Za-z0-9_=-]{1,512}", after) else ""
