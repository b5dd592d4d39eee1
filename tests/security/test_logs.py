"""No password, token, secret, credential or message text reaches the logs, even at DEBUG.

Both services run with every logger at DEBUG and their workers on, through the flows that
handle secrets: sign-in and sign-out, two-factor enrolment and the two-step sign-in,
invitations and their one-time links (in ``populate``), API tokens, ingest, the triage consumer,
replies and
their delivery to a platform that fails and echoes what it was sent, notes, saved replies,
breach webhook secrets, signed and forged platform webhooks, channel credentials. Every
record is formatted with the services' own JSON formatter (extras and traceback included)
and searched for each secret.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from services.inbox.app import create_app as create_inbox
from services.infra.logs import JsonFormatter
from services.triage.app import create_app as create_triage
from tests.security.conftest import META_SECRET, META_VERIFY, X_SECRET
from tests.security.world import PASSWORD, populate, write_credentials
from tests.support.world import bearer, connect_channel, inbox_settings, message, triage_settings

PLATFORM_TOKEN = "platform-bearer-token-that-must-stay-secret"
CUSTOMER_TEXT = "my card number is 4970 1234 5678 9012, please help"


async def test_no_secret_or_message_text_in_any_log_record(
    aiohttp_client: Any,
    aiohttp_server: Any,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    for noisy in ("asyncpg", "aiohttp"):
        caplog.set_level(logging.DEBUG, logger=noisy)
    # SQL statements and their parameters, as echo=True would log them (result rows, at
    # DEBUG, are kept off by logs.configure: see the test below).
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    seen_by_platform: list[str] = []

    async def hostile_platform(request: web.Request) -> web.Response:
        """Fails every call, quoting back the credentials and the body (as some APIs do)."""
        echoed = f"{request.headers.get('Authorization')} {await request.text()}"
        seen_by_platform.append(echoed)
        return web.json_response({"title": "Bad request", "detail": echoed}, status=400)

    platform = web.Application()
    platform.router.add_route("*", "/{tail:.*}", hostile_platform)
    platform_server = await aiohttp_server(platform)
    base_url = str(platform_server.make_url("")).rstrip("/")

    inbox = await aiohttp_client(
        create_inbox(
            inbox_settings(
                database_url,
                x_consumer_secret=X_SECRET,
                meta_app_secret=META_SECRET,
                meta_verify_token=META_VERIFY,
                channel_credentials_dir=str(tmp_path),
                gauges_refresh_seconds=0.5,
            )
        )
    )
    triage = await aiohttp_client(create_triage(triage_settings(database_url)))
    # The channel the customer writes on, polled and answered through the hostile platform.
    ws = await populate(database_url, inbox, triage, "Logs", tmp_path)
    write_credentials(tmp_path, ws.id, "xcred", {"bearer_token": PLATFORM_TOKEN})
    await connect_channel(
        inbox,
        ws.channels,
        "x",
        "support-en",
        account_id="777",
        base_url=base_url,
        credentials_ref="xcred",
        poll_seconds=5,
    )
    stored = await inbox.post(
        "/v1/ingest",
        headers=bearer(ws.ingest),
        json={"messages": [message("secret-1", CUSTOMER_TEXT, minutes=-1)]},
    )
    cid = (await stored.json())["items"][0]["conversation_id"]

    signed_in = await triage.post(
        "/v1/auth/login", json={"email": ws.emails["agent"], "password": PASSWORD}
    )
    csrf = (await signed_in.json())["csrf_token"]
    session = signed_in.cookies["ecoute_session"].value
    cookie = {"Cookie": f"ecoute_session={session}", "X-CSRF-Token": csrf}
    wrong = await triage.post(
        "/v1/auth/login", json={"email": ws.emails["agent"], "password": PASSWORD + "x"}
    )
    assert wrong.status == 401
    new_token = (
        await (await triage.post("/v1/tokens", headers=cookie, json={"name": "ci"})).json()
    )["token"]
    reply_text = "We are sorry: your refund reference is RF-99812, it is on its way"
    for _ in range(100):
        if (
            await triage.post(f"/v1/conversations/{cid}/claim", headers=bearer(new_token))
        ).status == 200:
            break
        await asyncio.sleep(0.1)  # the triage consumer has not seen it yet
    replied = await triage.post(
        f"/v1/conversations/{cid}/replies", headers=bearer(new_token), json={"text": reply_text}
    )
    assert replied.status == 202, await replied.text()
    note_text = "customer is a journalist, handle with care"
    assert (
        await triage.post(
            f"/v1/conversations/{cid}/notes", headers=cookie, json={"text": note_text}
        )
    ).status == 201
    hook_secret = (
        await (
            await triage.put(
                "/v1/webhooks", headers=bearer(ws.admin), json={"url": base_url + "/hook"}
            )
        ).json()
    )["secret"]

    x_body = orjson.dumps(
        {"for_user_id": "777", "tweet_create_events": [{"id_str": "9", "text": CUSTOMER_TEXT}]}
    )
    x_sig = (
        "sha256="
        + base64.b64encode(hmac.new(X_SECRET.encode(), x_body, hashlib.sha256).digest()).decode()
    )
    assert (
        await inbox.post(
            "/webhooks/x", data=x_body, headers={"x-twitter-webhooks-signature": x_sig}
        )
    ).status == 200
    forged = await inbox.post(
        "/webhooks/meta", data=x_body, headers={"X-Hub-Signature-256": "sha256=" + "0" * 64}
    )
    assert forged.status == 401
    handshake = await inbox.get(
        "/webhooks/meta",
        params={"hub.mode": "subscribe", "hub.verify_token": META_VERIFY, "hub.challenge": "c"},
    )
    assert handshake.status == 200
    assert (await inbox.get("/webhooks/x", params={"crc_token": "crc"})).status == 200
    assert (await triage.get("/v1/queue", headers=bearer("eca_" + PLATFORM_TOKEN))).status == 401

    for _ in range(150):  # the delivery worker and the poller reach the platform
        if any(reply_text in s for s in seen_by_platform) and any(
            "Bearer" in s for s in seen_by_platform
        ):
            break
        await asyncio.sleep(0.1)
    assert any(reply_text in s for s in seen_by_platform), "the reply was never sent"
    assert (await triage.post("/v1/auth/logout", headers=cookie)).status == 200

    secrets = {
        "password": PASSWORD,
        "session": session,
        "csrf": csrf,
        "api token": new_token,
        "agent token": ws.agent,
        "lead token": ws.lead,
        # populate's two-factor flows: enrolment, confirmation, the two-step sign-in.
        "pending sign-in token": ws.spent_pending_token,
        "recovery code": ws.recovery_code,
        "two-factor key": ws.two_factor_key,
        "spare user's token": ws.spare_token,
        # populate's team flows: an invitation made (mailed nowhere) and one accepted.
        "used invitation link": ws.spent_link_token,
        "ingest token": ws.ingest,
        "channels token": ws.channels,
        "X consumer secret": X_SECRET,
        "Meta app secret": META_SECRET,
        "Meta verify token": META_VERIFY,
        "breach webhook secret": hook_secret,
        "channel credential": PLATFORM_TOKEN,
        "message text": CUSTOMER_TEXT,
        "message text (card)": "4970 1234",
        "reply text": reply_text,
        "reply reference": "RF-99812",
        "note text": note_text,
    }
    formatter = JsonFormatter("test")
    # The test server's access log is the harness's: the services run without one (below).
    lines = [formatter.format(r) for r in caplog.records if r.name != "aiohttp.access"]
    loggers = {r.name for r in caplog.records}
    expected = {
        "ecoute.inbox.ingest",
        "ecoute.inbox.webhooks.x",
        "ecoute.inbox.webhooks.meta",
        "sqlalchemy.engine.Engine",
    }
    assert expected <= loggers, f"capture missed some flows: {sorted(loggers)}"
    assert len(lines) >= 100
    leaks = {
        name: [line[:300] for line in lines if value in line]
        for name, value in secrets.items()
        if any(value in line for line in lines)
    }
    assert leaks == {}, leaks

    # The platform quoted the credential back: the failure agents see does not repeat it.
    view = await (await triage.get(f"/v1/conversations/{cid}", headers=bearer(ws.lead))).json()
    failed = [r for r in view["replies"] if r["text"] == reply_text]
    assert failed and all(PLATFORM_TOKEN not in orjson.dumps(r).decode() for r in failed)


def test_library_loggers_stay_quiet_when_the_services_log_at_debug() -> None:
    """LOG_LEVEL=DEBUG must not turn on SQLAlchemy's row logging (rows hold message text)."""
    from services.infra.logs import configure

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    libraries = ("sqlalchemy", "asyncpg", "aiohttp.access")
    levels = {name: logging.getLogger(name).level for name in libraries}
    try:
        configure("test", "DEBUG")
        for library in ("sqlalchemy.engine.Engine", "asyncpg", "aiohttp.access"):
            assert not logging.getLogger(library).isEnabledFor(logging.INFO), library
        assert logging.getLogger("ecoute.inbox").isEnabledFor(logging.DEBUG)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
