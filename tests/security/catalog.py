"""What the security matrices cannot read from the OpenAPI documents, stated once.

The operations come from each service's OpenAPI operation list (which
``tests/integration/test_openapi.py`` holds equal to the router), so a route merged later is
tested automatically — as soon as it is described here: a protected operation missing from
ROLES, an operation with path parameters missing from PATH_IDS or one with a body missing
from BODIES fails ``test_every_operation_is_catalogued`` with what to add.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.inbox.openapi import OPERATIONS as INBOX_OPERATIONS
from services.infra.openapi import Operation
from services.triage.openapi import OPERATIONS as TRIAGE_OPERATIONS
from tests.security.world import Populated

Key = tuple[str, str]
SERVICES: dict[str, list[Operation]] = {"inbox": INBOX_OPERATIONS, "triage": TRIAGE_OPERATIONS}


def key(op: Operation) -> Key:
    return (op.method, op.path)


ROLES: dict[Key, str] = {
    # The least role that may do it (agent < lead < admin), for every bearer operation.
    ("POST", "/v1/auth/logout"): "agent",
    ("GET", "/v1/me"): "agent",
    ("GET", "/v1/tokens"): "agent",
    ("POST", "/v1/tokens"): "agent",
    ("DELETE", "/v1/tokens/{id}"): "agent",
    ("GET", "/v1/queue"): "agent",
    ("POST", "/v1/queue/claim-next"): "agent",
    ("GET", "/v1/conversations/{id}"): "agent",
    ("POST", "/v1/conversations/{id}/claim"): "agent",
    ("POST", "/v1/conversations/{id}/release"): "agent",
    ("POST", "/v1/conversations/{id}/replies"): "agent",
    ("POST", "/v1/conversations/{id}/notes"): "agent",
    ("POST", "/v1/conversations/{id}/resolve"): "agent",
    ("POST", "/v1/conversations/{id}/reopen"): "agent",
    ("POST", "/v1/conversations/{id}/wait"): "agent",
    ("GET", "/v1/conversations/{id}/sla"): "agent",
    ("GET", "/v1/sla/policies"): "agent",
    ("PUT", "/v1/sla/policies"): "lead",
    ("GET", "/v1/webhooks"): "agent",
    ("PUT", "/v1/webhooks"): "lead",
    ("POST", "/v1/messages/{id}/correction"): "agent",
    ("GET", "/v1/saved-replies"): "agent",
    ("POST", "/v1/saved-replies"): "lead",
    ("GET", "/v1/stats"): "lead",
    ("GET", "/v1/stream"): "agent",
}
RANK = {"agent": 0, "lead": 1, "admin": 2}

OWN_CREDENTIALS: set[Key] = {
    # Public operations that check a credential of their own (password, platform signature):
    # tested in test_sessions.py and test_webhooks_hostile.py, not by the role matrix.
    ("POST", "/v1/auth/login"),
    ("GET", "/webhooks/{platform}"),
    ("POST", "/webhooks/{platform}"),
}


@dataclass(frozen=True)
class PathIds:
    """How to fill an operation's path with a workspace's object, and the answer expected
    when another workspace does it (404: its existence is not disclosed)."""

    fill: Callable[[Populated], dict[str, str]]
    foreign_status: int = 404


def _conversation(w: Populated) -> dict[str, str]:
    return {"id": str(w.conversation)}


PATH_IDS: dict[Key, PathIds] = {
    ("DELETE", "/v1/tokens/{id}"): PathIds(lambda w: {"id": w.spare_token_id}),
    ("GET", "/v1/conversations/{id}"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/claim"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/release"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/replies"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/notes"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/resolve"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/reopen"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/wait"): PathIds(_conversation),
    ("GET", "/v1/conversations/{id}/sla"): PathIds(_conversation),
    ("POST", "/v1/messages/{id}/correction"): PathIds(lambda w: {"id": str(w.message_id)}),
    # A channel key names a channel within the caller's workspace: the same key from another
    # workspace configures that workspace's own channel (the snapshot proves the first's is
    # untouched).
    ("PUT", "/v1/channels/{platform}/{key}"): PathIds(
        lambda w: {"platform": "x", "key": w.channel_key}, foreign_status=200
    ),
    # Platform webhooks belong to no workspace: a CRC check without its token, an unsigned
    # event.
    ("GET", "/webhooks/{platform}"): PathIds(lambda w: {"platform": "x"}, foreign_status=400),
    ("POST", "/webhooks/{platform}"): PathIds(lambda w: {"platform": "x"}, foreign_status=401),
}

BODIES: dict[Key, Callable[[Populated], Any]] = {
    # A valid body; ids in it are the target workspace's (another workspace sending them
    # must not reach that workspace's objects).
    ("POST", "/v1/auth/login"): lambda w: {"email": w.emails["agent"], "password": "wrong"},
    ("POST", "/v1/tokens"): lambda w: {"name": "matrix"},
    ("POST", "/v1/conversations/{id}/replies"): lambda w: {
        "text": "Sorry about that, we are on it.",
        "saved_reply_id": w.saved_reply_id,
    },
    ("POST", "/v1/conversations/{id}/notes"): lambda w: {"text": "checked the tracking"},
    ("PUT", "/v1/sla/policies"): lambda w: {
        "calendar": {"timezone": "UTC", "always_open": True},
        "targets": {
            p: {
                "first_response_seconds": 3600,
                "next_response_seconds": 3600,
                "resolution_seconds": 86_400,
            }
            for p in ("P1", "P2", "P3", "P4")
        },
    },
    ("PUT", "/v1/webhooks"): lambda w: {"url": "https://hooks.matrix.test/sla"},
    ("POST", "/v1/messages/{id}/correction"): lambda w: {"field": "intent", "value": "question"},
    ("POST", "/v1/saved-replies"): lambda w: {"title": "Matrix", "text": "Hello from the matrix"},
    ("POST", "/v1/ingest"): lambda w: {
        "messages": [
            {
                "platform": "x",
                "channel": "support-en",
                "external_id": "matrix-1",
                "kind": "mention",
                "author": {"external_id": "m1", "handle": "matrix"},
                "text": "matrix message",
                "created_at": "2026-11-21T09:00:00Z",
            }
        ]
    },
    ("PUT", "/v1/channels/{platform}/{key}"): lambda w: {
        "account_id": "matrix-account",
        "base_url": "https://api.x.test",
        "credentials_ref": "matrix",
        "polling": False,
    },
    ("POST", "/webhooks/{platform}"): lambda w: {"for_user_id": "1"},
}


def missing_entries() -> list[str]:
    """What each operation lacks in the tables above, as instructions."""
    problems = []
    for service, operations in SERVICES.items():
        for op in operations:
            k = key(op)
            if op.auth not in (None, "bearer", "ingest"):
                problems.append(f"{service}: {k!r} uses auth {op.auth!r}: teach tests/security it")
            if op.auth == "bearer" and k not in ROLES:
                problems.append(f"{service}: add {k!r} to ROLES (the least role that may do it)")
            if "{" in op.path and k not in PATH_IDS:
                problems.append(f"{service}: add {k!r} to PATH_IDS (which object fills the path)")
            if op.body is not None and k not in BODIES:
                problems.append(f"{service}: add {k!r} to BODIES (a valid request body)")
    return problems


def url(op: Operation, target: Populated) -> str:
    path = op.path
    if "{" in path:
        for name, value in PATH_IDS[key(op)].fill(target).items():
            path = path.replace("{" + name + "}", value)
    return path


def body(op: Operation, target: Populated) -> Any:
    return BODIES[key(op)](target) if key(op) in BODIES else None
