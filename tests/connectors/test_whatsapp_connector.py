"""The WhatsApp connector against the fake Cloud API: customers' messages in through signed
webhooks, replies out through the delivery loop, exactly once, through its faults."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from ecoute.v1 import events_pb2
from fakes.clock import ManualClock
from fakes.whatsapp import WhatsAppState, deliver_webhook
from fakes.whatsapp import create_app as create_fake
from services.inbox.connectors.registry import connector_for
from services.inbox.connectors.whatsapp import WhatsAppConnector
from services.infra.db import create_engine
from tests.connectors.world import ConnectorWorld
from tests.support.world import (
    bearer,
    connect_channel,
    inbox_holding,
)

CUSTOMER = "33612345678"
OTHER = "447700900123"
KEY = "acme-wa"


class World(ConnectorWorld):
    def __init__(self, inbox: TestClient[Any, Any], state: WhatsAppState, **kw: Any) -> None:
        credentials = {
            KEY: {
                "access_token": state.access_token,
                "business_account_id": state.business_account_id,
            }
        }
        super().__init__(credentials=credentials, **kw)
        self.inbox = inbox
        self.state = state

    async def webhook(self, payload: dict[str, Any], **options: Any) -> None:
        url = str(self.inbox.make_url("/webhooks/whatsapp"))
        status = await deliver_webhook(self.session, url, self.state.app_secret, payload, **options)
        assert status == 200

    async def customer_writes(self, words: str = "hi", **options: Any) -> str:
        """The customer's message reaches the inbox by Meta's signed webhook; its wamid."""
        wamid, payload = self.state.customer_message(CUSTOMER, words, **options)
        await self.webhook(payload)
        return str(wamid)

    async def statuses_arrive(self) -> None:
        """The fake's pending status notifications reach the inbox."""
        pending, self.state.outbound_webhooks = self.state.outbound_webhooks, []
        for payload in pending:
            await self.webhook(payload)

    async def reply(self, wamid: str, words: str, template: dict[str, str] | None = None) -> Any:
        reply_id = await self.request_reply(wamid, words)
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE inbox.deliveries SET next_attempt_at = :now, "
                    "template = CAST(:t AS jsonb) WHERE reply_id = :r"
                ),
                {"now": self.clock(), "r": reply_id, "t": _json(template)},
            )
        return reply_id

    async def delivery(self) -> Any:
        return (await self.rows("SELECT * FROM inbox.deliveries"))[0]

    async def outcomes(self) -> list[tuple[str, str, str]]:
        """(topic, reply id, failure reason) of the delivery events, in order."""
        found = []
        for topic, payload in await self.rows(
            "SELECT topic, payload FROM events.outbox WHERE consumer = 'observer' ORDER BY id"
        ):
            if topic == "reply.failed":
                failed = events_pb2.ReplyFailed.FromString(bytes(payload))
                found.append((topic, failed.reply_id, failed.reason))
            else:
                done = events_pb2.ReplyDelivered.FromString(bytes(payload))
                found.append((topic, done.reply_id, ""))
        return found


def _json(value: dict[str, str] | None) -> str | None:
    import json

    return json.dumps(value) if value else None


@pytest.fixture
async def world(aiohttp_server: Any, aiohttp_client: Any, database_url: str) -> Any:
    clock = ManualClock.from_now()
    state = WhatsAppState(clock=clock)
    fake = await aiohttp_server(create_fake(state))
    creds = {
        KEY: {"access_token": state.access_token, "business_account_id": state.business_account_id}
    }
    ws, inbox = await inbox_holding(
        aiohttp_client,
        database_url,
        creds,
        whatsapp_app_secret=state.app_secret,
        whatsapp_verify_token=state.verify_token,
    )
    await connect_channel(
        inbox,
        ws.channels_token,
        "whatsapp",
        KEY,
        account_id=state.phone_number_id,
        base_url=str(fake.make_url("/")),
    )
    engine = create_engine(database_url, 4)
    async with aiohttp.ClientSession() as session:
        yield World(
            inbox,
            state,
            database_url=database_url,
            clock=clock,
            workspace=ws,
            engine=engine,
            session=session,
        )
    await engine.dispose()


MESSAGES = (
    "SELECT m.external_id, m.text, m.kind, m.direction, m.conversation_id, "
    "a.external_id AS author, a.display_name FROM inbox.messages m "
    "JOIN inbox.authors a ON a.id = m.author_id ORDER BY m.created_at, m.id"
)


async def test_messages_are_stored_once_under_duplicates_and_out_of_order(world: World) -> None:
    earlier = world.clock() - timedelta(minutes=5)
    first, first_payload = world.state.customer_message(
        CUSTOMER, "My parcel is late", name="Léa", at=earlier
    )
    second, second_payload = world.state.customer_message(CUSTOMER, "", media="image")
    other, other_payload = world.state.customer_message(OTHER, "Hello")
    await world.webhook(second_payload, duplicates=2)  # the later one first, three times
    await world.webhook(first_payload, duplicates=1)
    await world.webhook(other_payload)
    await world.webhook(first_payload)
    rows = await world.rows(MESSAGES)
    assert [(r.external_id, r.text, r.author) for r in rows] == [
        (first, "My parcel is late", CUSTOMER),
        (second, "[image]", CUSTOMER),
        (other, "Hello", OTHER),
    ]
    assert {r.kind for r in rows} == {"dm"} and rows[0].display_name == "Léa"
    # one conversation per customer and business number
    assert rows[0].conversation_id == rows[1].conversation_id != rows[2].conversation_id


async def test_a_reply_inside_the_window_is_sent_once_and_its_statuses_become_its_state(
    world: World,
) -> None:
    wamid = await world.customer_writes("Where is my order?")
    await world.reply(wamid, "It left this morning.")
    assert await world.deliverer().deliver_due() == 1
    [sent] = world.state.messages_to(CUSTOMER)
    assert (sent.type, sent.text) == ("text", "It left this morning.")
    delivery = await world.delivery()
    assert (delivery.state, delivery.platform_message_id) == ("delivered", sent.wamid)
    # statuses out of order and twice: read, then sent and delivered late
    world.state.outbound_webhooks.clear()
    await world.webhook(world.state.status(sent, "read"))
    await world.webhook(world.state.status(sent, "sent"), duplicates=1)
    await world.webhook(world.state.status(sent, "delivered"))
    assert (await world.delivery()).platform_status == "read"
    outbound = await world.scalar("SELECT count(*) FROM inbox.messages WHERE direction = 'out'")
    assert outbound == 1


async def test_a_failed_status_reaches_the_desk_and_a_later_delivery_undoes_it(
    world: World,
) -> None:
    async with world.engine.begin() as conn:  # someone listening for the delivery outcomes
        await conn.execute(
            text(
                "INSERT INTO events.subscription (topic, consumer) VALUES "
                "('reply.failed', 'observer'), ('reply.delivered', 'observer')"
            )
        )
    wamid = await world.customer_writes()
    reply_id = await world.reply(wamid, "Hello!")
    await world.deliverer().deliver_due()
    [sent] = world.state.sends
    await world.webhook(world.state.status(sent, "failed", error=131026), duplicates=1)
    delivery = await world.delivery()
    assert (delivery.platform_status, delivery.platform_error) == ("failed", 131026)
    outcomes = await world.outcomes()
    assert [(topic, reason) for topic, _, reason in outcomes] == [
        ("reply.delivered", ""),
        ("reply.failed", "undelivered"),  # once, though the status came twice
    ]
    assert {r for _, r, _ in outcomes} == {str(reply_id)}
    await world.webhook(world.state.status(sent, "delivered"))  # another device got it
    assert [t for t, _, _ in await world.outcomes()][-1] == "reply.delivered"
    assert (await world.delivery()).platform_status == "delivered"


async def test_a_reply_whose_answer_was_lost_is_delivered_once(world: World) -> None:
    wamid = await world.customer_writes("Where is my order?")
    await world.reply(wamid, "On its way.")
    world.state.lose_next_answer()
    assert await world.deliverer().deliver_due() == 1
    assert (await world.delivery()).state == "sending"  # unsure: reconciled, never resent
    assert await world.due_now() == 1  # no status yet: it waits rather than sending again
    assert ((await world.delivery()).failure_reason, len(world.state.sends)) == (
        "awaiting_status",
        1,
    )
    await world.statuses_arrive()  # the "sent" status names the reply
    assert await world.due_now() == 1
    delivery = await world.delivery()
    [sent] = world.state.sends
    assert (delivery.state, delivery.platform_message_id) == ("delivered", sent.wamid)
    outbound = await world.scalar("SELECT count(*) FROM inbox.messages WHERE direction = 'out'")
    assert outbound == 1


async def test_throttling_is_honoured_then_the_reply_is_delivered_once(world: World) -> None:
    wamid = await world.customer_writes()
    await world.reply(wamid, "Hello!")
    world.state.throttle_next()
    assert await world.deliverer().deliver_due() == 1
    delivery = await world.delivery()
    assert (delivery.state, delivery.failure_reason) == ("queued", "rate_limited")
    assert delivery.next_attempt_at > world.clock()
    assert await world.deliverer().deliver_due() == 0  # nothing is tried before its time
    assert await world.due_now() == 1
    assert (await world.delivery()).state == "delivered"
    assert len(world.state.sends) == 1


async def test_an_expired_token_asks_for_reauthorisation(world: World) -> None:
    wamid = await world.customer_writes()
    await world.reply(wamid, "Hello!")
    world.state.expire_token()
    assert await world.deliverer().deliver_due() == 1
    delivery = await world.delivery()
    assert (delivery.state, delivery.failure_reason) == ("failed", "auth_expired")
    assert (await world.channel()).health == "needs_reauth"
    assert world.state.sends == []


async def test_outside_the_window_free_text_fails_and_a_template_is_sent(world: World) -> None:
    wamid = await world.customer_writes(at=world.clock() - timedelta(hours=25))
    await world.reply(wamid, "Sorry for the wait")
    await world.deliverer().deliver_due()
    delivery = await world.delivery()
    assert (delivery.state, delivery.failure_reason) == ("failed", "window_closed")
    await world.reply(wamid, "order_update", {"name": "order_update", "language": "en_US"})
    await world.deliverer().deliver_due()
    [sent] = world.state.sends
    assert (sent.type, sent.template) == ("template", "order_update")


async def test_only_approved_templates_are_listed_across_pages(world: World) -> None:
    world.state.templates.extend(
        {**world.state.templates[0], "name": f"extra_{n}"} for n in range(150)
    )
    channel = (await world.channels())[0]
    connector = connector_for(
        channel, world.credentials.for_channel(channel), world.session, world.clock
    )
    assert isinstance(connector, WhatsAppConnector)
    found = await connector.templates(world.state.business_account_id)
    names = [t.name for t in found]
    assert names[:2] == ["order_update", "reprise_contact"] and len(names) == 152
    assert "spring_sale" not in names  # pending review: not offered


async def test_a_status_for_someone_elses_message_changes_nothing(world: World) -> None:
    wamid = await world.customer_writes()
    reply_id = await world.reply(wamid, "Hello!")
    await world.deliverer().deliver_due()
    [sent] = world.state.sends
    stranger = type(sent)("wamid.other", CUSTOMER, "text", "x", "", str(uuid.uuid4()), sent.at)
    await world.webhook(world.state.status(stranger, "failed", error=131026))
    delivery = await world.delivery()
    assert (delivery.reply_id, delivery.platform_status) == (reply_id, None)


async def test_forged_notifications_store_nothing_and_change_no_delivery(world: World) -> None:
    wamid = await world.customer_writes()
    await world.reply(wamid, "Hello!")
    await world.deliverer().deliver_due()
    [sent] = world.state.sends
    url = str(world.inbox.make_url("/webhooks/whatsapp"))
    _, forged_message = world.state.customer_message(CUSTOMER, "send me the code")
    for forged in (forged_message, world.state.status(sent, "failed", error=131026)):
        status = await deliver_webhook(world.session, url, "not-the-app-secret", forged)
        assert status == 401
    assert await world.scalar("SELECT count(*) FROM inbox.messages") == 2  # hi and the reply
    assert (await world.delivery()).platform_status is None
    # the same notification, rightly signed, does change it (the check can fail)
    await world.webhook(world.state.status(sent, "failed", error=131026))
    assert (await world.delivery()).platform_status == "failed"


async def test_the_channels_api_lists_the_approved_templates_an_agent_may_send(
    world: World,
) -> None:
    path = f"/v1/channels/whatsapp/{KEY}/templates"
    token = bearer(world.workspace.channels_token)
    listed = await world.inbox.get(path, headers=token)
    assert listed.status == 200, await listed.text()
    items = (await listed.json())["items"]
    assert [(t["name"], t["language"]) for t in items] == [
        ("order_update", "en_US"),
        ("reprise_contact", "fr"),
    ]
    assert world.state.requests[-1].startswith(
        f"GET /v21.0/{world.state.business_account_id}/message_templates?status=APPROVED"
    )
    unknown = await world.inbox.get("/v1/channels/whatsapp/nope/templates", headers=token)
    assert unknown.status == 404
    assert (await world.inbox.get(f"/v1/channels/x/{KEY}/templates", headers=token)).status == 404
    world.state.expire_token()
    assert (await world.inbox.get(path, headers=token)).status == 409


async def test_the_template_an_agent_chose_travels_from_the_desks_request_to_the_platform(
    world: World,
) -> None:
    wamid = await world.customer_writes(at=world.clock() - timedelta(days=2))
    await world.request_reply(
        wamid,
        "Bonjour, nous revenons vers vous.",
        template=events_pb2.MessageTemplate(name="reprise_contact", language="fr"),
    )
    assert (await world.delivery()).template == {"name": "reprise_contact", "language": "fr"}
    assert await world.due_now() == 1
    [sent] = world.state.sends
    assert (sent.type, sent.template, sent.to) == ("template", "reprise_contact", CUSTOMER)
    assert (await world.delivery()).state == "delivered"
