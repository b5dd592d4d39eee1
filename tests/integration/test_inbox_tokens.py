"""Inbox tokens have a scope: a producer's ingest token sends messages, a workspace admin's
channels token connects platform accounts, and neither does the other's work."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import pytest

from services.inbox.app import create_app as create_inbox
from tests.support.world import (
    bearer,
    credentials_json,
    inbox_holding,
    inbox_settings,
    make_workspace,
    message,
)
from tools.embedded_pg import ROOT

CHANNEL = {"account_id": "1500", "base_url": "https://api.x.com", "credentials_ref": "brand-x"}


async def test_the_cli_mints_each_scope_and_each_does_only_its_own_work(
    aiohttp_client: Any, database_url: str
) -> None:
    ws = await make_workspace(database_url)

    async def mint(*args: str) -> str:
        """``python -m services.inbox …``, as an operator runs it; prints the token."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.inbox",
            *args,
            "--workspace",
            str(ws.id),
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": database_url},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, err.decode()
        return out.decode().strip()

    channels = await mint("create-token", "--scope", "channels")
    ingest = await mint("create-token")  # the default scope: a producer's
    legacy = await mint("create-ingest-token")  # the old command: still an ingest token
    assert channels.startswith("ecc_") and ingest.startswith("eci_") and legacy.startswith("eci_")

    settings = inbox_settings(
        database_url,
        run_workers=False,
        channel_credentials=credentials_json(ws.id, {"brand-x": {"bearer_token": "t"}}),
    )
    inbox = await aiohttp_client(create_inbox(settings))
    for producer in (ingest, legacy):
        put = await inbox.put("/v1/channels/x/care", headers=bearer(producer), json=CHANNEL)
        assert put.status == 403, await put.text()
        assert "channels" in (await put.json())["detail"]
        assert (await inbox.get("/v1/channels", headers=bearer(producer))).status == 403
        sent = await inbox.post(
            "/v1/ingest", headers=bearer(producer), json={"messages": [message(producer[-8:])]}
        )
        assert sent.status == 200
    put = await inbox.put("/v1/channels/x/care", headers=bearer(channels), json=CHANNEL)
    assert put.status == 200, await put.text()
    listed = await inbox.get("/v1/channels", headers=bearer(channels))
    assert [c["key"] for c in (await listed.json())["items"]] == ["care", "support-en"]
    sent = await inbox.post(
        "/v1/ingest", headers=bearer(channels), json={"messages": [message("by-admin")]}
    )
    assert sent.status == 403


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"base_url": "https://attacker.example"}, "/base_url"),
        ({"base_url": "http://api.x.com"}, "/base_url"),
        ({"base_url": "http://127.0.0.1:9"}, "/base_url"),  # loopback: development only
        ({"credentials_ref": "someone-elses"}, "/credentials_ref"),
    ],
)
async def test_a_refused_channel_is_a_422_naming_the_field(
    aiohttp_client: Any, database_url: str, change: dict[str, str], pointer: str
) -> None:
    ws, inbox = await inbox_holding(
        aiohttp_client,
        database_url,
        {"brand-x": {"bearer_token": "t"}},
        allow_local_platforms=False,
    )
    answer = await inbox.put(
        "/v1/channels/x/care", headers=bearer(ws.channels_token), json={**CHANNEL, **change}
    )
    assert answer.status == 422, await answer.text()
    problem = await answer.json()
    assert answer.content_type == "application/problem+json"
    assert [e["pointer"] for e in problem["errors"]] == [pointer]
    listed = await inbox.get("/v1/channels", headers=bearer(ws.channels_token))
    assert (await listed.json())["items"] == []


async def test_credentials_in_the_old_flat_shape_stop_the_start(database_url: str) -> None:
    """``{"ref": {...}}`` named no workspace: every workspace could use it. Refused loudly
    at start rather than silently shared."""
    flat = json.dumps({"brand-x": {"bearer_token": "t"}})
    settings = inbox_settings(database_url, channel_credentials=flat)
    with pytest.raises(ValueError, match="workspace id"):
        create_inbox(settings)
