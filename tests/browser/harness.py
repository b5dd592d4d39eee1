"""What the desk's browser tests stand on: the real services on real ports, a fake Mastodon the
real delivery loop posts to, agents with passwords, and the system Chromium (Debian's
``chromium`` package, installed by ``tools/system-deps.sh``; never a downloaded browser)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from fakes.mastodon import MastodonState, status_html
from services.infra.db import create_engine
from tests.support.world import (
    Workspace,
    ago,
    bearer,
    connect_channel,
    ingest,
    make_user,
    message,
)
from tools.embedded_pg import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
PASSWORD = "correct horse battery"
MASTODON_TOKEN = "mastodon-test-token"
WIDE = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    """The system Chromium, or a failure that says how to get it (never a skip)."""
    if CHROMIUM.exists():
        return str(CHROMIUM)
    found = shutil.which("chromium")
    if found:
        return found
    raise AssertionError(
        "Chromium is missing: the browser tests drive Debian's chromium package "
        "(run tools/system-deps.sh as root, or apt-get install chromium)"
    )


@dataclass
class World:
    base: str  # the triage service, as the browser reaches it
    inbox: Any  # aiohttp test client of the inbox
    triage: Any  # aiohttp test client of the same triage app
    fake: MastodonState
    fake_url: str
    workspace: Workspace
    database_url: str

    async def agent(self, email: str, role: str = "agent") -> str:
        """An agent who signs in with ``email`` and PASSWORD; returns their API token."""
        return await make_user(
            self.database_url, self.workspace.id, role, email=email, password=PASSWORD
        )

    async def rename(self, email: str, display_name: str) -> None:
        """The name an agent goes by (what colleagues see, e.g. as a conversation's holder)."""
        engine = create_engine(self.database_url, 1)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text("UPDATE triage.users SET display_name = :name WHERE email = :email"),
                    {"name": display_name, "email": email},
                )
        finally:
            await engine.dispose()

    async def sla_policy(self, lead_token: str, first_response_seconds: int) -> None:
        """The same targets for every priority, around the clock, so which SLA state a
        conversation is in depends on its age only (not on the model's priority)."""
        targets = {
            "first_response_seconds": first_response_seconds,
            "next_response_seconds": first_response_seconds,
            "resolution_seconds": 86400,
        }
        answer = await self.triage.put(
            "/v1/sla/policies",
            headers=bearer(lead_token),
            json={
                "calendar": {"always_open": True},
                "at_risk_ratio": 0.75,
                "targets": {p: targets for p in ("P1", "P2", "P3", "P4")},
            },
        )
        assert answer.status == 200, await answer.text()

    async def ingest(self, *items: dict[str, Any]) -> list[int]:
        """Customers write (through the ingest API); returns the conversation ids."""
        written = await ingest(self.inbox, self.workspace.ingest_token, *items)
        return [int(i["conversation_id"]) for i in written]

    async def connect_mastodon(self) -> None:
        await connect_channel(
            self.inbox,
            self.workspace.channels_token,
            "mastodon",
            "masto",
            account_id=self.fake.brand_id,
            base_url=self.fake_url,
            poll_seconds=5,
        )

    def mention(self, who: str, words: str, minutes_ago: float = 1) -> Any:
        return self.fake.add_mention(
            who, status_html(f"@acme {words}"), datetime.now(UTC) - timedelta(minutes=minutes_ago)
        )

    async def queue(self, token: str | None = None) -> list[dict[str, Any]]:
        answer = await self.triage.get(
            "/v1/queue?limit=100", headers=bearer(token or self.workspace.agent_token)
        )
        assert answer.status == 200, await answer.text()
        return list((await answer.json())["items"])

    async def queue_settles(self, expect: int, states: set[str] | None = None) -> list[Any]:
        """Wait until triage has queued ``expect`` conversations (with these SLA states)."""
        items: list[Any] = []
        for _ in range(200):
            items = await self.queue()
            seen = {i["sla"]["state"] for i in items}
            if len(items) == expect and (states is None or states <= seen):
                return items
            await asyncio.sleep(0.1)
        raise AssertionError(f"the queue never settled: {items}")

    async def scalar(self, sql: str, **params: Any) -> Any:
        engine = create_engine(self.database_url, 1)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(text(sql), params)).scalar_one()
        finally:
            await engine.dispose()


def customer(external_id: str, words: str, author: str, **age: float) -> dict[str, Any]:
    """One inbound X mention written ``age`` ago (SLA clocks start when the person wrote)."""
    return message(
        external_id, words, author=author, created_at=ago(**age) if age else ago(seconds=5)
    )


def unique() -> str:
    return uuid.uuid4().hex[:8]


# Run in the page: unlabelled controls, nameless buttons, text under WCAG AA contrast,
# sideways scrolling.
A11Y_AUDIT = (Path(__file__).parent / "a11y_audit.js").read_text()


async def audit(page: Any) -> None:
    problems = await page.evaluate(A11Y_AUDIT)
    assert problems == [], problems


async def shot(page: Any, name: str, whole: bool | None = None) -> Path:
    """A screenshot kept as a test artifact: the window when wide (the panes scroll by
    themselves), the whole page at phone width. ``whole=False`` keeps to the window: on an
    emulated touch screen, Chromium draws a whole-page shot without the touch media queries."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    phone = page.viewport_size["width"] < 900
    await page.screenshot(path=str(path), full_page=phone if whole is None else whole)
    return path
