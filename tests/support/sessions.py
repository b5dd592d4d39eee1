"""Signing in as a browser does, for integration tests: the password step, the second
factor, enrolment, and sessions kept side by side (cookie and CSRF token sent by hand)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from tests.support.authenticator import Authenticator
from tests.support.world import make_user, sql

PASSWORD = "correct horse battery"


@dataclass
class Session:
    """One browser's session: its cookie and CSRF token, sent by hand so that several
    sessions of one user can live side by side in a test."""

    client: Any
    cookie: str
    csrf: str

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Cookie": f"ecoute_session={self.cookie}", "X-CSRF-Token": self.csrf}
        answer = await self.client.request(method, path, headers=headers, **kwargs)
        await answer.read()
        self.client.session.cookie_jar.clear()
        if path == "/v1/me" and answer.status == 200:
            self.csrf = (await answer.json())["csrf_token"]  # /v1/me hands out a fresh one
        return answer


async def try_password(client: Any, email: str, password: str = PASSWORD) -> Any:
    """``POST /v1/auth/login`` whatever the answer; the client keeps no cookie from it."""
    answer = await client.post("/v1/auth/login", json={"email": email, "password": password})
    client.session.cookie_jar.clear()
    return answer


async def password_step(client: Any, email: str, password: str = PASSWORD) -> Any:
    answer = await try_password(client, email, password)
    assert answer.status == 200, await answer.text()
    return answer


async def pending_token(client: Any, email: str) -> str:
    """The token of a sign-in waiting for its second factor."""
    return str((await (await password_step(client, email)).json())["pending_token"])


async def try_code(client: Any, pending: str, code: str) -> Any:
    """``POST /v1/auth/login/code`` whatever the answer; the client keeps no cookie from it."""
    answer = await client.post("/v1/auth/login/code", json={"pending_token": pending, "code": code})
    client.session.cookie_jar.clear()
    return answer


def session_of(client: Any, answer: Any, body: dict[str, Any]) -> Session:
    return Session(client, answer.cookies["ecoute_session"].value, body["csrf_token"])


async def sign_in(client: Any, email: str, app: Authenticator | None = None) -> Session:
    first = await password_step(client, email)
    body = await first.json()
    if app is None:
        assert body["two_factor_required"] is False
        return session_of(client, first, body)
    assert body["two_factor_required"] is True and "ecoute_session" not in first.cookies
    second = await try_code(client, body["pending_token"], await app.code())
    assert second.status == 200, await second.text()
    return session_of(client, second, await second.json())


async def enrol(session: Session) -> tuple[Authenticator, list[str]]:
    started = await session.call("POST", "/v1/me/two-factor/enrol")
    assert started.status == 201, await started.text()
    key = (await started.json())["secret"]
    app = Authenticator(key)
    confirmed = await session.call(
        "POST", "/v1/me/two-factor/confirm", json={"code": await app.code()}
    )
    assert confirmed.status == 200, await confirmed.text()
    return app, (await confirmed.json())["recovery_codes"]


async def person(
    database_url: str, workspace_id: uuid.UUID, role: str = "agent"
) -> tuple[str, str]:
    """A user with a password (``PASSWORD``): their email and API token."""
    email = f"{role}-{uuid.uuid4().hex[:6]}@acme.test"
    token = await make_user(database_url, workspace_id, role, email=email, password=PASSWORD)
    return email, token


async def actions(database_url: str, workspace_id: uuid.UUID) -> list[str]:
    """The audit log's actions in this workspace, oldest first."""
    rows = await sql(
        database_url,
        "SELECT action FROM triage.audit_log WHERE workspace_id = :ws ORDER BY id",
        ws=workspace_id,
    )
    return [r.action for r in rows]
