"""A workspace with a Facebook Page connected to the fake Meta Graph API (or a Threads account
to the fake Threads API), the real inbox and triage (their background loops running), and
comments arriving as Meta's signed webhooks: what the moderation tests (integration and
browser) stand on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from fakes.meta import MetaState, deliver_webhook
from fakes.meta import create_app as create_fake_meta
from fakes.threads import ThreadsState
from fakes.threads import create_app as create_fake_threads
from services.triage.app import create_app as create_triage
from tests.support.waiting import wait_until
from tests.support.world import (
    Workspace,
    connect_channel,
    inbox_holding,
    make_user,
    sql,
    triage_settings,
)

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Comment:
    id: str  # the comment's id on the fake platform
    conversation_id: int
    abuse: bool  # triage's verdict


@dataclass
class Desk:
    """The services and the workspace a moderation test stands on, whatever the platform."""

    base: str  # the triage service, as a browser reaches it
    inbox: Any  # aiohttp test clients of the two services
    triage: Any
    workspace: Workspace
    database_url: str

    async def user(self, email: str, role: str) -> str:
        """A user who signs in with ``email`` and PASSWORD; returns their API token."""
        return await make_user(
            self.database_url, self.workspace.id, role, email=email, password=PASSWORD
        )

    async def pushed(
        self, receiver: str, secret: str, payload: Any, made: str, words: str
    ) -> Comment:
        """The platform's signed webhook for the comment ``made`` saying ``words`` reaches
        the inbox, and triage decides about it: the comment, its conversation, the verdict.
        An abusive comment needs no answer, so it is looked for behind the queue."""
        url = str(self.inbox.make_url(f"/webhooks/{receiver}"))
        async with aiohttp.ClientSession() as session:
            assert await deliver_webhook(session, url, secret, payload) == 200
        found: list[Any] = []

        async def decided() -> bool:
            found[:] = await sql(
                self.database_url,
                "SELECT m.conversation_id, d.abuse FROM triage.messages AS m "
                "JOIN triage.decisions AS d ON d.workspace_id = m.workspace_id "
                "AND d.message_id = m.id WHERE m.workspace_id = :ws AND m.text = :words",
                ws=self.workspace.id,
                words=words,
            )
            return bool(found)

        await wait_until(decided, what="triage never decided about the comment")
        return Comment(made, found[0].conversation_id, found[0].abuse)


@dataclass
class FacebookDesk(Desk):
    meta: MetaState

    async def commented(self, words: str) -> Comment:
        """A customer comments ``words`` on the Page."""
        made = self.meta.feed_comment("139560936744123", words, from_name="Jo Troll")
        return await self.pushed("meta", self.meta.app_secret, made.payload, made.id, words)


@dataclass
class ThreadsDesk(Desk):
    threads: ThreadsState

    async def commented(self, words: str) -> Comment:
        """A customer replies ``words`` to the brand's Threads post."""
        made = self.threads.reply("jo.troll", words, self.threads.post("Our new fares"))
        payload = self.threads.notification("replies", made)
        return await self.pushed("threads", self.threads.app_secret, payload, made["id"], words)


async def _services(
    database_url: str,
    aiohttp_client: Any,
    fake: Any,
    channel: tuple[str, str, str],
    credentials: dict[str, str],
    **secrets: Any,
) -> dict[str, Any]:
    """A workspace whose ``channel`` (platform, key, account id) is connected at the
    ``fake`` platform's server with ``credentials``, and the inbox (with the webhook
    ``secrets``, its loops running) and triage serving it."""
    platform, key, account_id = channel
    workspace, inbox = await inbox_holding(
        aiohttp_client, database_url, {key: credentials}, workers=True, **secrets
    )
    await connect_channel(
        inbox,
        workspace.channels_token,
        platform,
        key,
        account_id=account_id,
        base_url=str(fake.make_url("/")),
    )
    triage = await aiohttp_client(create_triage(triage_settings(database_url)))
    base = str(triage.make_url("/"))
    return {"base": base, "inbox": inbox, "triage": triage, "workspace": workspace}


@pytest.fixture
async def facebook_desk(
    database_url: str, aiohttp_server: Any, aiohttp_client: Any
) -> FacebookDesk:
    """The fixture: a test module takes it under its own name (``desk = facebook_desk``)."""
    state = MetaState()
    services = await _services(
        database_url,
        aiohttp_client,
        await aiohttp_server(create_fake_meta(state)),
        ("facebook", "acme-page", state.page_id),
        {"page_access_token": state.page_access_token},
        meta_app_secret=state.app_secret,
        meta_verify_token=state.verify_token,
    )
    return FacebookDesk(**services, database_url=database_url, meta=state)


@pytest.fixture
async def threads_desk(database_url: str, aiohttp_server: Any, aiohttp_client: Any) -> ThreadsDesk:
    """The same with a Threads account (webhooks only: no polling)."""
    state = ThreadsState()
    services = await _services(
        database_url,
        aiohttp_client,
        await aiohttp_server(create_fake_threads(state)),
        ("threads", "acme-threads", state.user_id),
        {"access_token": state.access_token},
        threads_app_secret=state.app_secret,
    )
    return ThreadsDesk(**services, database_url=database_url, threads=state)
