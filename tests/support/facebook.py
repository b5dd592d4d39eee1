"""A workspace with a Facebook Page connected to the fake Meta Graph API (or a Threads account
to the fake Threads API), the real inbox and triage (their background loops running), and
comments arriving as Meta's signed webhooks: what the moderation tests (integration and
browser) stand on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from fakes.meta import MetaState, deliver_webhook
from fakes.meta import create_app as create_fake_meta
from fakes.threads import ThreadsState
from fakes.threads import create_app as create_fake_threads
from services.inbox.app import create_app as create_inbox
from services.triage.app import create_app as create_triage
from tests.support.waiting import wait_until
from tests.support.world import (
    Workspace,
    connect_channel,
    credentials_json,
    inbox_settings,
    make_user,
    make_workspace,
    sql,
    triage_settings,
)

PASSWORD = "correct horse battery"


@dataclass
class Desk:
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

    async def triaged(self, words: str) -> dict[str, Any]:
        """The conversation (id, abuse) of the comment saying ``words``, once triage has it
        (an abusive comment needs no answer, so it may never be in the queue)."""
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
        return {"conversation_id": found[0].conversation_id, "abuse": found[0].abuse}


@dataclass
class FacebookDesk(Desk):
    meta: MetaState

    async def comment(self, words: str) -> str:
        """A customer comments on the Page: Meta's signed webhook reaches the inbox."""
        made = self.meta.feed_comment("139560936744123", words, from_name="Jo Troll")
        url = str(self.inbox.make_url("/webhooks/meta"))
        async with aiohttp.ClientSession() as session:
            status = await deliver_webhook(session, url, self.meta.app_secret, made.payload)
        assert status == 200
        return made.id


@dataclass
class ThreadsDesk(Desk):
    threads: ThreadsState

    async def comment(self, words: str) -> str:
        """A customer replies to the brand's Threads post: Meta's signed webhook brings it."""
        made = self.threads.reply("jo.troll", words, self.threads.post("Our new fares"))
        url = str(self.inbox.make_url("/webhooks/threads"))
        async with aiohttp.ClientSession() as session:
            payload = self.threads.notification("replies", made)
            status = await deliver_webhook(session, url, self.threads.app_secret, payload)
        assert status == 200
        return str(made["id"])


@dataclass(frozen=True)
class Account:
    """The platform account a desk's one channel connects, and its credentials."""

    platform: str
    key: str
    account_id: str
    credentials: dict[str, str]


async def _services(
    database_url: str, aiohttp_client: Any, fake: Any, account: Account, **secrets: Any
) -> dict[str, Any]:
    """A workspace with ``account`` connected at the ``fake`` platform's server, and the inbox
    (with the webhook ``secrets``) and triage serving it: a desk's fields but its platform's."""
    workspace = await make_workspace(database_url)
    credentials = credentials_json(workspace.id, {account.key: account.credentials})
    inbox = await aiohttp_client(
        create_inbox(inbox_settings(database_url, channel_credentials=credentials, **secrets))
    )
    await connect_channel(
        inbox,
        workspace.channels_token,
        account.platform,
        account.key,
        account_id=account.account_id,
        base_url=str(fake.make_url("/")),
    )
    triage = await aiohttp_client(create_triage(triage_settings(database_url)))
    base = str(triage.make_url("/"))
    return {"base": base, "inbox": inbox, "triage": triage, "workspace": workspace}


async def facebook_desk(
    database_url: str, aiohttp_server: Any, aiohttp_client: Any, **meta: Any
) -> FacebookDesk:
    state = MetaState(**meta)
    page = Account(
        "facebook", "acme-page", state.page_id, {"page_access_token": state.page_access_token}
    )
    services = await _services(
        database_url,
        aiohttp_client,
        await aiohttp_server(create_fake_meta(state)),
        page,
        meta_app_secret=state.app_secret,
        meta_verify_token=state.verify_token,
    )
    return FacebookDesk(**services, database_url=database_url, meta=state)


async def threads_desk(database_url: str, aiohttp_server: Any, aiohttp_client: Any) -> ThreadsDesk:
    state = ThreadsState()
    account = Account(
        "threads", "acme-threads", state.user_id, {"access_token": state.access_token}
    )
    services = await _services(
        database_url,
        aiohttp_client,
        await aiohttp_server(create_fake_threads(state)),
        account,
        threads_app_secret=state.app_secret,
    )
    return ThreadsDesk(**services, database_url=database_url, threads=state)
