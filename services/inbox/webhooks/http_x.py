"""X Account Activity webhooks: the CRC handshake and signed event deliveries (platforms.md §1.7).

- ``GET ?crc_token=…`` answers ``{"response_token": "sha256=<base64 HMAC-SHA256>"}`` keyed by
  the app's consumer secret.
- ``POST``: the raw body is read first and its ``x-twitter-webhooks-signature`` checked in
  constant time over those exact bytes (never over re-serialised JSON); a missing or wrong
  signature is a 401 and stores nothing. Then ``tweet_create_events`` and
  ``direct_message_events`` are normalised for ``for_user_id`` (the subscribed account: its own
  posts and DMs are ``direction="out"``) and stored for every channel connected to that
  account. X sends one copy per subscribed user and may replay deliveries: the unique index on
  (channel, post or DM id) keeps one.
- ``tweet_delete_events`` are counted and not acted on yet; other events (favourites, follows,
  typing …) are ignored. Malformed bodies and events are acknowledged with 200 (so X does not
  retry them forever), counted, and logged without their text.
- Without ``INBOX_X_CONSUMER_SECRET`` nothing can be verified: 503, never an unsigned accept.

Outcomes counted (one per request): handshake, forged, malformed, stored (something new),
duplicate (messages, all already stored or for no known channel), ignored (no message).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging

from aiohttp import web

from services.inbox.domain.x import account_activity
from services.inbox.webhooks.hub import MAX_WEBHOOK_BYTES, CrcOut, WebhookHub, acknowledged
from services.infra.auth import same_secret
from services.infra.http import ProblemError, model_response, read_body

log = logging.getLogger("ecoute.inbox.webhooks.x")

PLATFORM = "x"
SIGNATURE_HEADER = "x-twitter-webhooks-signature"


def signature(consumer_secret: str, payload: bytes) -> str:
    """``sha256=`` + base64 HMAC-SHA256 keyed by the consumer secret (CRC and events) [V]."""
    digest = hmac.new(consumer_secret.encode(), payload, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


async def receive(request: web.Request, hub: WebhookHub) -> web.StreamResponse:
    secret = hub.settings.x_consumer_secret.get_secret_value()
    if not secret:
        raise ProblemError(
            503, "Service Unavailable", "X webhooks are not configured (no consumer secret)."
        )
    if request.method == "GET":
        return _crc(request, hub, secret)
    body = await read_body(request, MAX_WEBHOOK_BYTES)
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not given or not same_secret(signature(secret, body), given):
        hub.count(PLATFORM, "forged")
        log.warning("webhook signature refused", extra={"platform": PLATFORM})
        raise ProblemError(401, "Unauthorized", f"Missing or wrong {SIGNATURE_HEADER}.")
    try:
        activity = account_activity(json.loads(body), "")
    except (ValueError, RecursionError):  # Malformed is a ValueError, as are JSON errors
        return _acknowledge(hub, "malformed", messages=0, malformed=1)
    stored = 0
    if activity.messages:
        stored = await hub.store((PLATFORM,), activity.account_id, activity.messages)
        outcome = "stored" if stored else "duplicate"
    else:
        outcome = "malformed" if activity.malformed else "ignored"
    return _acknowledge(
        hub,
        outcome,
        messages=len(activity.messages),
        malformed=activity.malformed,
        stored=stored,
        ignored=activity.ignored,
        deleted=activity.deleted,
    )


def _crc(request: web.Request, hub: WebhookHub, secret: str) -> web.Response:
    token = request.query.get("crc_token", "")
    if not token:
        hub.count(PLATFORM, "malformed")
        raise ProblemError(400, "Bad Request", "A CRC check needs ?crc_token=.")
    hub.count(PLATFORM, "handshake")
    return model_response(CrcOut, {"response_token": signature(secret, token.encode())})


def _acknowledge(hub: WebhookHub, outcome: str, **counts: int) -> web.Response:
    hub.count(PLATFORM, outcome)
    level = logging.WARNING if outcome == "malformed" else logging.INFO
    log.log(level, "webhook received", extra={"platform": PLATFORM, "outcome": outcome, **counts})
    return acknowledged()
