"""A team that runs itself, end to end against a real Postgres (and a real SMTP server on
127.0.0.1): the first admin from the command line, invitations mailed or shown, a link that
works once, roles, deactivation, password links, new workspaces, and the audit log."""

from __future__ import annotations

import asyncio
import email
import os
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from services.infra.auth import token_digest
from services.triage.app import create_app as create_triage
from tests.support.sessions import (
    PASSWORD,
    actions,
    enrol,
    password_step,
    person,
    session_of,
    sign_in,
    try_code,
    try_password,
)
from tests.support.waiting import wait_until
from tests.support.world import bearer, make_workspace, sql, triage_settings
from tools.embedded_pg import ROOT
from tools.service_process import free_port

NEW_PASSWORD = "a brand new passphrase 7"
REFUSED = "This link is unknown, expired or already used: ask an admin for a new one."


class Mailbox:
    """What a local SMTP server received (aiosmtpd, in a thread of its own)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    async def one(self) -> Message:
        async def arrived() -> bool:
            return bool(self.messages)

        await wait_until(arrived, what="a mail")
        return self.messages.pop(0)


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
async def triage(aiohttp_client: Any, database_url: str) -> Any:
    """Triage without SMTP: links are only shown."""
    return await aiohttp_client(create_triage(triage_settings(database_url, run_consumer=False)))


async def admin_of(database_url: str, workspace_id: uuid.UUID) -> tuple[str, str]:
    return await person(database_url, workspace_id, "admin")


async def user_id_of(triage: Any, admin: str, email_address: str) -> str:
    users = (await (await triage.get("/v1/users", headers=bearer(admin))).json())["items"]
    return str(next(u["id"] for u in users if u["email"] == email_address))


def token_of(link: str) -> str:
    return link.split("=", 1)[1]


async def accept(client: Any, link: str, password: str | None = NEW_PASSWORD) -> Any:
    body: dict[str, Any] = {"token": token_of(link)}
    if password is not None:
        body["password"] = password
    answer = await client.post("/v1/auth/link/accept", json=body)
    await answer.read()
    client.session.cookie_jar.clear()
    return answer


async def test_an_invitation_is_mailed_and_its_link_lets_the_invitee_in_once(
    aiohttp_client: Any, database_url: str, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    settings = triage_settings(
        database_url,
        run_consumer=False,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        smtp_from="desk@acme.test",
        public_url="https://care.acme.test",
    )
    triage = await aiohttp_client(create_triage(settings))
    ws = await make_workspace(database_url, "Acme care")
    _, admin = await admin_of(database_url, ws.id)

    made = await triage.post(
        "/v1/invitations",
        headers=bearer(admin),
        json={"email": "Zoe@Acme.test", "role": "lead", "display_name": "Zoé"},
    )
    assert made.status == 201, await made.text()
    invitation = await made.json()
    assert invitation["mailed"] is True and invitation["mail_error"] is None
    assert invitation["link"].startswith("https://care.acme.test/#invitation=ecl_")
    mail = await box.one()
    assert mail["To"] == "Zoe@Acme.test" and mail["From"] == "desk@acme.test"
    assert "Acme care" in mail["Subject"]
    assert invitation["link"] in mail.get_payload(decode=True).decode()

    # Kept by its digest only; the list shows it, never its token.
    stored = await sql(database_url, "SELECT digest FROM triage.account_links")
    assert [bytes(r.digest) for r in stored] == [token_digest(token_of(invitation["link"]))]
    waiting = await (await triage.get("/v1/invitations", headers=bearer(admin))).json()
    assert [(i["email"], i["role"]) for i in waiting["items"]] == [("Zoe@Acme.test", "lead")]
    assert token_of(invitation["link"]) not in str(waiting)

    seen = await triage.post("/v1/auth/link", json={"token": token_of(invitation["link"])})
    assert await seen.json() == {
        "kind": "invitation",
        "email": "Zoe@Acme.test",
        "role": "lead",
        "workspace_name": "Acme care",
        "expires_at": invitation["expires_at"],
        "needs_password": True,
    }
    no_password = await accept(triage, invitation["link"], None)
    assert no_password.status == 422  # and the link is not used up by it
    short = await accept(triage, invitation["link"], "short")
    assert short.status == 422
    joined = await accept(triage, invitation["link"])
    assert joined.status == 200, await joined.text()
    body = await joined.json()
    assert body["user"]["role"] == "lead" and body["user"]["email"] == "Zoe@Acme.test"
    assert "ecoute_session" in joined.cookies

    again = await accept(triage, invitation["link"])
    assert again.status == 404 and (await again.json())["detail"] == REFUSED
    assert (await password_step(triage, "zoe@acme.test", NEW_PASSWORD)).status == 200
    assert (await (await triage.get("/v1/invitations", headers=bearer(admin))).json()) == {
        "items": []
    }
    twice = await triage.post(
        "/v1/invitations", headers=bearer(admin), json={"email": "zoe@acme.test", "role": "agent"}
    )
    assert twice.status == 409
    assert {"invitation_created", "invitation_accepted", "signed_in"} <= set(
        await actions(database_url, ws.id)
    )


async def test_without_smtp_the_link_is_shown_and_a_new_invitation_replaces_the_old(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    _, admin = await admin_of(database_url, ws.id)
    first, second = [
        await (
            await triage.post(
                "/v1/invitations",
                headers=bearer(admin),
                json={"email": "sam@acme.test", "role": "agent"},
            )
        ).json()
        for _ in range(2)
    ]
    assert first["mailed"] is False and "TRIAGE_SMTP_HOST" in first["mail_error"]
    assert first["link"].startswith(str(triage.make_url("/")) + "#invitation=")
    assert (await accept(triage, first["link"])).status == 404  # replaced
    revoked = await triage.delete(f"/v1/invitations/{second['id']}", headers=bearer(admin))
    assert revoked.status == 200
    assert (await accept(triage, second["link"])).status == 404
    assert (
        await triage.delete(f"/v1/invitations/{second['id']}", headers=bearer(admin))
    ).status == 404
    assert "invitation_revoked" in await actions(database_url, ws.id)


async def test_an_expired_link_or_two_uses_at_once_let_in_no_one_twice(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    _, admin = await admin_of(database_url, ws.id)
    made = [
        await (
            await triage.post(
                "/v1/invitations", headers=bearer(admin), json={"email": who, "role": "agent"}
            )
        ).json()
        for who in ("late@acme.test", "race@acme.test")
    ]
    await sql(
        database_url,
        "UPDATE triage.account_links SET expires_at = now() - interval '1 second' WHERE id = :id",
        id=uuid.UUID(made[0]["id"]),
    )
    assert (
        await triage.post("/v1/auth/link", json={"token": token_of(made[0]["link"])})
    ).status == 404
    assert (await accept(triage, made[0]["link"])).status == 404
    answers = await asyncio.gather(*[accept(triage, made[1]["link"]) for _ in range(5)])
    assert sorted(a.status for a in answers) == [200, 404, 404, 404, 404]
    users = await sql(
        database_url, "SELECT count(*) AS n FROM triage.users WHERE email = 'race@acme.test'"
    )
    assert users[0].n == 1


async def test_where_the_policy_asks_the_invitee_enrols_before_anything_else(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    admin_email, admin = await admin_of(database_url, ws.id)
    admin_session = await sign_in(triage, admin_email)
    await enrol(admin_session)
    policy = await triage.put(
        "/v1/workspace/two-factor", headers=bearer(admin), json={"policy": "everyone"}
    )
    assert policy.status == 200
    made = await (
        await triage.post(
            "/v1/invitations",
            headers=bearer(admin),
            json={"email": "eve@acme.test", "role": "agent"},
        )
    ).json()
    joined = await accept(triage, made["link"])
    body = await joined.json()
    assert body["enrolment_required"] is True
    eve = session_of(triage, joined, body)
    assert (await eve.call("GET", "/v1/queue")).status == 403
    await enrol(eve)
    assert (await eve.call("GET", "/v1/queue")).status == 200


async def test_roles_change_at_once_and_the_last_admin_stays(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    _, admin = await admin_of(database_url, ws.id)
    _, lead = await person(database_url, ws.id, "lead")
    users = (await (await triage.get("/v1/users", headers=bearer(admin))).json())["items"]
    ids = {u["role"]: u["id"] for u in users}
    assert (await triage.get("/v1/sla/policies", headers=bearer(lead))).status == 200  # cached

    demoted = await triage.put(
        f"/v1/users/{ids['lead']}/role", headers=bearer(admin), json={"role": "agent"}
    )
    assert await demoted.json() == {"id": ids["lead"], "role": "agent", "previous_role": "lead"}
    policy = await (await triage.get("/v1/sla/policies", headers=bearer(lead))).json()
    assert (await triage.put("/v1/sla/policies", headers=bearer(lead), json=policy)).status == 403

    alone = await triage.put(
        f"/v1/users/{ids['admin']}/role", headers=bearer(admin), json={"role": "lead"}
    )
    assert alone.status == 409 and (await alone.json())["title"] == "Last admin"
    me = await triage.post(f"/v1/users/{ids['admin']}/deactivate", headers=bearer(admin))
    assert me.status == 409 and (await me.json())["title"] == "Your own account"
    other = await triage.put(
        f"/v1/users/{uuid.uuid4()}/role", headers=bearer(admin), json={"role": "lead"}
    )
    assert other.status == 404
    assert "role_changed" in await actions(database_url, ws.id)


async def test_deactivation_ends_every_way_in_at_once_and_reactivation_sends_a_link(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    _, admin = await admin_of(database_url, ws.id)
    leaver_email, leaver_token = await person(database_url, ws.id)
    session = await sign_in(triage, leaver_email)
    assert (await triage.get("/v1/queue", headers=bearer(leaver_token))).status == 200  # cached
    leaver = await user_id_of(triage, admin, leaver_email)
    reset = await (
        await triage.post(f"/v1/users/{leaver}/password-link", headers=bearer(admin), json={})
    ).json()

    gone = await triage.post(f"/v1/users/{leaver}/deactivate", headers=bearer(admin))
    assert await gone.json() == {
        "id": leaver,
        "active": False,
        "sessions_revoked": 1,
        "tokens_revoked": 1,
    }
    assert (await session.call("GET", "/v1/queue")).status == 401
    assert (await triage.get("/v1/queue", headers=bearer(leaver_token))).status == 401
    assert (await try_password(triage, leaver_email)).status == 401
    assert (await accept(triage, reset["link"])).status == 404  # unused links end too
    listed = (await (await triage.get("/v1/users", headers=bearer(admin))).json())["items"]
    assert next(u for u in listed if u["id"] == leaver)["active"] is False
    again = await triage.post(f"/v1/users/{leaver}/password-link", headers=bearer(admin), json={})
    assert again.status == 409

    back = await triage.post(f"/v1/users/{leaver}/reactivate", headers=bearer(admin))
    assert back.status == 200
    link = (await back.json())["link"]
    assert "#set-password=" in link
    assert (
        await triage.post(f"/v1/users/{leaver}/reactivate", headers=bearer(admin))
    ).status == 409
    assert (await accept(triage, link)).status == 200
    assert (await password_step(triage, leaver_email, NEW_PASSWORD)).status == 200
    assert {"user_deactivated", "user_reactivated", "password_set_by_link"} <= set(
        await actions(database_url, ws.id)
    )


async def test_a_password_link_for_a_forgotten_or_a_forced_reset(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    _, admin = await admin_of(database_url, ws.id)
    email_address, _ = await person(database_url, ws.id)
    user = await user_id_of(triage, admin, email_address)
    first = await sign_in(triage, email_address)

    forgotten = await (
        await triage.post(f"/v1/users/{user}/password-link", headers=bearer(admin), json={})
    ).json()
    assert forgotten["sessions_revoked"] == 0 and forgotten["kind"] == "set_password"
    assert (await password_step(triage, email_address)).status == 200  # still works meanwhile
    assert (await accept(triage, forgotten["link"])).status == 200
    assert (await first.call("GET", "/v1/queue")).status == 401  # the new password ends it
    assert (await try_password(triage, email_address)).status == 401

    fresh = await password_step(triage, email_address, NEW_PASSWORD)
    second = session_of(triage, fresh, await fresh.json())
    forced = await (
        await triage.post(
            f"/v1/users/{user}/password-link", headers=bearer(admin), json={"force": True}
        )
    ).json()
    assert forced["sessions_revoked"] == 2  # the one the link opened, and this one
    assert (await second.call("GET", "/v1/queue")).status == 401
    assert (await try_password(triage, email_address, NEW_PASSWORD)).status == 401
    assert (await accept(triage, forced["link"], PASSWORD)).status == 200
    audit = await sql(
        database_url,
        "SELECT detail FROM triage.audit_log WHERE workspace_id = :ws "
        "AND action = 'password_reset_issued' ORDER BY id",
        ws=ws.id,
    )
    assert [r.detail["forced"] for r in audit] == [False, True]


async def test_a_link_with_two_factor_on_still_asks_for_the_code(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    _, admin = await admin_of(database_url, ws.id)
    email_address, _ = await person(database_url, ws.id)
    app, _ = await enrol(await sign_in(triage, email_address))
    user = await user_id_of(triage, admin, email_address)
    link = (
        await (
            await triage.post(f"/v1/users/{user}/password-link", headers=bearer(admin), json={})
        ).json()
    )["link"]
    answer = await accept(triage, link)
    body = await answer.json()
    assert body["two_factor_required"] is True and "ecoute_session" not in answer.cookies
    second = await try_code(triage, body["pending_token"], await app.code())
    assert second.status == 200


async def test_an_admin_creates_a_workspace_whose_admin_sets_a_password(
    triage: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)
    _, admin = await admin_of(database_url, ws.id)
    made = await triage.post(
        "/v1/workspaces",
        headers=bearer(admin),
        json={"name": "Skylark care", "admin_email": "ops@skylark.test", "admin_name": "Ops"},
    )
    assert made.status == 201, await made.text()
    body = await made.json()
    joined = await accept(triage, body["link"])
    signed_in = await joined.json()
    assert signed_in["user"]["workspace_id"] == body["workspace_id"]
    assert signed_in["user"]["role"] == "admin"
    assert "workspace_created" in await actions(database_url, ws.id)
    assert "admin_created" in await actions(database_url, uuid.UUID(body["workspace_id"]))


async def cli(*args: str, stdin: bytes = b"", database_url: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.triage",
        *args,
        env={**os.environ, "DATABASE_URL": database_url, "TRIAGE_PORT": "8181"},
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin)
    return process.returncode or 0, out.decode(), err.decode()


async def test_create_admin_and_sign_in_links_from_the_command_line(
    triage: Any, database_url: str
) -> None:
    import orjson

    code, out, err = await cli(
        "create-admin",
        "--workspace-name",
        "Night shift",
        "--email",
        "boss@night.test",
        database_url=database_url,
    )
    assert code == 0, err
    made = orjson.loads(out)
    assert made["link"].startswith("http://127.0.0.1:8181/#set-password=ecl_")
    assert (await accept(triage, made["link"])).status == 200

    code, out, err = await cli(
        "create-admin",
        "--workspace-name",
        "Night shift",
        "--workspace-id",
        made["workspace_id"],
        "--email",
        "deputy@night.test",
        "--password-stdin",
        stdin=(PASSWORD + "\n").encode(),
        database_url=database_url,
    )
    assert code == 0, err
    assert "link" not in orjson.loads(out)
    assert (await password_step(triage, "deputy@night.test")).status == 200

    code, out, err = await cli(
        "sign-in-link",
        "--workspace",
        made["workspace_id"],
        "--email",
        "boss@night.test",
        "--email",
        "deputy@night.test",
        "--url",
        "http://desk.test",
        database_url=database_url,
    )
    assert code == 0, err
    found = orjson.loads(out)["links"]
    assert [f["email"] for f in found] == ["boss@night.test", "deputy@night.test"]
    assert found[0]["link"].startswith("http://desk.test/#signin=ecl_")
    seen = await (
        await triage.post("/v1/auth/link", json={"token": token_of(found[0]["link"])})
    ).json()
    assert seen["needs_password"] is False and seen["role"] == "admin"
    signed = await accept(triage, found[0]["link"], None)
    assert signed.status == 200
    assert (await accept(triage, found[0]["link"], None)).status == 404
    sessions = await sql(database_url, "SELECT method FROM triage.sessions ORDER BY created_at")
    assert sessions[-1].method == "link"

    # Links a second run prints replace the first ones: they never pile up.
    await cli(
        "sign-in-link",
        "--workspace",
        made["workspace_id"],
        "--email",
        "deputy@night.test",
        database_url=database_url,
    )
    assert (await accept(triage, found[1]["link"], None)).status == 404
    live = await sql(
        database_url,
        "SELECT count(*) AS n FROM triage.account_links WHERE kind = 'sign_in' AND used_at IS NULL",
    )
    assert live[0].n == 1

    code, _, err = await cli(
        "sign-in-link",
        "--workspace",
        made["workspace_id"],
        "--email",
        "nobody@night.test",
        database_url=database_url,
    )
    assert code == 1 and "no active user" in err
    short = await cli(
        "create-admin",
        "--workspace-name",
        "X",
        "--email",
        "x@x.test",
        "--password-stdin",
        stdin=b"short\n",
        database_url=database_url,
    )
    assert short[0] == 1 and "at least 12" in short[2]


def test_link_lifetimes_are_what_the_readme_says() -> None:
    from services.triage.access.links import LIFETIMES

    expected = {
        "invitation": timedelta(days=7),
        "set_password": timedelta(hours=24),
        "sign_in": timedelta(hours=1),
    }
    assert expected == LIFETIMES
