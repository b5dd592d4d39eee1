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


class UsersOut(Out):
    items: list[UserOut]


class TwoFactorResetOut(Out):
    two_factor: Literal[False]
    was_enabled: bool
    sessions_revoked: int


class TwoFactorPolicyOut(Out):
    policy: TwoFactorPolicy
