"""The triage API's OpenAPI 3.1 document (served at /openapi.json)."""

from __future__ import annotations

from typing import Any

from services.infra.openapi import PROBES, ROW_ID, UUID, Media, Operation, document
from services.infra.platforms import PLATFORMS
from services.triage.access.http import LoginCodeIn, LoginIn, TokenIn
from services.triage.access.http_security import CodeIn, PasswordIn, TwoFactorPolicyIn
from services.triage.access.http_team import (
    AcceptIn,
    InvitationIn,
    LinkIn,
    PasswordLinkIn,
    RoleIn,
    WorkspaceIn,
)
from services.triage.access.schemas import (
    AccessOut,
    AccessRevokedOut,
    DeactivatedOut,
    EnrolmentOut,
    InvitationRevokedOut,
    InvitationsOut,
    LinkIssuedOut,
    LinkViewOut,
    LoginOut,
    MeOut,
    NewTokenOut,
    PasswordChangedOut,
    PasswordLinkOut,
    ReactivatedOut,
    RecoveryCodesOut,
    RevokedOut,
    RoleChangedOut,
    SignedInOut,
    SignedOutOut,
    TokensOut,
    TwoFactorOffOut,
    TwoFactorOnOut,
    TwoFactorPolicyOut,
    TwoFactorResetOut,
    TwoFactorStatusOut,
    UsersOut,
    WorkspaceCreatedOut,
)
from services.triage.composer.http import UseIn
from services.triage.composer.schemas import SuggestionsOut, UsedSuggestionOut
from services.triage.desk.http import CorrectionIn, NoteIn, ReplyCheckIn, ReplyIn, SavedReplyIn
from services.triage.desk.http_queue import FILTERS, MAX_CHANNEL
from services.triage.desk.http_queue import MAX_LIMIT as QUEUE_LIMIT
from services.triage.desk.schemas import (
    ClaimOut,
    ConversationClocksOut,
    ConversationOut,
    CorrectionOut,
    NoteOut,
    PostedReplyOut,
    QueueOut,
    ReplyCheckOut,
    SavedRepliesOut,
    SavedReplyOut,
    StatusOut,
    VocabularyOut,
)
from services.triage.incidents.http import KINDS as INCIDENT_KINDS
from services.triage.incidents.http import MAX_LIMIT as INCIDENTS_LIMIT
from services.triage.incidents.http import STATUSES as INCIDENT_STATUSES
from services.triage.incidents.http import IncidentNoteIn, MergeIn, SplitIn
from services.triage.incidents.schemas import IncidentOut, IncidentsOut
from services.triage.moderation.http import ModerationIn, ModerationRequestedOut
from services.triage.people.schemas import (
    MAX_REF,
    PersonLinkIn,
    PersonLinkMadeOut,
    PersonNoteIn,
    PersonNoteMadeOut,
    PersonOut,
)
from services.triage.privacy.http import PersonIn, RetentionIn
from services.triage.privacy.schemas import ErasureOut, ErasuresOut, ExportOut, RetentionOut
from services.triage.routing.http import (
    AssignIn,
    AssignOut,
    PresenceIn,
    PresenceOut,
    RoutingIn,
    RoutingOut,
    SkillsIn,
    SkillsOut,
    TeamPresenceOut,
)
from services.triage.rules.schemas import RuleDeletedOut, RuleIn, RuleOut, RulesOut
from services.triage.search.http import MAX_LIMIT as SEARCH_LIMIT
from services.triage.search.http import MAX_QUERY as SEARCH_QUERY
from services.triage.search.schemas import SearchOut
from services.triage.sla.policy import PolicyIn, PolicyOut
from services.triage.stats.http import StatsOut
from services.triage.tags.schemas import TagDeletedOut, TaggedOut, TagIn, TagOut, TagsOut
from services.triage.webhooks.http import NewWebhookOut, WebhookIn, WebhookOut

P404 = {404: "No such conversation in your workspace"}
AUTH = {
    401: "Missing, unknown or expired credentials",
    403: "Not allowed (role, CSRF, or two-factor enrolment required first)",
}
CODE = {
    422: "Wrong, expired or already used code",
    429: "Too many wrong codes from this address: wait Retry-After seconds",
}
NO_KEY = {503: "The server has no two-factor key"}
NO_KEY_OPENS = {
    503: "The server has no two-factor key, or none of its keys opens the stored secret "
    "(an old key not listed in TRIAGE_TWO_FACTOR_OLD_KEYS)"
}
BY_ROW_ID = {"id": ROW_ID}
BY_UUID = {"id": UUID}
QUEUE_QUERY: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": QUEUE_LIMIT},
    **{name: {"enum": list(values)} for name, values in FILTERS.items()},
    "incident": {"type": "integer", "format": "int64", "minimum": 1},
    "channel": {"type": "string", "minLength": 1, "maxLength": MAX_CHANNEL},
    "tag": {"type": "integer", "format": "int64", "minimum": 1},
}


def _api(
    method: str,
    path: str,
    summary: str,
    tag: str,
    *,
    answers: dict[int, str],
    refusals: dict[int, str] = AUTH,
    **fields: Any,
) -> Operation:
    """A signed-in operation: its ``answers`` and the ``refusals`` every such one may give
    (401 and 403; its own answers win); an ``{id}`` in its path is a row id unless
    ``path_params`` says other."""
    if "{id}" in path:
        fields.setdefault("path_params", BY_ROW_ID)
    return Operation(method, path, summary, tag, answers=refusals | answers, **fields)


def _status(action: str) -> Operation:
    return _api(
        "POST",
        f"/v1/conversations/{{id}}/{action}",
        f"{action.title()} the conversation (the SLA clocks follow)",
        "conversations",
        returns=StatusOut,
        answers={200: "New status", **P404, 409: "Not possible from the current status"},
    )


OPERATIONS = [
    *PROBES,
    Operation(
        "GET",
        "/",
        "The desk's web UI",
        "ui",
        auth=None,
        answers={200: "HTML"},
        answers_as=(Media("text/html", "The desk's page"),),
    ),
    Operation(
        "POST",
        "/v1/auth/login",
        "Sign in with a password (sets the session cookie)",
        "accounts",
        returns=LoginOut,
        body=LoginIn,
        auth=None,
        answers={
            200: "Signed in (the answer carries the CSRF token), or, with two-factor on, "
            "a pending token for the second step",
            401: "Wrong e-mail or password",
            409: "Choose a workspace",
            429: "Too many failed sign-ins for this e-mail from this address (or from this "
            "address, and this one failed too): wait Retry-After seconds",
            503: "Two-factor is on but the server has no key to check codes",
        },
    ),
    Operation(
        "POST",
        "/v1/auth/login/code",
        "Second sign-in step: the pending token and a TOTP or recovery code",
        "accounts",
        returns=SignedInOut,
        body=LoginCodeIn,
        auth=None,
        answers={
            200: "Signed in; the answer carries the CSRF token",
            401: "Wrong, expired or already used code (or pending token)",
            429: "Too many wrong codes from this address: wait Retry-After seconds",
            503: "None of the server's two-factor keys opens the user's secret",
        },
    ),
    _api(
        "GET",
        "/v1/me/two-factor",
        "My two-factor state (on, pending, required, recovery codes left)",
        "security",
        returns=TwoFactorStatusOut,
        answers={200: "State"},
    ),
    _api(
        "POST",
        "/v1/me/two-factor/enrol",
        "Start enrolment: a new key, its otpauth:// URI and QR code",
        "security",
        returns=EnrolmentOut,
        answers={201: "Key to add to an authenticator app", 409: "Already on", **NO_KEY},
    ),
    _api(
        "GET",
        "/v1/me/two-factor/qr.svg",
        "The pending enrolment's QR code",
        "security",
        answers={200: "SVG image", 404: "No enrolment pending", **NO_KEY_OPENS},
        answers_as=(Media("image/svg+xml", "A QR code of the otpauth:// URI"),),
    ),
    _api(
        "POST",
        "/v1/me/two-factor/confirm",
        "Confirm enrolment with a first code (ten recovery codes, shown once)",
        "security",
        returns=TwoFactorOnOut,
        body=CodeIn,
        answers={200: "On", 409: "Nothing to confirm", **CODE, **NO_KEY_OPENS},
    ),
    _api(
        "POST",
        "/v1/me/two-factor/disable",
        "Turn two-factor off with a fresh code or a recovery code",
        "security",
        returns=TwoFactorOffOut,
        body=CodeIn,
        answers={200: "Off; other sessions ended", **CODE, **NO_KEY_OPENS},
    ),
    _api(
        "POST",
        "/v1/me/two-factor/recovery-codes",
        "Replace my recovery codes (proven by a fresh TOTP code)",
        "security",
        returns=RecoveryCodesOut,
        body=CodeIn,
        answers={200: "Ten new codes, shown once", **CODE, **NO_KEY_OPENS},
    ),
    _api(
        "POST",
        "/v1/me/password",
        "Change my password (proven by the current one); other sessions end",
        "security",
        returns=PasswordChangedOut,
        body=PasswordIn,
        answers={
            200: "Changed",
            422: "Wrong current password or invalid new one",
            429: "Too many wrong passwords from this address: wait Retry-After seconds",
        },
    ),
    _api(
        "GET",
        "/v1/sessions",
        "My live sessions and API tokens",
        "security",
        returns=AccessOut,
        answers={200: "Sessions and tokens"},
    ),
    _api(
        "DELETE",
        "/v1/sessions/{id}",
        "End a session (mine; an admin: anyone's in the workspace)",
        "security",
        returns=RevokedOut,
        path_params=BY_UUID,
        answers={200: "Ended", 404: "No such session"},
    ),
    _api(
        "GET",
        "/v1/users",
        "The workspace's users and their two-factor state (admins)",
        "security",
        returns=UsersOut,
        answers={200: "Users"},
    ),
    _api(
        "GET",
        "/v1/users/{id}/sessions",
        "A user's live sessions and API tokens (admins)",
        "security",
        returns=AccessOut,
        path_params=BY_UUID,
        answers={200: "Sessions and tokens", 404: "No such user in your workspace"},
    ),
    _api(
        "DELETE",
        "/v1/users/{id}/sessions",
        "Sign a user out everywhere: sessions and API tokens (admins)",
        "security",
        returns=AccessRevokedOut,
        path_params=BY_UUID,
        answers={200: "Revoked", 404: "No such user in your workspace"},
    ),
    _api(
        "POST",
        "/v1/users/{id}/two-factor/reset",
        "Turn a user's two-factor off and end their sessions (admins)",
        "security",
        returns=TwoFactorResetOut,
        path_params=BY_UUID,
        answers={200: "Reset", 404: "No such user in your workspace"},
    ),
    _api(
        "GET",
        "/v1/workspace/two-factor",
        "Who must use two-factor in this workspace",
        "security",
        returns=TwoFactorPolicyOut,
        answers={200: "The policy"},
    ),
    _api(
        "PUT",
        "/v1/workspace/two-factor",
        "Require two-factor of nobody, leads and admins, or everyone (admins)",
        "security",
        returns=TwoFactorPolicyOut,
        body=TwoFactorPolicyIn,
        answers={200: "Saved", 422: "Unknown policy", **NO_KEY},
    ),
    _api(
        "POST",
        "/v1/auth/logout",
        "Sign out",
        "accounts",
        returns=SignedOutOut,
        answers={200: "Signed out"},
    ),
    _api(
        "GET",
        "/v1/me",
        "Who I am (and a fresh CSRF token for a session)",
        "accounts",
        returns=MeOut,
        answers={200: "The caller"},
    ),
    _api(
        "GET",
        "/v1/tokens",
        "My API tokens",
        "accounts",
        returns=TokensOut,
        answers={200: "Tokens"},
    ),
    _api(
        "POST",
        "/v1/tokens",
        "Create an API token (its value is shown once)",
        "accounts",
        returns=NewTokenOut,
        body=TokenIn,
        answers={201: "Created"},
    ),
    _api(
        "DELETE",
        "/v1/tokens/{id}",
        "Revoke an API token",
        "accounts",
        returns=RevokedOut,
        path_params=BY_UUID,
        answers={200: "Revoked", 404: "No such token"},
    ),
    _api(
        "GET",
        "/v1/queue",
        "Conversations waiting for an answer, most urgent first",
        "queue",
        returns=QueueOut,
        query=QUEUE_QUERY,
        answers={200: "The queue", 422: "Invalid filter"},
    ),
    _api(
        "GET",
        "/v1/vocabulary",
        "The platforms and intents the queue filters by and agents correct to",
        "queue",
        returns=VocabularyOut,
        answers={200: "The values"},
    ),
    _api(
        "POST",
        "/v1/queue/claim-next",
        "Claim the most urgent unclaimed conversation",
        "queue",
        returns=ClaimOut,
        answers={200: "Claimed", 404: "Nothing is waiting", 503: "Try again"},
    ),
    _api(
        "GET",
        "/v1/conversations/{id}",
        "A conversation: thread, triage, replies, notes",
        "conversations",
        returns=ConversationOut,
        answers={200: "The conversation", **P404},
    ),
    _api(
        "POST",
        "/v1/conversations/{id}/claim",
        "Claim (or renew the claim on) it",
        "conversations",
        returns=ClaimOut,
        answers={200: "Claimed", **P404, 409: "Another agent holds it"},
    ),
    # Right after the claim: an agent hands over what they hold.
    _api(
        "POST",
        "/v1/conversations/{id}/assign",
        "Give it to a teammate: leads any conversation, agents one they hold (a handover, "
        "with an optional note); the answer names the new holder",
        "routing",
        body=AssignIn,
        returns=AssignOut,
        answers={
            200: "Assigned",
            404: "No such conversation or user in your workspace",
            409: "The conversation is resolved",
            422: "Invalid body, or a deactivated user",
        },
    ),
    _api(
        "POST",
        "/v1/conversations/{id}/release",
        "Release my claim",
        "conversations",
        returns=ClaimOut,
        answers={200: "Released", **P404, 409: "Not held by you"},
    ),
    _api(
        "POST",
        "/v1/conversations/{id}/replies",
        "Reply (delivered by the inbox)",
        "conversations",
        returns=PostedReplyOut,
        body=ReplyIn,
        answers={
            200: "Already sent with this client_key",
            202: "Queued for delivery",
            **P404,
            409: "Not claimed, or resolved",
            422: "Empty, over the platform's length limit, free text outside WhatsApp's "
            "24-hour window (pointer /template: send an approved template), private: true "
            "on anything but a Facebook or Instagram comment (pointer /private), or invalid",
        },
    ),
    _api(
        "POST",
        "/v1/conversations/{id}/reply-check",
        "Measure a draft reply against its platform's limit, with its warnings (sends nothing)",
        "conversations",
        returns=ReplyCheckOut,
        body=ReplyCheckIn,
        answers={200: "The draft measured", **P404, 422: "Invalid"},
    ),
    _api(
        "GET",
        "/v1/conversations/{id}/suggestions",
        "Starting points for a reply: the answers of up to three similar resolved "
        "conversations, saved replies filled for this customer, the move to private messages",
        "replies",
        returns=SuggestionsOut,
        answers={200: "Starting points (nothing is sent)", **P404},
    ),
    _api(
        "POST",
        "/v1/conversations/{id}/suggestions/use",
        "Put a suggestion in the reply box: its text, counted as used (sends nothing)",
        "replies",
        returns=UsedSuggestionOut,
        body=UseIn,
        answers={200: "The suggestion's text", **P404},
    ),
    _api(
        "POST",
        "/v1/conversations/{id}/notes",
        "Add an internal note",
        "conversations",
        returns=NoteOut,
        body=NoteIn,
        answers={201: "Noted", **P404},
    ),
    _api(
        "POST",
        "/v1/conversations/{id}/moderation",
        "Hide, show again or delete a customer's comment on the platform (leads and admins)",
        "conversations",
        returns=ModerationRequestedOut,
        body=ModerationIn,
        answers={
            202: "Asked of the platform; the message shows the outcome when it answers",
            403: "Agents may not moderate",
            **P404,
            422: "The platform cannot do this to this message (the detail says why)",
        },
    ),
    _status("resolve"),
    _status("reopen"),
    _status("wait"),
    _api(
        "GET",
        "/v1/conversations/{id}/sla",
        "The conversation's SLA clocks and history",
        "sla",
        returns=ConversationClocksOut,
        answers={200: "Clocks", **P404},
    ),
    _api(
        "GET",
        "/v1/sla/policies",
        "The workspace's SLA policy",
        "sla",
        returns=PolicyOut,
        answers={200: "The policy"},
    ),
    _api(
        "PUT",
        "/v1/sla/policies",
        "Replace the SLA policy (leads and admins)",
        "sla",
        returns=PolicyOut,
        body=PolicyIn,
        answers={
            200: "Saved",
            400: "Malformed JSON",
            422: "Impossible policy",
        },
    ),
    _api(
        "GET",
        "/v1/webhooks",
        "The breach webhook's URL (admins)",
        "sla",
        returns=WebhookOut,
        answers={200: "The webhook", 404: "No webhook is set"},
    ),
    _api(
        "PUT",
        "/v1/webhooks",
        "Set the breach webhook (admins; the secret is shown once)",
        "sla",
        returns=NewWebhookOut,
        body=WebhookIn,
        answers={200: "Saved", 422: "Invalid URL or body"},
    ),
    _api(
        "POST",
        "/v1/messages/{id}/correction",
        "Correct a triage decision (stored as feedback for training)",
        "conversations",
        returns=CorrectionOut,
        body=CorrectionIn,
        answers={
            201: "Recorded",
            404: "No such message in your workspace",
            422: "Unknown field or impossible value",
        },
    ),
    _api(
        "GET",
        "/v1/saved-replies",
        "Saved replies (starting points)",
        "replies",
        returns=SavedRepliesOut,
        answers={200: "Saved replies"},
    ),
    _api(
        "POST",
        "/v1/saved-replies",
        "Add a saved reply (leads and admins)",
        "replies",
        returns=SavedReplyOut,
        body=SavedReplyIn,
        answers={201: "Added"},
    ),
    _api(
        "GET",
        "/v1/stats",
        "First response, attainment, backlog, answers (leads)",
        "stats",
        returns=StatsOut,
        query={
            "days": {"type": "integer", "minimum": 1, "maximum": 90},
            "from": {"type": "string", "format": "date-time"},
            "to": {"type": "string", "format": "date-time"},
        },
        answers={200: "Figures", 422: "Invalid period"},
    ),
    _api(
        "GET",
        "/v1/search",
        "Messages of the workspace by words (French and English), reference or handle",
        "queue",
        returns=SearchOut,
        query={
            "q": {"type": "string", "minLength": 2, "maxLength": SEARCH_QUERY},
            "limit": {"type": "integer", "minimum": 1, "maximum": SEARCH_LIMIT},
            "before": {"type": "integer", "format": "int64", "minimum": 1},
        },
        answers={200: "Matching messages, newest first", 422: "Invalid query"},
    ),
    _api(
        "GET",
        "/v1/stream",
        "Live changes as Server-Sent Events (Last-Event-ID resumes)",
        "queue",
        answers={200: "An event stream", 422: "Invalid Last-Event-ID"},
        answers_as=(
            Media(
                "text/event-stream",
                "Events named change, each an id: line and a data: line holding "
                '{"conversation_id": <id>, "change": <what changed>}; comments keep it alive',
            ),
        ),
    ),
    _api(
        "POST",
        "/v1/privacy/erasures",
        "Erase a person from both services (admins); progress per service",
        "privacy",
        returns=ErasureOut,
        body=PersonIn,
        answers={
            200: "The same identities are already being erased: that request",
            202: "Accepted: triage erased its copy, the inbox follows",
            422: "Invalid identities",
        },
    ),
    _api(
        "GET",
        "/v1/privacy/erasures",
        "Erasure requests, newest first (admins)",
        "privacy",
        returns=ErasuresOut,
        answers={200: "Requests"},
    ),
    _api(
        "GET",
        "/v1/privacy/erasures/{id}",
        "An erasure request: pending or done, per service (admins)",
        "privacy",
        returns=ErasureOut,
        path_params=BY_UUID,
        answers={200: "The request", 404: "No such request in your workspace"},
    ),
    _api(
        "POST",
        "/v1/privacy/exports",
        "Export a person's data as JSON (admins)",
        "privacy",
        returns=ExportOut,
        body=PersonIn,
        answers={200: "Their data", 422: "Invalid identities"},
    ),
    _api(
        "GET",
        "/v1/privacy/retention",
        "How long idle conversations are kept (admins)",
        "privacy",
        returns=RetentionOut,
        answers={200: "The retention setting"},
    ),
    _api(
        "PUT",
        "/v1/privacy/retention",
        "Set how long idle conversations are kept; null keeps them (admins)",
        "privacy",
        returns=RetentionOut,
        body=RetentionIn,
        answers={200: "Saved"},
    ),
]

INCIDENT_404 = {404: "No such incident in your workspace"}
LEADS = {401: AUTH[401], 403: "Not a lead or admin, or no CSRF token"}
INCIDENT_OPERATIONS = [
    _api(
        "GET",
        "/v1/incidents",
        "Incidents (bursts of similar problems), open first",
        "incidents",
        returns=IncidentsOut,
        query={
            "status": {"enum": list(INCIDENT_STATUSES)},
            "kind": {"enum": list(INCIDENT_KINDS)},
            "limit": {"type": "integer", "minimum": 1, "maximum": INCIDENTS_LIMIT},
        },
        answers={200: "Incidents", 422: "Invalid filter"},
    ),
    _api(
        "GET",
        "/v1/incidents/{id}",
        "An incident: label, figures, samples, its conversations, status note, history",
        "incidents",
        returns=IncidentOut,
        answers={200: "The incident", **INCIDENT_404},
    ),
    _api(
        "PUT",
        "/v1/incidents/{id}/note",
        "Write the status note agents start their replies from (leads and admins)",
        "incidents",
        returns=IncidentOut,
        body=IncidentNoteIn,
        refusals=LEADS,
        answers={200: "The incident", **INCIDENT_404},
    ),
    _api(
        "POST",
        "/v1/incidents/{id}/merge",
        "Merge the incident named in the body into this one (leads and admins)",
        "incidents",
        returns=IncidentOut,
        body=MergeIn,
        refusals=LEADS,
        answers={
            200: "The merged incident",
            **INCIDENT_404,
            409: "Closed, already merged or of another kind",
            422: "Itself, or no such incident",
        },
    ),
    _api(
        "POST",
        "/v1/incidents/{id}/split",
        "Move the chosen conversations to a new incident (leads and admins)",
        "incidents",
        returns=IncidentOut,
        body=SplitIn,
        refusals=LEADS,
        answers={
            201: "The new incident",
            **INCIDENT_404,
            409: "Closed, or every conversation chosen",
            422: "None chosen, or not in the incident",
        },
    ),
    _api(
        "POST",
        "/v1/incidents/{id}/close",
        "Close by hand; its conversations stay open (leads and admins)",
        "incidents",
        returns=IncidentOut,
        refusals=LEADS,
        answers={200: "The incident", **INCIDENT_404, 409: "Already closed"},
    ),
    _api(
        "POST",
        "/v1/incidents/{id}/reopen",
        "Reopen a closed incident (leads and admins)",
        "incidents",
        returns=IncidentOut,
        refusals=LEADS,
        answers={200: "The incident", **INCIDENT_404, 409: "Open, or merged away"},
    ),
]
OPERATIONS += INCIDENT_OPERATIONS

TAG_404 = {404: "No such tag in your workspace"}
TAG_OPERATIONS = [
    _api(
        "GET",
        "/v1/tags",
        "The workspace's tags, by name",
        "tags",
        returns=TagsOut,
        answers={200: "Tags"},
    ),
    _api(
        "POST",
        "/v1/tags",
        "Define a tag: a name unique in the workspace and a colour (leads and admins)",
        "tags",
        body=TagIn,
        returns=TagOut,
        refusals=LEADS,
        answers={201: "Created", 409: "Name taken"},
    ),
    _api(
        "PUT",
        "/v1/tags/{id}",
        "Rename and recolour a tag (leads and admins)",
        "tags",
        body=TagIn,
        returns=TagOut,
        refusals=LEADS,
        answers={
            200: "Changed",
            **TAG_404,
            409: "Name taken",
        },
    ),
    _api(
        "DELETE",
        "/v1/tags/{id}",
        "Remove a tag and take it off every conversation (leads and admins)",
        "tags",
        returns=TagDeletedOut,
        refusals=LEADS,
        answers={200: "Removed", **TAG_404},
    ),
    _api(
        "DELETE",
        "/v1/conversations/{id}/tags/{tag_id}",
        "Untag a conversation (without it: no change)",
        "tags",
        returns=TaggedOut,
        path_params={"id": ROW_ID, "tag_id": ROW_ID},
        answers={200: "The conversation's tags", 404: "No such conversation or tag"},
    ),
    # After the untagging: the security matrices leave the conversation tagged, as found.
    _api(
        "PUT",
        "/v1/conversations/{id}/tags/{tag_id}",
        "Tag a conversation (again: no change)",
        "tags",
        returns=TaggedOut,
        path_params={"id": ROW_ID, "tag_id": ROW_ID},
        answers={200: "The conversation's tags", 404: "No such conversation or tag"},
    ),
]
OPERATIONS += TAG_OPERATIONS

RULE_404 = {404: "No such rule in your workspace"}
RULE_422 = {
    409: "Name taken",
    422: "Invalid rule (errors[].pointer names the field, e.g. /then/0/set_priority/priority)",
}
RULE_OPERATIONS = [
    _api(
        "GET",
        "/v1/rules",
        "The workspace's rules, in the order they run (leads and admins)",
        "rules",
        returns=RulesOut,
        refusals=LEADS,
        answers={200: "Rules"},
    ),
    _api(
        "POST",
        "/v1/rules",
        "Write a rule: when (intents, languages, platforms, channels, priorities, abuse, "
        "words, author_seen_before, in_incident) then actions (tag, set_priority, route, "
        "close, mark_abuse, notify); position orders, enabled switches (leads and admins)",
        "rules",
        body=RuleIn,
        returns=RuleOut,
        refusals=LEADS,
        answers={201: "Created", **RULE_422},
    ),
    _api(
        "PUT",
        "/v1/rules/{id}",
        "Replace a rule (its conditions, actions, position, switch)",
        "rules",
        body=RuleIn,
        returns=RuleOut,
        refusals=LEADS,
        answers={200: "Replaced", **RULE_404, **RULE_422},
    ),
    _api(
        "DELETE",
        "/v1/rules/{id}",
        "Remove a rule",
        "rules",
        returns=RuleDeletedOut,
        refusals=LEADS,
        answers={200: "Removed", **RULE_404},
    ),
]
OPERATIONS += RULE_OPERATIONS
PERSON_404 = {404: "No such person in your workspace (the identity never wrote in it)"}
PERSON = {
    "platform": {"enum": list(PLATFORMS)},
    "author_id": {"type": "string", "minLength": 1, "maxLength": MAX_REF},
}
PEOPLE_OPERATIONS = [
    _api(
        "GET",
        "/v1/people/{platform}/{author_id}",
        "The person behind a conversation's author: their identities on every platform "
        "(linked by hand), their conversations on every channel, notes about them",
        "people",
        returns=PersonOut,
        path_params=PERSON,
        answers={200: "The person", **PERSON_404},
    ),
    _api(
        "POST",
        "/v1/people/{platform}/{author_id}/links",
        "Link another identity of the same person (platform and handle or id; again: the "
        "same link)",
        "people",
        body=PersonLinkIn,
        returns=PersonLinkMadeOut,
        path_params=PERSON,
        answers={
            200: "Linked already",
            201: "Linked",
            **PERSON_404,
            422: "Invalid body, or the person's own identity",
        },
    ),
    _api(
        "POST",
        "/v1/people/{platform}/{author_id}/notes",
        "Write a note about the person (the workspace's agents see it)",
        "people",
        body=PersonNoteIn,
        returns=PersonNoteMadeOut,
        path_params=PERSON,
        answers={201: "Written", **PERSON_404},
    ),
    _api(
        "DELETE",
        "/v1/people/{platform}/{author_id}/links/{link_id}",
        "Unlink an identity from the person",
        "people",
        returns=PersonOut,
        path_params={**PERSON, "link_id": ROW_ID},
        answers={200: "The person afterwards", 404: "No such person, or no such link of theirs"},
    ),
]
OPERATIONS += PEOPLE_OPERATIONS

USER_404 = {404: "No such user in your workspace"}
LINKS = {
    404: "Unknown, expired, revoked or already used link",
    429: "Too many wrong links from this address",
}
ISSUED = (
    "The one-time link (shown this once), when it expires, and whether it was mailed "
    "(mail_error says why not)"
)
TEAM_OPERATIONS = [
    Operation(
        "POST",
        "/v1/auth/link",
        "What a one-time link is (workspace, e-mail, role, whether it sets a password); "
        "reading it does not use it",
        "accounts",
        body=LinkIn,
        returns=LinkViewOut,
        auth=None,
        answers={200: "The link", **LINKS},
    ),
    Operation(
        "POST",
        "/v1/auth/link/accept",
        "Use a one-time link: set the password it asks for and sign in (sets the session "
        "cookie; with two-factor on, a pending token for the code step)",
        "accounts",
        body=AcceptIn,
        returns=LoginOut,
        auth=None,
        answers={
            200: "Signed in, or a pending token for the code step",
            **LINKS,
            409: "The e-mail joined the workspace meanwhile",
            422: "Invalid body, or the password the link asks for is missing",
            503: "Two-factor is on but the server has no key to check codes",
        },
    ),
    _api(
        "GET",
        "/v1/invitations",
        "Invitations waiting to be accepted (admins)",
        "team",
        returns=InvitationsOut,
        answers={200: "Invitations"},
    ),
    _api(
        "POST",
        "/v1/invitations",
        "Invite someone by e-mail with a role: a one-time link, mailed when SMTP is "
        "configured (admins)",
        "team",
        body=InvitationIn,
        returns=LinkIssuedOut,
        answers={201: ISSUED, 409: "Already a member"},
    ),
    _api(
        "DELETE",
        "/v1/invitations/{id}",
        "Revoke an invitation (admins)",
        "team",
        returns=InvitationRevokedOut,
        path_params=BY_UUID,
        answers={200: "Revoked", 404: "No such invitation waiting in your workspace"},
    ),
    _api(
        "PUT",
        "/v1/users/{id}/role",
        "Change a user's role, at once (admins)",
        "team",
        body=RoleIn,
        returns=RoleChangedOut,
        path_params=BY_UUID,
        answers={
            200: "Changed",
            **USER_404,
            409: "It would leave no active admin",
            422: "Unknown role",
        },
    ),
    _api(
        "POST",
        "/v1/users/{id}/deactivate",
        "Deactivate a user: password, sessions, API tokens and links end now (admins)",
        "team",
        returns=DeactivatedOut,
        path_params=BY_UUID,
        answers={
            200: "Deactivated",
            **USER_404,
            409: "Oneself, or it would leave no active admin",
        },
    ),
    _api(
        "POST",
        "/v1/users/{id}/reactivate",
        "Reactivate a user, with a one-time link to set a new password (admins)",
        "team",
        returns=ReactivatedOut,
        path_params=BY_UUID,
        answers={200: ISSUED, **USER_404, 409: "Active already"},
    ),
    _api(
        "POST",
        "/v1/users/{id}/password-link",
        "A one-time link for a user to set a new password; with force, the current one and "
        "the user's sessions end now (admins)",
        "team",
        body=PasswordLinkIn,
        returns=PasswordLinkOut,
        path_params=BY_UUID,
        answers={200: ISSUED, **USER_404, 409: "Deactivated"},
    ),
    _api(
        "POST",
        "/v1/workspaces",
        "Create a workspace and its first admin, who gets a one-time link to set a "
        "password (admins)",
        "team",
        body=WorkspaceIn,
        returns=WorkspaceCreatedOut,
        answers={201: ISSUED},
    ),
]
OPERATIONS += TEAM_OPERATIONS

ROUTING_OPERATIONS = [
    _api(
        "GET",
        "/v1/me/presence",
        "My presence as the team sees it (never set, or idle past the setting: offline)",
        "routing",
        returns=PresenceOut,
        answers={200: "My presence"},
    ),
    _api(
        "PUT",
        "/v1/me/presence",
        "Set my presence: available, away or offline (idle past the setting: offline)",
        "routing",
        body=PresenceIn,
        returns=PresenceOut,
        answers={200: "Set"},
    ),
    _api(
        "GET",
        "/v1/team/presence",
        "Who is on, their open claims, maximum and skills (leads and admins)",
        "routing",
        returns=TeamPresenceOut,
        answers={200: "The team"},
        refusals=LEADS,
    ),
    _api(
        "GET",
        "/v1/routing",
        "Whether conversations are assigned automatically, and the maximum of open claims",
        "routing",
        returns=RoutingOut,
        answers={200: "The routing settings"},
        refusals=LEADS,
    ),
    _api(
        "PUT",
        "/v1/routing",
        "Turn automatic assignment on or off; the workspace's maximum of open claims",
        "routing",
        body=RoutingIn,
        returns=RoutingOut,
        answers={200: "Saved"},
        refusals=LEADS,
    ),
    _api(
        "PUT",
        "/v1/users/{id}/routing",
        "A teammate's skills (languages, channels: empty means all) and maximum of open "
        "claims (leads and admins)",
        "routing",
        body=SkillsIn,
        returns=SkillsOut,
        path_params=BY_UUID,
        answers={200: "Saved", **USER_404},
        refusals=LEADS,
    ),
]
OPERATIONS += ROUTING_OPERATIONS

DOCUMENT = document(
    "Écoute triage — the agents' desk",
    "1",
    "Queue, conversations, replies, SLA policies and clocks, accounts. Errors are "
    "application/problem+json; another workspace's ids answer 404.",
    OPERATIONS,
)
