"""A workspace with a Facebook Page connected to the fake Meta Graph API, the real inbox and
triage (their background loops running), and comments arriving as Meta's signed webhooks:
what the moderation tests (integration and browser) stand on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from fakes.meta import MetaState, deliver_webhook
from fakes.meta import create_app as create_fake_meta
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
    id: str  # the comment's id on the fake Graph API
    conversation_id: int
    abuse: bool  # triage's verdict


@dataclass
class FacebookDesk:
    base: str  # the triage service, as a browser reaches it
    inbox: Any  # aiohttp test clients of the two services
    triage: Any
    meta: MetaState
    workspace: Workspace
    database_url: str

    async def user(self, email: str, role: str) -> str:
        """A user who signs in with ``email`` and PASSWORD; returns their API token."""
        return await make_user(
            self.database_url, self.workspace.id, role, email=email, password=PASSWORD
        )

    async def commented(self, words: str) -> Comment:
        """A customer comments ``words`` on the Page (Meta's signed webhook reaches the
        inbox), and triage decides about it: the comment, its conversation, the verdict.
        An abusive comment needs no answer, so it is looked for behind the queue."""
        made = self.meta.feed_comment("139560936744123", words, from_name="Jo Troll")
        url = str(self.inbox.make_url("/webhooks/meta"))
        async with aiohttp.ClientSession() as session:
            status = await deliver_webhook(session, url, self.meta.app_secret, made.payload)
        assert status == 200
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
        return Comment(made.id, found[0].conversation_id, found[0].abuse)


@pytest.fixture
async def facebook_desk(
    database_url: str, aiohttp_server: Any, aiohttp_client: Any
) -> FacebookDesk:
    """The fixture: a test module takes it under its own name (``desk = facebook_desk``)."""
    state = MetaState()
    fake = await aiohttp_server(create_fake_meta(state))
    workspace, inbox = await inbox_holding(
        aiohttp_client,
        database_url,
        {"meta": {"page_access_token": state.page_access_token}},
        workers=True,
        meta_app_secret=state.app_secret,
        meta_verify_token=state.verify_token,
    )
    await connect_channel(
        inbox,
        workspace.channels_token,
        "facebook",
        "acme-page",
        account_id=state.page_id,
        base_url=str(fake.make_url("/")),
        credentials_ref="meta",
    )
    triage = await aiohttp_client(create_triage(triage_settings(database_url)))
    return FacebookDesk(
        base=str(triage.make_url("/")),
        inbox=inbox,
        triage=triage,
        meta=state,
        workspace=workspace,
        database_url=database_url,
    )
