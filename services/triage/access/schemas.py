"""The shapes of the access area's answers (sign-in, tokens, two-factor, sessions, users):
the handlers answer through them (``services.infra.http.model_response``) and the OpenAPI
document shows their schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from services.infra.http import Out

Role = Literal["agent", "lead", "admin"]
TwoFactorPolicy = Literal["off", "leads_and_admins", "everyone"]


# ---- signing in and out, who I am ------------------------------------------------------


class SignedInUserOut(Out):
    id: uuid.UUID
    workspace_id: uuid.UUID
    email: str
    role: Role


class SignedInOut(Out):
    """Signed in: the session is in its cookie; writes send ``csrf_token`` back."""

    user: SignedInUserOut
    csrf_token: str
    two_factor_required: Literal[False]
    enrolment_required: bool


class CodeNeededOut(Out):
    """The password was right and two-factor is on: send a code with ``pending_token``."""

    two_factor_required: Literal[True]
    pending_token: str
    expires_in: int


LoginOut = SignedInOut | CodeNeededOut


class SignedOutOut(Out):
    signed_out: bool


class MeUserOut(Out):
    id: uuid.UUID
    workspace_id: uuid.UUID
    email: str
    display_name: str
    role: Role


class MeOut(Out):
    user: MeUserOut
    csrf_token: str | None  # a fresh one with a session; None for an API token
    enrolment_required: bool


# ---- API tokens, sessions --------------------------------------------------------------


class TokenOut(Out):
    id: uuid.UUID
    name: str
    created_at: datetime
    revoked_at: datetime | None


class TokensOut(Out):
    items: list[TokenOut]


class NewTokenOut(Out):
    """A new API token: its value is shown here, once."""

    id: uuid.UUID
    name: str
    token: str


class RevokedOut(Out):
    id: uuid.UUID
    revoked: bool


class SessionOut(Out):
    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    ends_at: datetime
    method: Literal["password", "totp", "recovery_code"]
    user_agent: str
    current: bool


class LiveTokenOut(Out):
    id: uuid.UUID
    name: str
    created_at: datetime


class AccessOut(Out):
    """A user's live sessions and API tokens."""

    sessions: list[SessionOut]
    tokens: list[LiveTokenOut]


class AccessRevokedOut(Out):
    sessions_revoked: int
    tokens_revoked: int


# ---- two-factor, password --------------------------------------------------------------


class TwoFactorStatusOut(Out):
    enabled: bool
    pending: bool
    required: bool
    recovery_codes_left: int
    available: bool  # whether this server has a key to keep secrets with


class EnrolmentOut(Out):
    secret: str
    otpauth_uri: str
    qr_svg: str  # the path of its QR code


class TwoFactorOnOut(Out):
    enabled: Literal[True]
    recovery_codes: list[str]
    sessions_revoked: int


class TwoFactorOffOut(Out):
    enabled: Literal[False]
    sessions_revoked: int


class RecoveryCodesOut(Out):
    recovery_codes: list[str]


class PasswordChangedOut(Out):
    changed: bool
    sessions_revoked: int


class UserOut(Out):
    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    two_factor: bool
    must_enrol: bool
    active: bool
    deactivated_at: datetime | None
    has_password: bool  # False: invited or reset, until they use their link


class UsersOut(Out):
    items: list[UserOut]


class TwoFactorResetOut(Out):
    two_factor: Literal[False]
    was_enabled: bool
    sessions_revoked: int


class TwoFactorPolicyOut(Out):
    policy: TwoFactorPolicy


# ---- team: invitations, members, one-time links -----------------------------------------

LinkKind = Literal["invitation", "set_password", "sign_in"]


class LinkIssuedOut(Out):
    """A one-time link just issued: shown here, once, and whether it was mailed too."""

    id: uuid.UUID
    kind: LinkKind
    email: str
    role: Role
    link: str
    expires_at: datetime
    mailed: bool
    mail_error: str | None


class ReactivatedOut(LinkIssuedOut):
    user_id: uuid.UUID


class PasswordLinkOut(LinkIssuedOut):
    user_id: uuid.UUID
    sessions_revoked: int


class WorkspaceCreatedOut(LinkIssuedOut):
    """The new workspace, its first admin, and the link that admin sets a password with."""

    workspace_id: uuid.UUID
    user_id: uuid.UUID


class InvitationOut(Out):
    id: uuid.UUID
    email: str
    role: Role
    display_name: str
    invited_by: uuid.UUID | None
    created_at: datetime
    expires_at: datetime


class InvitationsOut(Out):
    items: list[InvitationOut]


class InvitationRevokedOut(Out):
    id: uuid.UUID
    revoked: Literal[True]


class RoleChangedOut(Out):
    id: uuid.UUID
    role: Role
    previous_role: Role


class DeactivatedOut(Out):
    id: uuid.UUID
    active: Literal[False]
    sessions_revoked: int
    tokens_revoked: int


class LinkViewOut(Out):
    """What a live link is, before it is used (never its token)."""

    kind: LinkKind
    email: str
    role: Role
    workspace_name: str
    expires_at: datetime
    needs_password: bool
