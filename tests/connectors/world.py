"""What every connector test stands on: a workspace whose channels point at a fake platform,
the real poller and deliverer, and one manual clock shared with the fake."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import text

from ecoute.v1 import events_pb2
from fakes.clock import ManualClock
from services.inbox.channels import store as channels
from services.inbox.channels.credentials import CredentialStore
from services.inbox.channels.poller import Poller
from services.inbox.connectors.base import Channel
from services.inbox.consumer import CONSUMER
from services.inbox.delivery.deliverer import Deliverer, record_requests
from services.inbox.delivery.moderation import Moderator, record_moderation_requests
from services.inbox.domain.endpoints import PlatformHosts
from services.infra.db import create_engine
from services.infra.events import Consumer, publish
from tests.support.world import (
    Workspace,
    connect_channel,
    inbox_holding,
)


async def connected_workspace(
    aiohttp_client: Any,
    database_url: str,
    fake: Any,
    platform: str,
    key: str,
    *,
    account_id: str,
    credentials: dict[str, dict[str, str]],
    credentials_ref: str | None = None,
) -> Workspace:
    """A workspace whose one channel, polled every minute, reads the ``fake`` platform's
    server with ``credentials``: connected through the inbox's API, as an admin would."""
    ws, inbox = await inbox_holding(aiohttp_client, database_url, credentials)
    await connect_channel(
        inbox,
        ws.channels_token,
        platform,
        key,
        account_id=account_id,
        base_url=str(fake.make_url("/")),
        credentials_ref=credentials_ref,
        poll_seconds=60,
    )
    return ws


@contextlib.asynccontextmanager
async def engine_and_session(database_url: str) -> AsyncIterator[tuple[Any, aiohttp.ClientSession]]:
    """What the poller and the deliverer run on: a small pool and one HTTP session."""
    engine = create_engine(database_url, 4)
    try:
        async with aiohttp.ClientSession() as session:
            yield engine, session
    finally:
        await engine.dispose()


class ConnectorWorld:
    def __init__(
        self,
        database_url: str,
        clock: ManualClock,
        workspace: Any,
        engine: Any,
        session: aiohttp.ClientSession,
        credentials: dict[str, dict[str, str]],
    ) -> None:
        self.database_url = database_url
        self.clock = clock
        self.workspace = workspace
        self.engine = engine
        self.session = session
        self.use_credentials(credentials)

    def use_credentials(self, credentials: dict[str, dict[str, str]]) -> None:
        """The workspace's credentials by reference (the fakes listen on 127.0.0.1)."""
        self.credentials = CredentialStore(
            {str(self.workspace.id): credentials}, hosts=PlatformHosts(allow_local=True)
        )

    def poller(self) -> Poller:
        return Poller(
            self.engine, self.database_url, self.credentials, self.session, clock=self.clock
        )

    async def poll(self) -> str:
        """Make the one channel due and poll it once (a new connector, as in production)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                text("UPDATE inbox.channels SET next_poll_at = :now, lease_until = NULL"),
                {"now": self.clock()},
            )
            due = await channels.claim_due(conn, self.clock(), 60, 10)
        assert len(due) == 1
        return await self.poller().poll_channel(due[0])

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar_one()

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())

    async def channel(self) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(text("SELECT * FROM inbox.channels"))).one()

    async def channels(self) -> list[Channel]:
        return [
            channels.describe_channel(r) for r in await self.rows("SELECT * FROM inbox.channels")
        ]

    async def request_reply(
        self,
        external_id: str,
        words: str,
        *,
        private: bool = False,
        template: events_pb2.MessageTemplate | None = None,
    ) -> uuid.UUID:
        """An agent answers the stored message ``external_id`` (with a WhatsApp
        ``template`` if chosen), as triage asks: a reply.requested event, recorded as a
        delivery by the inbox's consumer."""
        reply_id = uuid.uuid4()
        async with self.engine.begin() as conn:
            message_id, conversation_id = (
                await conn.execute(
                    text("SELECT id, conversation_id FROM inbox.messages WHERE external_id = :e"),
                    {"e": external_id},
                )
            ).one()
            request = events_pb2.ReplyRequested(
                workspace_id=str(self.workspace.id),
                reply_id=str(reply_id),
                conversation_id=conversation_id,
                in_reply_to_message_id=message_id,
                text=words,
                agent_id="agent-1",
                private=private,
            )
            if template is not None:
                request.template.CopyFrom(template)
            request.requested_at.FromDatetime(self.clock())
            await publish(
                conn, "reply.requested", [self.workspace.id], [request.SerializeToString()]
            )
        consumer = Consumer(self.engine, self.database_url, CONSUMER, record_requests)
        assert await consumer.drain_once() == 1
        return reply_id

    async def request_moderation(self, external_id: str, action: str) -> uuid.UUID:
        """A lead asks for the stored comment ``external_id`` to be moderated, as triage
        does: a moderation.requested event (published twice: a redelivery acts once)."""
        action_id = uuid.uuid4()
        message_id, conversation_id = (
            await self.rows(
                "SELECT id, conversation_id FROM inbox.messages WHERE external_id = :e",
                e=external_id,
            )
        )[0]
        request = events_pb2.ModerationRequested(
            workspace_id=str(self.workspace.id),
            action_id=str(action_id),
            conversation_id=conversation_id,
            message_id=message_id,
            action=action,
            requested_by="lead-1",
        )
        request.requested_at.FromDatetime(self.clock())
        for _ in range(2):
            async with self.engine.begin() as conn:
                payload = [request.SerializeToString()]
                await publish(conn, "moderation.requested", [self.workspace.id], payload)
        consumer = Consumer(self.engine, self.database_url, CONSUMER, record_moderation_requests)
        assert await consumer.drain_once() == 2
        async with self.engine.begin() as conn:  # due on the test's clock
            await conn.execute(
                text("UPDATE inbox.moderations SET next_attempt_at = :now"), {"now": self.clock()}
            )
        return action_id

    def moderator(self) -> Moderator:
        return Moderator(self.engine, self.credentials, self.session, clock=self.clock)

    async def moderation(self) -> Any:
        (row,) = await self.rows("SELECT * FROM inbox.moderations")
        return row

    async def settled(self) -> list[events_pb2.ModerationSettled]:
        payloads = await self.rows(
            "SELECT payload FROM events.outbox WHERE topic = 'moderation.settled' "
            "AND consumer = 'observer' ORDER BY id"
        )
        return [events_pb2.ModerationSettled.FromString(bytes(p)) for (p,) in payloads]

    async def polls_rate_limited_until(self, reset: Any) -> None:
        """A poll is refused for its rate: the channel says so and waits until ``reset``."""
        assert await self.poll() == "rate_limited"
        channel = await self.channel()
        assert channel.health == "rate_limited"
        assert channel.next_poll_at >= reset

    async def crash_mid_send(self) -> None:
        """An attempt is recorded, then the process dies before the platform answers: the
        delivery is left ``sending``, its next attempt due."""
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE inbox.deliveries SET state = 'sending', attempts = attempts + 1, "
                    "next_attempt_at = :past"
                ),
                {"past": self.clock() - timedelta(hours=1)},
            )

    async def backs_off_then_recovers(
        self, failures: int, customer_writes: Callable[[], object]
    ) -> None:
        """The platform fails ``failures`` polls in a row: each one counts and the channel,
        failing, waits before the next. Once it answers again (and ``customer_writes()``),
        one poll stores the message and clears the failures."""
        for expected in range(1, failures + 1):
            assert await self.poll() == "unavailable"
            assert (await self.channel()).failures == expected
        channel = await self.channel()
        assert channel.health == "failing"
        assert channel.next_poll_at > self.clock() + timedelta(seconds=10)
        customer_writes()
        assert await self.poll() == "ok"
        channel = await self.channel()
        assert (channel.health, channel.failures) == ("ok", 0)
        assert await self.scalar("SELECT count(*) FROM inbox.messages") == 1

    async def polls_needing_reauthorisation(self) -> None:
        """A poll finds the token refused: the channel asks an admin to reauthorise it."""
        assert await self.poll() == "auth_expired"
        assert (await self.channel()).health == "needs_reauth"

    async def due_now(self) -> int:
        """Deliver what is due once the clock has moved past every back-off."""
        self.clock.advance(3600)
        async with self.engine.begin() as conn:
            await conn.execute(
                text("UPDATE inbox.deliveries SET next_attempt_at = :now WHERE state <> 'failed'"),
                {"now": self.clock()},
            )
        return await self.deliverer().deliver_due()

    def deliverer(self) -> Deliverer:
        return Deliverer(self.engine, self.credentials, self.session, clock=self.clock)
