"""Meta webhooks (``/webhooks/meta``): the subscription handshake, then signed event batches.

GET is Meta's handshake: ``hub.mode=subscribe`` and a ``hub.verify_token`` equal (constant
time) to ``INBOX_META_VERIFY_TOKEN`` get 200 with the ``hub.challenge`` text; anything else 403.
POST: the raw body is read first and ``X-Hub-Signature-256: sha256=<hex>`` is checked over those
exact bytes with ``INBOX_META_APP_SECRET`` (Meta signs its ``\\uXXXX``-escaped bytes; any
re-serialisation would change them). A missing or wrong signature (the legacy SHA-1 header alone
included) is a 401 and stores nothing. Then Page ``feed`` comments go to ``facebook`` channels,
Page messaging to ``messenger`` channels (both keyed by the Page id), and ``object: instagram``
to ``instagram`` channels (keyed by the IG account id): see ``domain/meta.py``.

Meta retries a notification for up to 36 hours and sometimes sends it twice; the unique index
on (channel, external id) makes a redelivery store nothing new. Malformed or unknown events
are acknowledged with 200 (else Meta retries them for 36 hours and then disables the
subscription), counted and logged without their text. Without an app secret (or, for the
handshake, a verify token) the endpoint answers 503: it is not configured.

``ecoute_webhook_requests_total{platform="meta"}`` counts requests, one outcome each:
``handshake``, ``forged`` (bad signature or verify token), ``malformed`` (unreadable body, or
only malformed events), ``stored`` (something new), ``duplicate`` (messages, none new — a
redelivery, or no channel knows the account), ``ignored`` (nothing that is a message).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from aiohttp import web

from services.inbox.domain.meta import Notification, read_notification
from services.inbox.webhooks.hub import MAX_WEBHOOK_BYTES, WebhookHub, acknowledged
from services.infra.auth import same_secret
from services.infra.http import ProblemError, read_body

log = logging.getLogger("ecoute.inbox.webhooks.meta")

PLATFORM = "meta"
SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_CHALLENGE = 256


def expected_signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(app_secret: str, body: bytes, header: str | None) -> bool:
    """``X-Hub-Signature-256`` over the exact bytes received, compared in constant time."""
    if not header or not app_secret:
        return False
    try:
        given = header.strip().lower().encode("ascii")
    except UnicodeEncodeError:
        return False
    return same_secret(expected_signature(app_secret, body).encode("ascii"), given)


NOT_JSON = object()


async def signed_payload(
    request: web.Request, hub: WebhookHub, platform: str, app_secret: str, label: str, env: str
) -> Any:
    """The parsed body of a POST Meta signed (``X-Hub-Signature-256`` over the raw bytes,
    checked before anything is parsed), or ``NOT_JSON`` (counted ``malformed``). 503 without
    an app secret; 401, counted ``forged``, for a missing or wrong signature."""
    if not app_secret:
        raise ProblemError(
            503,
            "Not Configured",
            f"{label} webhooks need INBOX_{env}_APP_SECRET to check signatures.",
        )
    body = await read_body(request, MAX_WEBHOOK_BYTES)
    if not signature_matches(app_secret, body, request.headers.get(SIGNATURE_HEADER)):
        hub.count(platform, "forged")
        log.warning(
            "%s webhook refused",
            platform,
            extra={
                "reason": "missing signature"
                if SIGNATURE_HEADER not in request.headers
                else "signature mismatch",
                "bytes": len(body),
            },
        )
        raise ProblemError(
            401, "Unauthorized", f"{SIGNATURE_HEADER} is missing or does not match the body."
        )
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        hub.count(platform, "malformed")
        log.warning("%s webhook body is not JSON", platform, extra={"bytes": len(body)})
        return NOT_JSON


async def receive(request: web.Request, hub: WebhookHub) -> web.StreamResponse:
    if request.method == "GET":
        return _handshake(request, hub)
    payload = await signed_payload(
        request, hub, PLATFORM, hub.settings.meta_app_secret.get_secret_value(), "Meta", "META"
    )
    if payload is NOT_JSON:
        return acknowledged()
    notification = read_notification(payload)
    stored = 0
    for account_id, messages in notification.messages.items():
        platforms = sorted({m.platform for m in messages})
        stored += await hub.store(platforms, account_id, messages)
    kind = payload.get("object") if isinstance(payload, dict) else None
    return answer_post(hub, PLATFORM, log, notification, stored, object=kind)


def answer_post(
    hub: WebhookHub,
    platform: str,
    logger: logging.Logger,
    notification: Notification,
    stored: int,
    **detail: object,
) -> web.Response:
    """A Graph webhook post (Meta, WhatsApp) counted by its outcome and logged (counts only,
    never text), then acknowledged: Meta is answered 200 whatever the post held."""
    outcome = notification.outcome(stored)
    hub.count(platform, outcome)
    logger.info(
        "%s webhook received",
        platform,
        extra={
            "outcome": outcome,
            **detail,
            "messages": notification.message_count,
            "stored": stored,
            "ignored": dict(notification.ignored),
            "malformed": notification.malformed,
        },
    )
    return acknowledged()


def _handshake(request: web.Request, hub: WebhookHub) -> web.Response:
    return handshake(
        request,
        hub,
        PLATFORM,
        hub.settings.meta_verify_token.get_secret_value(),
        "Meta webhooks need INBOX_META_VERIFY_TOKEN",
    )


def handshake(
    request: web.Request, hub: WebhookHub, platform: str, expected: str, unconfigured: str
) -> web.Response:
    """Meta's subscription check (Pages, Instagram and WhatsApp alike): 200 with the
    ``hub.challenge`` for the right ``hub.verify_token`` (compared in constant time)."""
    if not expected:
        raise ProblemError(503, "Not Configured", f"{unconfigured} for the handshake.")
    query = request.query
    challenge = query.get("hub.challenge", "")
    given = query.get("hub.verify_token", "").encode("utf-8", "surrogatepass")
    if (
        query.get("hub.mode") == "subscribe"
        and same_secret(given, expected.encode("utf-8", "surrogatepass"))
        and 0 < len(challenge) <= MAX_CHALLENGE
    ):
        hub.count(platform, "handshake")
        return web.Response(
            text=challenge, content_type="text/plain", headers={"X-Content-Type-Options": "nosniff"}
        )
    hub.count(platform, "forged")
    log.warning("%s webhook handshake refused", platform)
    raise ProblemError(403, "Forbidden", "hub.mode or hub.verify_token is wrong.")
