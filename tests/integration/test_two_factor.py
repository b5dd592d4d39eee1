"""Two-factor sign-in, the workspace's policy and session management, end to end against a
real Postgres: enrolment, two-step sign-in, recovery codes, replays, races, revocation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.triage.app import create_app as create_triage
from tests.support.authenticator import Authenticator
from tests.support.clock import HandClock, triage_by
from tests.support.sessions import (
    PASSWORD,
    actions,
    enrol,
    password_step,
    pending_token,
    person,
    session_of,
    sign_in,
    try_code,
    try_password,
)
from tests.support.world import bearer, make_workspace, sql, triage_settings

WRONG = {"type": "about:blank", "title": "Unauthorized", "status": 401}


@pytest.fixture
async def triage(aiohttp_client: Any, database_url: str) -> Any:
    return await aiohttp_client(create_triage(triage_settings(database_url, run_consumer=False)))


async def test_enrolment_shows_a_qr_code_and_a_key_and_a_wrong_first_code_leaves_it_off(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    me = await sign_in(triage, email)
    started = await me.call("POST", "/v1/me/two-factor/enrol")
    assert started.status == 201
    enrolment = await started.json()
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/%C3%89coute:" + email)
    assert f"secret={enrolment['secret']}" in enrolment["otpauth_uri"]
    qr = await me.call("GET", enrolment["qr_svg"])
    assert qr.status == 200 and qr.content_type == "image/svg+xml"
    svg = await qr.text()
    assert "<svg" in svg and svg.rstrip().endswith("</svg>")
    assert qr.headers["Cache-Control"] == "no-store"

    app = Authenticator(enrolment["secret"])
    wrong = await me.call("POST", "/v1/me/two-factor/confirm", json={"code": app.wrong_code()})
    assert wrong.status == 422 and "stays off" in (await wrong.json())["detail"]
    assert (await (await me.call("GET", "/v1/me/two-factor")).json())["enabled"] is False
    assert (await (await password_step(triage, email)).json())["two_factor_required"] is False

    # The secret is sealed at rest: neither its text nor its bytes are in the database.
    stored = (await sql(database_url, "SELECT secret FROM triage.two_factor"))[0].secret
    assert enrolment["secret"].encode() not in stored
    from services.triage.domain.two_factor import secret_from_text

    assert secret_from_text(enrolment["secret"]) not in stored

    right = await me.call("POST", "/v1/me/two-factor/confirm", json={"code": await app.code()})
    assert right.status == 200
    codes = (await right.json())["recovery_codes"]
    assert len(set(codes)) == 10
    status = await (await me.call("GET", "/v1/me/two-factor")).json()
    assert status["enabled"] is True and status["recovery_codes_left"] == 10
    digests = await sql(database_url, "SELECT digest FROM triage.recovery_codes")
    assert len(digests) == 10 and all(
        c.encode() not in bytes(d.digest) for c in codes for d in digests
    )
    assert (await me.call("GET", enrolment["qr_svg"])).status == 404  # nothing pending now
    assert (await me.call("POST", "/v1/me/two-factor/enrol")).status == 409
    assert {"two_factor_enrolling", "two_factor_enabled"} <= set(await actions(database_url, ws.id))


async def test_sign_in_takes_a_code_and_the_pending_step_grants_nothing(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    app, _ = await enrol(await sign_in(triage, email))

    first = await (await password_step(triage, email)).json()
    assert set(first) == {"two_factor_required", "pending_token", "expires_in"}
    pending = first["pending_token"]
    for headers in (bearer(pending), {"Cookie": f"ecoute_session={pending}"}):
        assert (await triage.get("/v1/me", headers=headers)).status == 401
        assert (await triage.get("/v1/queue", headers=headers)).status == 401

    code = await app.code()
    signed = await try_code(triage, pending, code)
    assert signed.status == 200
    session = session_of(triage, signed, await signed.json())
    assert (await session.call("GET", "/v1/queue")).status == 200

    # The same code again (a replay), a wrong code and a used pending token: one answer.
    again = await pending_token(triage, email)
    replayed = await try_code(triage, again, code)
    wrong = await try_code(triage, again, app.wrong_code())
    used = await try_code(triage, pending, await app.code())
    bodies = [await a.json() for a in (replayed, wrong, used)]
    assert [a.status for a in (replayed, wrong, used)] == [401, 401, 401]
    assert bodies[0] == bodies[1] == bodies[2]
    assert {k: bodies[0][k] for k in WRONG} == WRONG
    sessions = await sql(database_url, "SELECT method FROM triage.sessions WHERE method = 'totp'")
    assert len(sessions) == 1  # one sign-in with a code; the refused ones opened nothing


async def test_an_expired_pending_sign_in_gets_the_same_answer_as_a_wrong_code(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    app, _ = await enrol(await sign_in(triage, email))
    pending = await pending_token(triage, email)
    await sql(database_url, "UPDATE triage.pending_logins SET expires_at = now() - interval '1 s'")
    expired = await try_code(triage, pending, await app.code())
    unknown = await try_code(triage, "made-up", "123456")
    assert expired.status == unknown.status == 401
    assert await expired.json() == await unknown.json()


async def test_wrong_codes_are_delayed_even_with_fresh_pending_tokens(
    aiohttp_client: Any, database_url: str
) -> None:
    clock = HandClock()
    triage = await triage_by(clock, aiohttp_client, database_url)
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    authenticator, _ = await enrol(await sign_in(triage, email))
    statuses = []
    for _ in range(6):
        pending = await pending_token(triage, email)
        answer = await try_code(triage, pending, authenticator.wrong_code())
        statuses.append(answer.status)
    assert statuses == [401] * 5 + [429]
    pending = await pending_token(triage, email)
    right = await authenticator.code()
    waiting = await try_code(triage, pending, right)
    assert waiting.status == 429  # even the right code waits out this pair's delay
    clock.advance(int(waiting.headers["Retry-After"]))
    assert (await try_code(triage, pending, right)).status == 200


async def test_one_pending_token_allows_five_tries(triage: Any, database_url: str) -> None:
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    app, _ = await enrol(await sign_in(triage, email))
    pending = await pending_token(triage, email)
    for _ in range(5):
        answer = await try_code(triage, pending, app.wrong_code())
        assert answer.status == 401
    spent = await try_code(triage, pending, await app.code())
    assert spent.status == 401


async def test_a_recovery_code_signs_in_once(triage: Any, database_url: str) -> None:
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    _, codes = await enrol(await sign_in(triage, email))
    pending = await pending_token(triage, email)
    typed = codes[3].upper().replace("-", " ")  # read aloud, typed in capitals
    signed = await try_code(triage, pending, typed)
    assert signed.status == 200
    me = session_of(triage, signed, await signed.json())
    assert (await (await me.call("GET", "/v1/me/two-factor")).json())["recovery_codes_left"] == 9
    pending = await pending_token(triage, email)
    reused = await try_code(triage, pending, codes[3])
    assert reused.status == 401
    assert "recovery_code_used" in await actions(database_url, ws.id)
    methods = await sql(database_url, "SELECT method FROM triage.sessions ORDER BY created_at")
    assert methods[-1].method == "recovery_code"


async def test_of_concurrent_sign_ins_with_the_same_code_exactly_one_wins(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    app, _ = await enrol(await sign_in(triage, email))
    pendings = [await pending_token(triage, email) for _ in range(4)]
    code = await app.code()
    answers = await asyncio.gather(*(try_code(triage, p, code) for p in pendings))
    assert sorted(a.status for a in answers) == [200, 401, 401, 401]
    rows = await sql(
        database_url, "SELECT count(*) AS n FROM triage.sessions WHERE method = 'totp'"
    )
    assert rows[0].n == 1


async def test_disabling_needs_a_fresh_code_and_ends_other_sessions(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    laptop = await sign_in(triage, email)
    app, _ = await enrol(laptop)
    phone = await sign_in(triage, email, app)
    wrong = await phone.call("POST", "/v1/me/two-factor/disable", json={"code": app.wrong_code()})
    assert wrong.status == 422 and "stays on" in (await wrong.json())["detail"]
    off = await phone.call("POST", "/v1/me/two-factor/disable", json={"code": await app.code()})
    assert off.status == 200 and (await off.json())["sessions_revoked"] == 1
    assert (await laptop.call("GET", "/v1/me")).status == 401
    assert (await phone.call("GET", "/v1/me")).status == 200
    assert (await (await password_step(triage, email)).json())["two_factor_required"] is False
    assert "two_factor_disabled" in await actions(database_url, ws.id)


async def test_enabling_two_factor_ends_the_sessions_opened_without_it(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    elsewhere = await sign_in(triage, email)
    here = await sign_in(triage, email)
    await enrol(here)
    assert (await elsewhere.call("GET", "/v1/me")).status == 401
    assert (await here.call("GET", "/v1/me")).status == 200


async def test_a_required_policy_confines_unenrolled_users_to_enrolment(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    _, admin_token = await person(database_url, ws.id, "admin")
    lead_email, lead_token = await person(database_url, ws.id, "lead")
    agent_email, agent_token = await person(database_url, ws.id, "agent")

    refused = await triage.put(
        "/v1/workspace/two-factor", headers=bearer(agent_token), json={"policy": "everyone"}
    )
    assert refused.status == 403
    bad = await triage.put(
        "/v1/workspace/two-factor", headers=bearer(admin_token), json={"policy": "sometimes"}
    )
    assert bad.status == 422 and (await bad.json())["errors"][0]["pointer"] == "/policy"
    # The admin is covered by the policy too: they enrol first (with their own session).
    admin_email = (await (await triage.get("/v1/me", headers=bearer(admin_token))).json())["user"][
        "email"
    ]
    await enrol(await sign_in(triage, admin_email))
    saved = await triage.put(
        "/v1/workspace/two-factor",
        headers=bearer(admin_token),
        json={"policy": "leads_and_admins"},
    )
    assert saved.status == 200

    signed = await password_step(triage, lead_email)
    body = await signed.json()
    assert body["enrolment_required"] is True
    lead = session_of(triage, signed, body)
    for method, path in [("GET", "/v1/queue"), ("GET", "/v1/sessions"), ("POST", "/v1/tokens")]:
        answer = await lead.call(method, path, json={"name": "x"} if method == "POST" else None)
        problem = await answer.json()
        assert answer.status == 403, path
        assert problem["title"] == "Two-factor enrolment required"
        assert problem["enrolment_required"] is True
    api = await triage.get("/v1/queue", headers=bearer(lead_token))
    assert api.status == 403  # the lead's API token is confined too
    me = await (await lead.call("GET", "/v1/me")).json()
    assert me["enrolment_required"] is True
    assert (await (await lead.call("GET", "/v1/me/two-factor")).json())["required"] is True

    await enrol(lead)
    assert (await lead.call("GET", "/v1/queue")).status == 200
    assert (await triage.get("/v1/queue", headers=bearer(lead_token))).status == 200
    agent = await sign_in(triage, agent_email)  # agents are not covered by this policy
    assert (await agent.call("GET", "/v1/queue")).status == 200
    assert (await triage.get("/v1/queue", headers=bearer(agent_token))).status == 200

    users = await (await triage.get("/v1/users", headers=bearer(admin_token))).json()
    assert {u["email"]: u["must_enrol"] for u in users["items"]}[lead_email] is False
    assert "two_factor_policy_changed" in await actions(database_url, ws.id)


async def test_sessions_are_listed_and_revoked_one_at_a_time(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    email, token = await person(database_url, ws.id)
    other_email, other_token = await person(database_url, ws.id)
    laptop = await sign_in(triage, email)
    phone = await sign_in(triage, email)
    theirs = await sign_in(triage, other_email)

    listed = await (await laptop.call("GET", "/v1/sessions")).json()
    assert len(listed["sessions"]) == 2 and len(listed["tokens"]) == 1
    current = [s for s in listed["sessions"] if s["current"]]
    other = next(s for s in listed["sessions"] if not s["current"])
    assert len(current) == 1 and other["method"] == "password"

    their_id = (await (await theirs.call("GET", "/v1/sessions")).json())["sessions"][0]["id"]
    assert (await laptop.call("DELETE", f"/v1/sessions/{their_id}")).status == 404
    assert (await laptop.call("DELETE", "/v1/sessions/not-a-uuid")).status == 404
    assert (await laptop.call("DELETE", f"/v1/sessions/{other['id']}")).status == 200
    assert (await phone.call("GET", "/v1/me")).status == 401  # signed out at once
    assert (await laptop.call("GET", "/v1/me")).status == 200
    assert (await theirs.call("GET", "/v1/me")).status == 200

    token_id = listed["tokens"][0]["id"]
    assert (await laptop.call("DELETE", f"/v1/tokens/{token_id}")).status == 200
    assert (await triage.get("/v1/me", headers=bearer(token))).status == 401
    assert (await triage.get("/v1/me", headers=bearer(other_token))).status == 200
    assert "session_revoked" in await actions(database_url, ws.id)


async def test_an_admin_signs_a_user_out_everywhere_in_their_workspace_only(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    elsewhere = await make_workspace(database_url, "Other co")
    _, admin_token = await person(database_url, ws.id, "admin")
    _, foreign_admin = await person(database_url, elsewhere.id, "admin")
    email, token = await person(database_url, ws.id)
    session = await sign_in(triage, email)
    assert (await triage.get("/v1/queue", headers=bearer(token))).status == 200  # cached now
    users = await (await triage.get("/v1/users", headers=bearer(admin_token))).json()
    user_id = next(u["id"] for u in users["items"] if u["email"] == email)

    for answer in (
        await triage.get(f"/v1/users/{user_id}/sessions", headers=bearer(foreign_admin)),
        await triage.delete(f"/v1/users/{user_id}/sessions", headers=bearer(foreign_admin)),
        await triage.post(f"/v1/users/{user_id}/two-factor/reset", headers=bearer(foreign_admin)),
    ):
        assert answer.status == 404
    assert (await triage.get(f"/v1/users/{user_id}/sessions", headers=bearer(token))).status == 403
    assert (await session.call("GET", "/v1/me")).status == 200

    seen = await (
        await triage.get(f"/v1/users/{user_id}/sessions", headers=bearer(admin_token))
    ).json()
    assert len(seen["sessions"]) == 1 and len(seen["tokens"]) == 1
    revoked = await triage.delete(f"/v1/users/{user_id}/sessions", headers=bearer(admin_token))
    assert await revoked.json() == {"sessions_revoked": 1, "tokens_revoked": 1}
    assert (await session.call("GET", "/v1/me")).status == 401
    assert (await triage.get("/v1/queue", headers=bearer(token))).status == 401
    assert "access_revoked" in await actions(database_url, ws.id)


async def test_an_admin_resets_a_lost_phone_and_the_users_sessions_end(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    _, admin_token = await person(database_url, ws.id, "admin")
    email, _ = await person(database_url, ws.id)
    app, _ = await enrol(await sign_in(triage, email))
    session = await sign_in(triage, email, app)
    users = await (await triage.get("/v1/users", headers=bearer(admin_token))).json()
    user = next(u for u in users["items"] if u["email"] == email)
    assert user["two_factor"] is True
    reset = await triage.post(
        f"/v1/users/{user['id']}/two-factor/reset", headers=bearer(admin_token)
    )
    assert reset.status == 200 and (await reset.json())["was_enabled"] is True
    assert (await session.call("GET", "/v1/me")).status == 401
    assert (await (await password_step(triage, email)).json())["two_factor_required"] is False
    assert "two_factor_reset" in await actions(database_url, ws.id)


async def test_a_password_change_needs_the_current_one_and_ends_other_sessions(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    here = await sign_in(triage, email)
    there = await sign_in(triage, email)
    short = await here.call(
        "POST", "/v1/me/password", json={"current_password": PASSWORD, "new_password": "short"}
    )
    assert short.status == 422 and (await short.json())["errors"][0]["pointer"] == "/new_password"
    wrong = await here.call(
        "POST",
        "/v1/me/password",
        json={"current_password": "guess", "new_password": "a much longer passphrase"},
    )
    assert wrong.status == 422 and (await wrong.json())["title"] == "Wrong password"
    assert (await there.call("GET", "/v1/me")).status == 200
    changed = await here.call(
        "POST",
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a much longer passphrase"},
    )
    assert changed.status == 200 and (await changed.json())["sessions_revoked"] == 1
    assert (await there.call("GET", "/v1/me")).status == 401
    assert (await here.call("GET", "/v1/me")).status == 200
    assert (await try_password(triage, email)).status == 401
    await password_step(triage, email, "a much longer passphrase")
    assert "password_changed" in await actions(database_url, ws.id)


async def test_the_longest_passwords_in_any_script_can_be_changed(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    email, token = await person(database_url, ws.id)
    longest = "密" * 1024  # the longest allowed, 3 bytes each: 6 KiB for the two
    changed = await triage.post(
        "/v1/me/password",
        headers=bearer(token),
        json={"current_password": PASSWORD, "new_password": longest},
    )
    assert changed.status == 200, await changed.text()
    await password_step(triage, email, longest)
    back = await triage.post(
        "/v1/me/password",
        headers=bearer(token),
        json={"current_password": longest, "new_password": PASSWORD},
    )
    assert back.status == 200, await back.text()
    huge = await triage.post(
        "/v1/me/password",
        headers=bearer(token),
        json={"current_password": PASSWORD, "new_password": "x" * 20_000},
    )
    assert huge.status == 413 and "limit" in (await huge.json())["detail"]


async def test_sessions_end_after_inactivity_and_absolutely(triage: Any, database_url: str) -> None:
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    idle = await sign_in(triage, email)
    old = await sign_in(triage, email)
    fresh = await sign_in(triage, email)
    ids = {}
    for name, session in (("idle", idle), ("old", old)):
        listed = await (await session.call("GET", "/v1/sessions")).json()
        ids[name] = next(s["id"] for s in listed["sessions"] if s["current"])
    # The defaults: two hours unused, twelve hours at most.
    await sql(
        database_url,
        "UPDATE triage.sessions SET last_seen_at = now() - interval '121 minutes' WHERE id = :id",
        id=ids["idle"],
    )
    await sql(
        database_url,
        "UPDATE triage.sessions SET expires_at = now() - interval '1 second' WHERE id = :id",
        id=ids["old"],
    )
    assert (await idle.call("GET", "/v1/me")).status == 401
    assert (await old.call("GET", "/v1/me")).status == 401
    assert (await fresh.call("GET", "/v1/me")).status == 200
    signed = await try_password(triage, email)
    cookie = signed.headers["Set-Cookie"]
    assert f"Max-Age={12 * 3600}" in cookie


async def test_a_session_is_marked_used_once_a_minute_not_on_every_request(
    triage: Any, database_url: str
) -> None:
    """The desk's requests read the session; only one whose "last used" mark is over a
    minute old writes it again (an idle session ends at most that minute early)."""
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    me = await sign_in(triage, email)

    async def mark_ago(seconds: int) -> None:
        await sql(
            database_url,
            "UPDATE triage.sessions SET last_seen_at = now() - make_interval(secs => :s) "
            "WHERE workspace_id = :ws",
            s=seconds,
            ws=ws.id,
        )

    async def seconds_since_mark() -> float:
        rows = await sql(
            database_url,
            "SELECT extract(epoch FROM now() - last_seen_at) AS age FROM triage.sessions "
            "WHERE workspace_id = :ws",
            ws=ws.id,
        )
        return float(rows[0].age)

    await mark_ago(30)
    assert (await me.call("GET", "/v1/queue")).status == 200
    assert await seconds_since_mark() >= 30, "a fresh mark was written again"
    await mark_ago(90)
    assert (await me.call("GET", "/v1/queue")).status == 200
    assert await seconds_since_mark() < 30, "a minute-old mark was not renewed"


async def test_without_a_key_enrolment_and_policies_are_refused_clearly(
    aiohttp_client: Any, database_url: str
) -> None:
    client = await aiohttp_client(
        create_triage(triage_settings(database_url, run_consumer=False, two_factor_key=None))
    )
    ws = await make_workspace(database_url)
    email, admin_token = await person(database_url, ws.id, "admin")
    me = await sign_in(client, email)
    answer = await me.call("POST", "/v1/me/two-factor/enrol")
    assert answer.status == 503 and "TRIAGE_TWO_FACTOR_KEY" in (await answer.json())["detail"]
    policy = await client.put(
        "/v1/workspace/two-factor", headers=bearer(admin_token), json={"policy": "everyone"}
    )
    assert policy.status == 503


async def test_an_open_event_stream_ends_when_its_session_is_revoked(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    watcher = await sign_in(triage, email)
    other = await sign_in(triage, email)
    listed = await (await other.call("GET", "/v1/sessions")).json()
    watcher_id = next(s["id"] for s in listed["sessions"] if not s["current"])
    stream = await triage.get("/v1/stream", headers={"Cookie": f"ecoute_session={watcher.cookie}"})
    assert stream.status == 200
    await stream.content.readline()  # the stream is open
    assert (await other.call("DELETE", f"/v1/sessions/{watcher_id}")).status == 200

    async def until_closed() -> None:
        while await stream.content.readline():
            pass

    await asyncio.wait_for(until_closed(), timeout=30)  # re-checked every 5 s
    again = await triage.get("/v1/stream", headers={"Cookie": f"ecoute_session={watcher.cookie}"})
    assert again.status == 401


async def test_an_enrolled_user_on_a_server_without_the_key_is_told_why(
    aiohttp_client: Any, triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    email, _ = await person(database_url, ws.id)
    await enrol(await sign_in(triage, email))
    keyless = await aiohttp_client(
        create_triage(triage_settings(database_url, run_consumer=False, two_factor_key=None))
    )
    answer = await try_password(keyless, email)
    assert answer.status == 503 and "TRIAGE_TWO_FACTOR_KEY" in (await answer.json())["detail"]
