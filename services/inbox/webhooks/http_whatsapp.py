"""WhatsApp Cloud API webhooks (``/webhooks/whatsapp``): Meta's handshake, then signed
``whatsapp_business_account`` notifications of customers' messages and reply statuses.

The same rules as ``/webhooks/meta`` (``http_meta.py``): GET answers the ``hub.challenge`` for
``INBOX_WHATSAPP_VERIFY_TOKEN``; a POST is checked over its raw bytes with
``X-Hub-Signature-256`` and ``INBOX_WHATSAPP_APP_SECRET`` (constant time) before anything is
read, and a forged one is a 401 that stores nothing. Messages go to the ``whatsapp`` channels
whose account id is the notification's ``metadata.phone_number_id`` (the business number);
statuses update the deliveries of that channel (``webhooks/statuses.py``). Meta redelivers
for up to 7 days, so both are idempotent: a message by its ``wamid``, a status by keeping the
furthest one.

``ecoute_webhook_requests_total{platform="whatsapp"}`` counts requests by outcome, as for
Meta; a notification of statuses only counts as ``stored`` when one was about our replies.
"""

from __future__ import annotations

import logging

from aiohttp import web

from services.inbox.channels import store as channel_store
from services.inbox.domain.whatsapp import Status, read_notification
from services.inbox.webhooks.http_meta import NOT_JSON, answer_post, handshake, signed_payload
from services.inbox.webhooks.hub import WebhookHub, acknowledged
from services.inbox.webhooks.statuses import apply_statuses

log = logging.getLogger("ecoute.inbox.webhooks.whatsapp")

PLATFORM = "whatsapp"


async def receive(request: web.Request, hub: WebhookHub) -> web.StreamResponse:
    if request.method == "GET":
        expected = hub.settings.whatsapp_verify_token.get_secret_value()
        unconfigured = "WhatsApp webhooks need INBOX_WHATSAPP_VERIFY_TOKEN"
        return handshake(request, hub, PLATFORM, expected, unconfigured)
    app_secret = hub.settings.whatsapp_app_secret.get_secret_value()
    payload = await signed_payload(request, hub, PLATFORM, app_secret, "WhatsApp", "WHATSAPP")
    if payload is NOT_JSON:
        return acknowledged()
    notification = read_notification(payload)
    stored = 0
    for number, messages in notification.messages.items():
        stored += await hub.store([PLATFORM], number, messages)
    for number, statuses in notification.statuses.items():
        stored += await _record_statuses(hub, number, statuses)
    counted = notification.status_count
    return answer_post(hub, PLATFORM, log, notification, stored, statuses=counted)


async def _record_statuses(hub: WebhookHub, number: str, statuses: list[Status]) -> int:
    async with hub.engine.begin() as conn:
        rows = await channel_store.channels_of_account(conn, [PLATFORM], number)
        return sum([await apply_statuses(conn, r.workspace_id, r.id, statuses) for r in rows])
