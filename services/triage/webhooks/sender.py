"""Outgoing webhooks: a workspace's URL hears of every SLA breach, of incidents opened,
reopened and closed, and of rules that notify (``rule.fired``), signed and retried.

Each event is POSTed as JSON with ``X-Ecoute-Signature: sha256=<hex HMAC-SHA256 of
the raw body with the workspace's secret>`` and ``X-Ecoute-Delivery`` (stable across
retries, so a receiver can drop a repeat). A non-2xx answer or a network error makes the
event transport retry with back-off, then dead-letter it after five attempts.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC

import aiohttp
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from ecoute.v1 import events_pb2
from services.infra.events import Event, Handler
from services.triage.webhooks import store

SIGNATURE_HEADER = "X-Ecoute-Signature"
CONSUMER = "triage-webhooks"


class WebhookRefused(Exception):
    """The receiver did not accept the delivery (retried by the transport)."""


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def breach_body(event: events_pb2.SlaStateChanged, delivery: int) -> bytes:
    """What a receiver gets: ids, kind, priority and times; never message text."""
    return orjson.dumps(
        {
            "type": f"sla.{event.state}",
            "delivery": delivery,
            "workspace_id": event.workspace_id,
            "conversation_id": event.conversation_id,
            "clock": event.clock_kind,
            "priority": f"P{event.priority}",
            "target_seconds": event.target_seconds,
            "started_at": event.started_at.ToDatetime(UTC),
            "due_at": event.due_at.ToDatetime(UTC),
            "breached_at": event.crossed_at.ToDatetime(UTC),
        },
        option=orjson.OPT_UTC_Z,
    )


def incident_body(event: events_pb2.IncidentChanged, topic: str, delivery: int) -> bytes:
    """Ids, kind, counts and times; not the label, which is made of customers' words (the
    receiver reads it from the desk's API at ``path``)."""
    return orjson.dumps(
        {
            "type": topic,
            "delivery": delivery,
            "workspace_id": event.workspace_id,
            "incident_id": event.incident_id,
            "kind": event.kind,
            "status": event.status,
            "message_count": event.message_count,
            "close_reason": event.close_reason or None,
            "changed_at": event.changed_at.ToDatetime(UTC),
            "path": f"/v1/incidents/{event.incident_id}",
        },
        option=orjson.OPT_UTC_Z,
    )


def rule_body(event: Event) -> bytes:
    """A rule that notifies fired: ids, the rule's name (a lead's words, not a customer's)
    and when; never message text (the receiver reads the conversation at ``path``)."""
    fired = orjson.loads(event.payload)
    return orjson.dumps(
        {
            "type": event.topic,
            "delivery": event.id,
            "workspace_id": str(event.workspace_id),
            **fired,
            "path": f"/v1/conversations/{fired['conversation_id']}",
        }
    )


def body_of(event: Event) -> bytes:
    if event.topic == "rule.fired":
        return rule_body(event)
    if event.topic.startswith("incident."):
        changed = events_pb2.IncidentChanged.FromString(event.payload)
        return incident_body(changed, event.topic, event.id)
    return breach_body(events_pb2.SlaStateChanged.FromString(event.payload), event.id)


def sender(session: aiohttp.ClientSession, timeout: float = 5.0) -> Handler:
    """The event handler that delivers breach and incident events (see the module doc)."""

    async def deliver(conn: AsyncConnection, events: list[Event]) -> None:
        for event in events:
            target = await store.webhook(conn, event.workspace_id)
            if target is None:
                continue  # this workspace has no webhook
            url, secret = target
            body = body_of(event)
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(secret, body),
                "X-Ecoute-Event": event.topic,
                "X-Ecoute-Delivery": str(event.id),
            }
            try:
                async with session.post(
                    url,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=timeout),
                    allow_redirects=False,
                ) as response:
                    if response.status >= 300:
                        raise WebhookRefused(f"receiver answered {response.status}")
            except aiohttp.ClientError as exc:
                raise WebhookRefused(type(exc).__name__) from None

    return deliver
