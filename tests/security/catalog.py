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
from tests.security.world import PASSWORD, Populated

Key = tuple[str, str]


INBOX_SCOPES = ("ingest", "channels")
"""The inbox's token scopes (``Operation.auth``): a producer's, a workspace admin's."""


def key(op: Operation) -> Key:
    return (op.method, op.path)


LAST: set[Key] = {
    # Run after every other operation (the matrices and schemathesis): requiring two-factor of
    # everyone obliges the caller — and every user of its workspace — to enrol before anything
    # else, so done earlier it would turn every later answer into 403.
    ("PUT", "/v1/workspace/two-factor"),
}


def ordered(operations: list[Operation]) -> list[Operation]:
    """The operations in document order, those of LAST at the end."""
    return sorted(operations, key=lambda op: key(op) in LAST)


SERVICES: dict[str, list[Operation]] = {
    "inbox": ordered(INBOX_OPERATIONS),
    "triage": ordered(TRIAGE_OPERATIONS),
}


ROLES: dict[Key, str] = {
    # The least role that may do it (agent < lead < admin), for every bearer operation.
    ("POST", "/v1/auth/logout"): "agent",
    ("GET", "/v1/me"): "agent",
    ("GET", "/v1/tokens"): "agent",
    ("POST", "/v1/tokens"): "agent",
    ("DELETE", "/v1/tokens/{id}"): "agent",
    ("GET", "/v1/queue"): "agent",
    ("GET", "/v1/vocabulary"): "agent",
    ("POST", "/v1/queue/claim-next"): "agent",
    ("GET", "/v1/conversations/{id}"): "agent",
    ("POST", "/v1/conversations/{id}/claim"): "agent",
    ("POST", "/v1/conversations/{id}/release"): "agent",
    ("POST", "/v1/conversations/{id}/replies"): "agent",
    ("POST", "/v1/conversations/{id}/reply-check"): "agent",
    ("GET", "/v1/conversations/{id}/suggestions"): "agent",
    ("POST", "/v1/conversations/{id}/suggestions/use"): "agent",
    ("POST", "/v1/conversations/{id}/notes"): "agent",
    # Hiding or deleting a customer's comment on the platform: leads and admins (hiding the
    # workspace's Facebook comment again is repeatable, so every allowed role gets 202).
    ("POST", "/v1/conversations/{id}/moderation"): "lead",
    ("POST", "/v1/conversations/{id}/resolve"): "agent",
    ("POST", "/v1/conversations/{id}/reopen"): "agent",
    ("POST", "/v1/conversations/{id}/wait"): "agent",
    ("GET", "/v1/conversations/{id}/sla"): "agent",
    ("GET", "/v1/sla/policies"): "agent",
    ("PUT", "/v1/sla/policies"): "lead",
    # The breach webhook's URL often carries a secret of its own: read and set by admins only.
    ("GET", "/v1/webhooks"): "admin",
    ("PUT", "/v1/webhooks"): "admin",
    ("POST", "/v1/messages/{id}/correction"): "agent",
    ("GET", "/v1/saved-replies"): "agent",
    ("POST", "/v1/saved-replies"): "lead",
    ("GET", "/v1/stats"): "lead",
    ("GET", "/v1/search"): "agent",
    ("GET", "/v1/stream"): "agent",
    # Two-factor and password: every user's own (the role matrix's users enrol — a pending
    # enrolment —, send a wrong code to confirm/disable/recovery-codes, and change their
    # password to the same one: all but the codes succeed, and each user can still sign in).
    ("GET", "/v1/me/two-factor"): "agent",
    ("POST", "/v1/me/two-factor/enrol"): "agent",
    ("GET", "/v1/me/two-factor/qr.svg"): "agent",
    ("POST", "/v1/me/two-factor/confirm"): "agent",
    ("POST", "/v1/me/two-factor/disable"): "agent",
    ("POST", "/v1/me/two-factor/recovery-codes"): "agent",
    ("POST", "/v1/me/password"): "agent",
    ("GET", "/v1/sessions"): "agent",
    # Mine for anyone (the spare session is the agent's: a lead gets 404), anyone's for admins.
    ("DELETE", "/v1/sessions/{id}"): "agent",
    ("GET", "/v1/users"): "admin",
    ("GET", "/v1/users/{id}/sessions"): "admin",
    ("DELETE", "/v1/users/{id}/sessions"): "admin",
    ("POST", "/v1/users/{id}/two-factor/reset"): "admin",
    ("GET", "/v1/workspace/two-factor"): "agent",
    ("PUT", "/v1/workspace/two-factor"): "admin",
    # The team: admins only (the role and password routes act on the spare user).
    ("GET", "/v1/invitations"): "admin",
    ("POST", "/v1/invitations"): "admin",
    ("DELETE", "/v1/invitations/{id}"): "admin",
    ("PUT", "/v1/users/{id}/role"): "admin",
    ("POST", "/v1/users/{id}/deactivate"): "admin",
    ("POST", "/v1/users/{id}/reactivate"): "admin",
    ("POST", "/v1/users/{id}/password-link"): "admin",
    ("POST", "/v1/workspaces"): "admin",
    ("POST", "/v1/privacy/erasures"): "admin",
    ("GET", "/v1/privacy/erasures"): "admin",
    ("GET", "/v1/privacy/erasures/{id}"): "admin",
    ("POST", "/v1/privacy/exports"): "admin",
    ("GET", "/v1/privacy/retention"): "admin",
    ("PUT", "/v1/privacy/retention"): "admin",
    # Incidents: agents read them (and reply to each person); leads and admins change them.
    ("GET", "/v1/incidents"): "agent",
    ("GET", "/v1/incidents/{id}"): "agent",
    ("PUT", "/v1/incidents/{id}/note"): "lead",
    ("POST", "/v1/incidents/{id}/merge"): "lead",
    ("POST", "/v1/incidents/{id}/split"): "lead",
    ("POST", "/v1/incidents/{id}/close"): "lead",
    ("POST", "/v1/incidents/{id}/reopen"): "lead",
    # Routing: everyone sets their own presence; an agent hands over what they hold (the
    # agent holds the conversation when the matrix reaches it: the document lists it right
    # after the claim), leads assign anything and set the team's routing.
    ("GET", "/v1/me/presence"): "agent",
    ("PUT", "/v1/me/presence"): "agent",
    ("POST", "/v1/conversations/{id}/assign"): "agent",
    ("GET", "/v1/team/presence"): "lead",
    ("GET", "/v1/routing"): "lead",
    ("PUT", "/v1/routing"): "lead",
    ("PUT", "/v1/users/{id}/routing"): "lead",
    # Tags: every agent reads and puts them on; leads and admins define and remove them.
    ("GET", "/v1/tags"): "agent",
    ("POST", "/v1/tags"): "lead",
    ("PUT", "/v1/tags/{id}"): "lead",
    ("DELETE", "/v1/tags/{id}"): "lead",
    # Rules: leads and admins only (agents neither read nor write them).
    ("GET", "/v1/rules"): "lead",
    ("POST", "/v1/rules"): "lead",
    ("PUT", "/v1/rules/{id}"): "lead",
    ("DELETE", "/v1/rules/{id}"): "lead",
    ("PUT", "/v1/conversations/{id}/tags/{tag_id}"): "agent",
    ("DELETE", "/v1/conversations/{id}/tags/{tag_id}"): "agent",
    ("GET", "/v1/people/{platform}/{author_id}"): "agent",
    ("POST", "/v1/people/{platform}/{author_id}/links"): "agent",
    ("POST", "/v1/people/{platform}/{author_id}/notes"): "agent",
    ("DELETE", "/v1/people/{platform}/{author_id}/links/{link_id}"): "agent",
}
RANK = {"agent": 0, "lead": 1, "admin": 2}

FIRST_ANSWER: dict[Key, int] = {
    # What the first role allowed (the lead) gets in the role matrix where that first call
    # must really change something — a refusal (409/422) there would make the matrix test
    # nothing but the guard. Later roles repeating it may be refused (see PATH_IDS).
    ("PUT", "/v1/incidents/{id}/note"): 200,
    ("POST", "/v1/incidents/{id}/merge"): 200,
    ("POST", "/v1/incidents/{id}/split"): 201,
    ("POST", "/v1/incidents/{id}/close"): 200,
    ("POST", "/v1/incidents/{id}/reopen"): 200,
    # The team's changes act on the spare user, deactivated then reactivated (the document
    # lists them in that order), and on the workspace's live invitation.
    ("POST", "/v1/invitations"): 201,
    ("DELETE", "/v1/invitations/{id}"): 200,
    ("PUT", "/v1/users/{id}/role"): 200,
    ("POST", "/v1/users/{id}/deactivate"): 200,
    ("POST", "/v1/users/{id}/reactivate"): 200,
    ("POST", "/v1/users/{id}/password-link"): 200,
    ("POST", "/v1/workspaces"): 201,
    # The agent holds the conversation (claimed just before): the handover goes through.
    ("POST", "/v1/conversations/{id}/assign"): 200,
    # The lead's new tag (the admin's repeat is a 409: the name is taken), the spare tag
    # removed (then 404).
    ("POST", "/v1/tags"): 201,
    ("PUT", "/v1/tags/{id}"): 200,
    ("DELETE", "/v1/tags/{id}"): 200,
    # The lead's new rule (the admin's repeat: 409, the name is taken), the workspace's rule
    # replaced, the spare rule removed (then 404).
    ("POST", "/v1/rules"): 201,
    ("PUT", "/v1/rules/{id}"): 200,
    ("DELETE", "/v1/rules/{id}"): 200,
    # A new identity linked to the customer (a repeat is the same link: 200), and the link
    # populate made removed (then 404).
    ("POST", "/v1/people/{platform}/{author_id}/links"): 201,
    ("DELETE", "/v1/people/{platform}/{author_id}/links/{link_id}"): 200,
}

OWN_CREDENTIALS: set[Key] = {
    # Public operations that check a credential of their own (password, platform signature):
    # tested in test_sessions.py and test_webhooks_hostile.py, not by the role matrix.
    ("POST", "/v1/auth/login"),
    # The second sign-in step: its credential is the pending token the password step gave.
    ("POST", "/v1/auth/login/code"),
    # A one-time link's token is its own credential (tested in test_team.py).
    ("POST", "/v1/auth/link"),
    ("POST", "/v1/auth/link/accept"),
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


def _spare_user(w: Populated) -> dict[str, str]:
    return {"id": w.spare_user_id}


def _customer(w: Populated) -> dict[str, str]:
    return {"platform": "x", "author_id": w.customer}


def _incident(w: Populated) -> dict[str, str]:
    return {"id": str(w.incident)}


PATH_IDS: dict[Key, PathIds] = {
    ("DELETE", "/v1/tokens/{id}"): PathIds(lambda w: {"id": w.spare_token_id}),
    ("GET", "/v1/conversations/{id}"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/claim"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/release"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/replies"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/reply-check"): PathIds(_conversation),
    # Suggestions read the workspace's resolved conversations and replies: another
    # workspace's conversation (and the reply it names) is a 404.
    ("GET", "/v1/conversations/{id}/suggestions"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/suggestions/use"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/notes"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/moderation"): PathIds(
        lambda w: {"id": str(w.comment_conversation)}
    ),
    ("POST", "/v1/conversations/{id}/resolve"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/reopen"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/wait"): PathIds(_conversation),
    ("GET", "/v1/conversations/{id}/sla"): PathIds(_conversation),
    ("POST", "/v1/conversations/{id}/assign"): PathIds(_conversation),
    ("PUT", "/v1/users/{id}/routing"): PathIds(_spare_user),
    # The spare tag (on no conversation) is the one removed; the other stays on and off the
    # conversation (each role's put and take succeed: both are idempotent).
    ("DELETE", "/v1/tags/{id}"): PathIds(lambda w: {"id": str(w.spare_tag)}),
    ("PUT", "/v1/tags/{id}"): PathIds(lambda w: {"id": str(w.tag)}),
    ("PUT", "/v1/rules/{id}"): PathIds(lambda w: {"id": str(w.rule)}),
    ("DELETE", "/v1/rules/{id}"): PathIds(lambda w: {"id": str(w.spare_rule)}),
    ("PUT", "/v1/conversations/{id}/tags/{tag_id}"): PathIds(
        lambda w: {"id": str(w.conversation), "tag_id": str(w.tag)}
    ),
    ("DELETE", "/v1/conversations/{id}/tags/{tag_id}"): PathIds(
        lambda w: {"id": str(w.conversation), "tag_id": str(w.tag)}
    ),
    ("POST", "/v1/messages/{id}/correction"): PathIds(lambda w: {"id": str(w.message_id)}),
    # The main customer as a person (another workspace: no such person there, 404); the
    # link the matrices remove is the one populate made (then 404: already unlinked).
    ("GET", "/v1/people/{platform}/{author_id}"): PathIds(_customer),
    ("POST", "/v1/people/{platform}/{author_id}/links"): PathIds(_customer),
    ("POST", "/v1/people/{platform}/{author_id}/notes"): PathIds(_customer),
    ("DELETE", "/v1/people/{platform}/{author_id}/links/{link_id}"): PathIds(
        lambda w: {**_customer(w), "link_id": str(w.person_link)}
    ),
    # A second session of the agent, not one the matrices sign in with.
    ("DELETE", "/v1/sessions/{id}"): PathIds(lambda w: {"id": w.spare_session_id}),
    # The spare user: signing it out everywhere (sessions and API tokens) or resetting its
    # two-factor would otherwise end the matrices' own users' credentials half-way.
    ("GET", "/v1/users/{id}/sessions"): PathIds(_spare_user),
    ("DELETE", "/v1/users/{id}/sessions"): PathIds(_spare_user),
    ("POST", "/v1/users/{id}/two-factor/reset"): PathIds(_spare_user),
    ("PUT", "/v1/users/{id}/role"): PathIds(_spare_user),
    ("POST", "/v1/users/{id}/deactivate"): PathIds(_spare_user),
    ("POST", "/v1/users/{id}/reactivate"): PathIds(_spare_user),
    ("POST", "/v1/users/{id}/password-link"): PathIds(_spare_user),
    ("DELETE", "/v1/invitations/{id}"): PathIds(lambda w: {"id": w.invitation_id}),
    ("GET", "/v1/privacy/erasures/{id}"): PathIds(lambda w: {"id": w.erasure_id}),
    # Every incident route acts on the outage incident. The changes run in document order
    # (``ordered``), each one's first allowed caller making the real change — a later role's
    # repeat is refused (409/422), which the role matrix accepts as "not 401/403, no 5xx":
    #   note   — the same text every time (only the first write changes anything);
    #   merge  — the payment incident into the outage (then 409: already merged away);
    #   split  — one of the outage's own conversations out to a new incident (then 422: no
    #            longer in it), so it holds whether or not the merge ran first;
    #   close  — then reopen, which the document lists right after it, leaves the outage
    #            open for whatever runs later (schemathesis, a second role).
    # Another workspace gets 404 for each, and the isolation matrix's snapshot (incidents,
    # members, signals, history) proves none of it happened there.
    ("GET", "/v1/incidents/{id}"): PathIds(_incident),
    ("PUT", "/v1/incidents/{id}/note"): PathIds(_incident),
    ("POST", "/v1/incidents/{id}/merge"): PathIds(_incident),
    ("POST", "/v1/incidents/{id}/split"): PathIds(_incident),
    ("POST", "/v1/incidents/{id}/close"): PathIds(_incident),
    ("POST", "/v1/incidents/{id}/reopen"): PathIds(_incident),
    # A channel key names a channel within the caller's workspace, and the body names the
    # target's own credentials: from another workspace that reference does not exist (422,
    # /credentials_ref), so nothing is configured anywhere (the snapshot proves A's channel
    # is untouched; test_credentials.py tries every reference and host).
    ("PUT", "/v1/channels/{platform}/{key}"): PathIds(
        lambda w: {"platform": "x", "key": w.channel_key}, foreign_status=422
    ),
    # A channel key names a channel within the caller's workspace: another workspace's
    # WhatsApp channel does not exist for it (404), and nothing reaches the platform.
    ("GET", "/v1/channels/{platform}/{key}/templates"): PathIds(
        lambda w: {"platform": "whatsapp", "key": w.whatsapp_key}, foreign_status=404
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
    ("POST", "/v1/conversations/{id}/moderation"): lambda w: {
        "action": "hide",
        "message_id": w.comment_message_id,
    },
    ("POST", "/v1/conversations/{id}/reply-check"): lambda w: {"text": "On it, Jo."},
    ("POST", "/v1/conversations/{id}/suggestions/use"): lambda w: {"suggestion_id": w.reply_id},
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
        "base_url": "https://api.x.com",
        "credentials_ref": w.credentials_ref,
        "polling": False,
    },
    ("POST", "/webhooks/{platform}"): lambda w: {"for_user_id": "1"},
    # A pending token already spent on its second step: refused (401) and nothing of its
    # workspace changes — a live one would count an attempt against the spare user's sign-in.
    ("POST", "/v1/auth/login/code"): lambda w: {
        "pending_token": w.spent_pending_token,
        "code": "000000",
    },
    # A wrong code (422): a right one is tested end to end in test_two_factor.py; here it
    # would switch two-factor on or off for the matrices' own users.
    ("POST", "/v1/me/two-factor/confirm"): lambda w: {"code": "000000"},
    ("POST", "/v1/me/two-factor/disable"): lambda w: {"code": "000000"},
    ("POST", "/v1/me/two-factor/recovery-codes"): lambda w: {"code": "000000"},
    # The right current password, and the same again as the new one: the change succeeds
    # and the users still sign in with PASSWORD afterwards.
    ("POST", "/v1/me/password"): lambda w: {
        "current_password": PASSWORD,
        "new_password": PASSWORD,
    },
    # Everyone must enrol: a real change (each workspace starts at "off"), run LAST.
    ("PUT", "/v1/workspace/two-factor"): lambda w: {"policy": "everyone"},
    # The sacrificial customer: erasing them leaves the conversation the matrices work on.
    ("POST", "/v1/privacy/erasures"): lambda w: {
        "identities": [{"platform": "x", "author_id": w.leaver}]
    },
    # The main customer: another workspace's export must hold none of their messages.
    ("POST", "/v1/privacy/exports"): lambda w: {
        "identities": [{"platform": "x", "author_id": w.customer}]
    },
    # Incidents (see PATH_IDS): ids in the bodies are the target workspace's own.
    ("PUT", "/v1/incidents/{id}/note"): lambda w: {"text": "Engineers are on the outage."},
    ("POST", "/v1/incidents/{id}/merge"): lambda w: {"incident_id": w.other_incident},
    ("POST", "/v1/incidents/{id}/split"): lambda w: {
        "conversation_ids": [w.split_conversation],
        "label": "matrix split",
    },
    # A link already used: refused (404), and nothing of its workspace changes — a live one
    # would let the caller in.
    ("POST", "/v1/auth/link"): lambda w: {"token": w.spent_link_token},
    ("POST", "/v1/auth/link/accept"): lambda w: {"token": w.spent_link_token, "password": PASSWORD},
    ("POST", "/v1/invitations"): lambda w: {
        "email": f"matrix-invitee@{w.name.lower()}.test",
        "role": "agent",
    },
    ("PUT", "/v1/users/{id}/role"): lambda w: {"role": "lead"},
    ("POST", "/v1/users/{id}/password-link"): lambda w: {"force": False},
    ("POST", "/v1/workspaces"): lambda w: {
        "name": "Matrix care",
        "admin_email": "matrix-admin@matrix.test",
    },
    # Routing: the conversation goes to the spare user (a handover when the agent calls);
    # automatic assignment stays off, so no worker changes the matrices' conversation.
    ("PUT", "/v1/me/presence"): lambda w: {"presence": "available"},
    ("POST", "/v1/conversations/{id}/assign"): lambda w: {
        "user_id": w.spare_user_id,
        "note": "matrix handover",
    },
    ("PUT", "/v1/routing"): lambda w: {"auto_assign": False, "max_open_claims": 4},
    ("PUT", "/v1/users/{id}/routing"): lambda w: {
        "max_open_claims": 3,
        "languages": ["en"],
        "channels": ["support-en"],
    },
    ("POST", "/v1/tags"): lambda w: {"name": "Matrix", "colour": "blue"},
    # The tag keeps its name (a marker of its workspace); only its colour changes.
    ("PUT", "/v1/tags/{id}"): lambda w: {"name": w.tag_name, "colour": "pink"},
    ("POST", "/v1/rules"): lambda w: {"name": "Matrix rule", "then": [{"kind": "notify"}]},
    ("PUT", "/v1/rules/{id}"): lambda w: {
        "name": w.rule_name,
        "position": 3,
        "when": {"words": ["matrix"]},
        "then": [{"kind": "tag", "tag_id": w.tag}],
    },
    ("POST", "/v1/people/{platform}/{author_id}/links"): lambda w: {
        "platform": "bluesky",
        "handle": "matrix.bsky.social",
    },
    ("POST", "/v1/people/{platform}/{author_id}/notes"): lambda w: {"text": "matrix note"},
    # Not the 400 days populate set: a write to the wrong workspace would show.
    ("PUT", "/v1/privacy/retention"): lambda w: {"conversation_days": 3650},
}


def missing_entries() -> list[str]:
    """What each operation lacks in the tables above, as instructions."""
    problems = []
    for service, operations in SERVICES.items():
        for op in operations:
            k = key(op)
            if op.auth not in (None, "bearer", *INBOX_SCOPES):
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
