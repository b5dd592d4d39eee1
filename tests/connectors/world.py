"""What every connector test stands on: a workspace whose channels point at a fake platform,
the real poller and deliverer, and one manual clock shared with the fake."""

from __future__ import annotations

import uuid
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
from services.inbox.domain.endpoints import PlatformHosts
from services.infra.events import Consumer, publish


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

    async def request_reply(self, external_id: str, words: str) -> uuid.UUID:
        """An agent answers the stored message ``external_id``, as triage asks: a
        reply.requested event, recorded as a delivery by the inbox's consumer."""
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
            )
            request.requested_at.FromDatetime(self.clock())
            await publish(
                conn, "reply.requested", [self.workspace.id], [request.SerializeToString()]
            )
        consumer = Consumer(self.engine, self.database_url, CONSUMER, record_requests)
        assert await consumer.drain_once() == 1
        return reply_id

    def deliverer(self) -> Deliverer:
        return Deliverer(self.engine, self.credentials, self.session, clock=self.clock)
