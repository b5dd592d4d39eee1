"""Threads webhooks (``/webhooks/threads``): Meta's handshake, then signed ``replies`` and
``mentions`` notifications (``domain/threads.py``).

The same rules as ``/webhooks/meta`` (``http_meta.py``): GET answers the ``hub.challenge`` for
``INBOX_THREADS_VERIFY_TOKEN``; a POST is checked over its raw bytes with
``X-Hub-Signature-256`` and ``INBOX_THREADS_APP_SECRET`` (constant time) before anything is
read, and a forged one is a 401 that stores nothing. A post goes to the ``threads`` channels
whose account id is the notification's ``target_id`` (the brand's Threads user id); a
redelivery stores nothing new (the post's media id is its key), and the pollers' catch-up
meets the same ids. ``ecoute_webhook_requests_total{platform="threads"}`` counts requests by
outcome, as for Meta.
"""

from __future__ import annotations

import logging

from aiohttp import web

from services.inbox.domain.threads import PLATFORM, read_notification
from services.inbox.webhooks.http_meta import NOT_JSON, answer_post, handshake, signed_payload
from services.inbox.webhooks.hub import WebhookHub, acknowledged

log = logging.getLogger("ecoute.inbox.webhooks.threads")


async def receive(request: web.Request, hub: WebhookHub) -> web.StreamResponse:
    if request.method == "GET":
        expected = hub.settings.threads_verify_token.get_secret_value()
        unconfigured = "Threads webhooks need INBOX_THREADS_VERIFY_TOKEN"
        return handshake(request, hub, PLATFORM, expected, unconfigured)
    app_secret = hub.settings.threads_app_secret.get_secret_value()
    payload = await signed_payload(request, hub, PLATFORM, app_secret, "Threads", "THREADS")
    if payload is NOT_JSON:
        return acknowledged()
    notification = read_notification(payload)
    stored = 0
    for user_id, messages in notification.messages.items():
        stored += await hub.store([PLATFORM], user_id, messages)
    return answer_post(hub, PLATFORM, log, notification, stored)
