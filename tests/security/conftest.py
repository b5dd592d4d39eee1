"""Both services in-process on one real database, and two populated workspaces."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fakes.whatsapp import WhatsAppState
from fakes.whatsapp import create_app as create_whatsapp
from services.inbox.app import create_app as create_inbox
from services.infra.openapi import Operation
from services.triage.app import create_app as create_triage
from tests.security import catalog
from tests.security.world import Populated, populate
from tests.support.world import inbox_settings, triage_settings

FUZZ_SCALE = int(os.environ.get("ECOUTE_FUZZ_SCALE", "1"))
"""How many times deeper than the suite's bounded run the fuzzing tests search."""
X_SECRET = "x-consumer-secret-for-tests"
META_SECRET = "meta-app-secret-for-tests"
META_VERIFY = "meta-verify-token-for-tests"
WHATSAPP_SECRET = "whatsapp-app-secret-for-tests"
WHATSAPP_VERIFY = "whatsapp-verify-token-for-tests"
THREADS_SECRET = "threads-app-secret-for-tests"
THREADS_VERIFY = "threads-verify-token-for-tests"


@dataclass
class Worlds:
    inbox: Any
    triage: Any
    a: Populated
    """The workspace under attack."""
    b: Populated
    """The workspace the attacker belongs to."""

    def client(self, service: str) -> Any:
        return self.inbox if service == "inbox" else self.triage


@pytest.fixture
async def worlds(
    aiohttp_client: Any, aiohttp_server: Any, database_url: str, tmp_path: Path
) -> Worlds:
    # Generous failure budget: the matrices send wrong tokens on purpose, from one address.
    inbox = await aiohttp_client(
        create_inbox(
            inbox_settings(
                database_url,
                run_workers=False,
                auth_max_failures=10_000,
                x_consumer_secret=X_SECRET,
                meta_app_secret=META_SECRET,
                meta_verify_token=META_VERIFY,
                whatsapp_app_secret=WHATSAPP_SECRET,
                whatsapp_verify_token=WHATSAPP_VERIFY,
                threads_app_secret=THREADS_SECRET,
                threads_verify_token=THREADS_VERIFY,
                channel_credentials_dir=str(tmp_path),
            )
        )
    )
    triage = await aiohttp_client(
        create_triage(triage_settings(database_url, run_consumer=False, auth_max_failures=10_000))
    )
    whatsapp = WhatsAppState()
    fake = await aiohttp_server(create_whatsapp(whatsapp))
    url = str(fake.make_url("")).rstrip("/")
    a = await populate(database_url, inbox, triage, "Alpha", tmp_path, whatsapp, url)
    b = await populate(database_url, inbox, triage, "Bravo", tmp_path, whatsapp, url)
    return Worlds(inbox, triage, a, b)


async def call(
    client: Any, op: Operation, target: Populated, headers: dict[str, str]
) -> tuple[int, str]:
    """Send the operation at ``target``'s objects; an event stream is read for a moment."""
    payload = catalog.body(op, target)
    response = await client.request(
        op.method,
        catalog.url(op, target),
        headers=headers,
        **({"json": payload} if payload is not None else {}),
    )
    try:
        if op.success_media == "text/event-stream" and response.status == 200:
            try:
                chunk = await asyncio.wait_for(response.content.read(4096), timeout=0.5)
            except TimeoutError:
                chunk = b""
            return response.status, chunk.decode(errors="replace")
        return response.status, await response.text()
    finally:
        response.close()
