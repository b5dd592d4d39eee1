"""Session security: CSRF on every write, no session fixation, sign-out ends the session."""

from __future__ import annotations

from typing import Any

from tests.security import catalog
from tests.security.conftest import Worlds, call
from tests.security.world import PASSWORD, snapshot
from tests.support.world import bearer

COOKIE = "ecoute_session"


async def sign_in(
    triage: Any, email: str, headers: dict[str, str] | None = None
) -> tuple[str, str]:
    """(session cookie value, CSRF token) of a fresh sign-in."""
    answer = await triage.post(
        "/v1/auth/login", json={"email": email, "password": PASSWORD}, headers=headers or {}
    )
    assert answer.status == 200, await answer.text()
    triage.session.cookie_jar.clear()  # the tests send the cookie themselves
    return answer.cookies[COOKIE].value, (await answer.json())["csrf_token"]


async def test_every_session_write_needs_the_csrf_token(worlds: Worlds, database_url: str) -> None:
    a = worlds.a
    session, csrf = await sign_in(worlds.triage, a.emails["admin"])
    cookie = {"Cookie": f"{COOKIE}={session}"}
    writes = [
        op
        for op in catalog.SERVICES["triage"]
        if op.auth == "bearer" and op.method not in ("GET", "HEAD", "OPTIONS")
    ]
    assert len(writes) >= 10
    before = await snapshot(database_url, a.id)
    for op in writes:
        for name, extra in {"no token": {}, "wrong token": {"X-CSRF-Token": csrf[::-1]}}.items():
            status, body = await call(worlds.triage, op, a, {**cookie, **extra})
            assert status == 403, (op.method, op.path, name, status, body)
            assert "CSRF" in body
    after = await snapshot(database_url, a.id)
    after.pop("triage.sessions"), before.pop("triage.sessions")  # last_seen_at moves
    assert after == before, "a refused write changed something"
    me = await worlds.triage.get("/v1/me", headers=cookie)
    assert me.status == 200, "the refused logout must not have signed out"
    csrf = (await me.json())["csrf_token"]  # /v1/me hands out a fresh one
    # The same write with the right token goes through.
    noted = await worlds.triage.post(
        f"/v1/conversations/{a.conversation}/notes",
        json={"text": "with the token"},
        headers={**cookie, "X-CSRF-Token": csrf},
    )
    assert noted.status == 201


async def test_a_session_id_planted_before_sign_in_is_not_the_one_after(worlds: Worlds) -> None:
    triage = worlds.triage
    planted = "attacker-chosen-session-id-0123456789abcdef"
    session, _ = await sign_in(
        triage, worlds.a.emails["agent"], headers={"Cookie": f"{COOKIE}={planted}"}
    )
    assert session != planted
    assert (await triage.get("/v1/me", headers={"Cookie": f"{COOKIE}={planted}"})).status == 401
    again, _ = await sign_in(triage, worlds.a.emails["agent"])
    assert again != session, "each sign-in opens a new session"


async def test_sign_out_ends_the_session_on_the_server(worlds: Worlds) -> None:
    triage = worlds.triage
    session, _ = await sign_in(triage, worlds.a.emails["agent"])
    cookie = {"Cookie": f"{COOKIE}={session}"}
    me = await triage.get("/v1/me", headers=cookie)
    assert me.status == 200
    csrf = (await me.json())["csrf_token"]
    out = await triage.post("/v1/auth/logout", headers={**cookie, "X-CSRF-Token": csrf})
    assert out.status == 200
    assert out.cookies[COOKIE].value == ""
    # A copy of the cookie kept by an attacker (or a stale tab) no longer works.
    assert (await triage.get("/v1/me", headers=cookie)).status == 401
    replayed = await triage.post(
        f"/v1/conversations/{worlds.a.conversation}/notes",
        json={"text": "after sign-out"},
        headers={**cookie, "X-CSRF-Token": csrf},
    )
    assert replayed.status == 401


async def test_the_second_sign_in_step_opens_a_new_session_once(worlds: Worlds) -> None:
    """POST /v1/auth/login/code, whose credential is the pending token (not in the matrices)."""
    triage, a = worlds.triage, worlds.a
    first = await triage.post("/v1/auth/login", json={"email": a.spare_email, "password": PASSWORD})
    body = await first.json()
    assert body["two_factor_required"] is True and COOKIE not in first.cookies
    pending = body["pending_token"]
    assert (await triage.get("/v1/me", headers=bearer(pending))).status == 401
    # A spent pending token is refused even with a right code, which stays unspent.
    spent = await triage.post(
        "/v1/auth/login/code",
        json={"pending_token": a.spent_pending_token, "code": a.recovery_code},
    )
    assert spent.status == 401, await spent.text()
    planted = "attacker-chosen-session-id-0123456789abcdef"
    second = await triage.post(
        "/v1/auth/login/code",
        json={"pending_token": pending, "code": a.recovery_code},
        headers={"Cookie": f"{COOKIE}={planted}"},
    )
    assert second.status == 200, await second.text()
    triage.session.cookie_jar.clear()
    session = second.cookies[COOKIE].value
    assert session != planted
    assert (await triage.get("/v1/me", headers={"Cookie": f"{COOKIE}={planted}"})).status == 401
    assert (await triage.get("/v1/me", headers={"Cookie": f"{COOKIE}={session}"})).status == 200
    again = await triage.post(
        "/v1/auth/login/code", json={"pending_token": pending, "code": a.recovery_code}
    )
    assert again.status == 401, "neither the pending token nor the recovery code works twice"
