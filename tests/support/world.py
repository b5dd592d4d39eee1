"""Building blocks for integration tests: settings, workspaces, tokens, messages."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from services.inbox.app import create_app as create_inbox
from services.inbox.ingest.store import create_ingest_token
from services.inbox.settings import InboxSettings
from services.infra.auth import new_token
from services.infra.db import create_engine
from services.infra.events import publish
from services.triage.access.accounts import set_password
from services.triage.access.store import create_api_token, create_user, create_workspace
from services.triage.app import create_app as create_triage
from services.triage.settings import TriageSettings
from tests.support.waiting import wait_until


def inbox_settings(database_url: str, **overrides: Any) -> InboxSettings:
    """Test settings: the fake platforms listen on 127.0.0.1, so channels may point there
    (``allow_local_platforms``) unless a test says otherwise."""
    values: dict[str, Any] = {
        "db_pool_size": 5,
        "readiness_cache_seconds": 0,
        "allow_local_platforms": True,
    }
    values.update(overrides)
    return InboxSettings(database_url=database_url, **values)  # type: ignore[arg-type]


def credentials_json(workspace_id: uuid.UUID, refs: dict[str, dict[str, str]]) -> str:
    """``INBOX_CHANNEL_CREDENTIALS`` holding ``refs`` in this workspace's namespace."""
    return json.dumps({str(workspace_id): refs})


# The key that seals TOTP secrets in tests (production reads TRIAGE_TWO_FACTOR_KEY).
TWO_FACTOR_KEY = base64.b64encode(b"test two-factor key, 32 bytes!!!").decode()


def triage_settings(database_url: str, **overrides: Any) -> TriageSettings:
    values: dict[str, Any] = {
        "db_pool_size": 5,
        "readiness_cache_seconds": 0,
        "consumer_poll_seconds": 0.2,
        "two_factor_key": TWO_FACTOR_KEY,
    }
    values.update(overrides)
    return TriageSettings(database_url=database_url, **values)  # type: ignore[arg-type]


async def start_services(
    aiohttp_client: Any, database_url: str, *, workers: bool = True, consumer: bool = True
) -> tuple[Any, Any]:
    """The inbox and triage as test clients on the test's database. ``workers=False`` keeps
    the inbox from polling and delivering, ``consumer=False`` keeps triage from consuming."""
    inbox = await aiohttp_client(create_inbox(inbox_settings(database_url, run_workers=workers)))
    triage_app = create_triage(triage_settings(database_url, run_consumer=consumer))
    return inbox, await aiohttp_client(triage_app)


@dataclass(frozen=True)
class Workspace:
    id: uuid.UUID
    ingest_token: str
    agent_token: str
    channels_token: str
    """An inbox token with the ``channels`` scope: connects the workspace's channels."""


async def make_workspace(database_url: str, name: str = "Acme care") -> Workspace:
    """A workspace with an agent (API token), an ingest token and a channels token, as the
    CLI makes them."""
    engine = create_engine(database_url, 1)
    ingest, agent, channels = new_token("eci"), new_token("eca"), new_token("ecc")
    try:
        async with engine.begin() as conn:
            workspace_id = await create_workspace(conn, name)
            user = await create_user(
                conn, workspace_id, f"agent@{name[:4].lower()}.test", "Agent", "agent"
            )
            await create_api_token(conn, workspace_id, user, agent, "test")
            await create_ingest_token(conn, workspace_id, ingest, "test")
            await create_ingest_token(conn, workspace_id, channels, "admin", "channels")
    finally:
        await engine.dispose()
    return Workspace(workspace_id, ingest, agent, channels)


async def inbox_holding(
    aiohttp_client: Any,
    database_url: str,
    refs: dict[str, dict[str, str]],
    *,
    workers: bool = False,
    **overrides: Any,
) -> tuple[Workspace, Any]:
    """A new workspace, and an inbox API holding ``refs`` as that workspace's channel
    credentials (its polling and delivery loops only with ``workers``): where every channel
    and webhook test starts."""
    ws = await make_workspace(database_url)
    credentials = credentials_json(ws.id, refs)
    settings = inbox_settings(
        database_url, run_workers=workers, channel_credentials=credentials, **overrides
    )
    return ws, await aiohttp_client(create_inbox(settings))


BASE_TIME = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


async def make_user(
    database_url: str,
    workspace_id: uuid.UUID,
    role: str,
    email: str | None = None,
    password: str | None = None,
) -> str:
    """Another user of the workspace with this role; returns their API token."""
    engine = create_engine(database_url, 1)
    token = new_token("eca")
    try:
        async with engine.begin() as conn:
            address = email or f"{role}-{uuid.uuid4().hex[:6]}@x.test"
            user = await create_user(conn, workspace_id, address, role.title(), role)
            await create_api_token(conn, workspace_id, user, token, "test")
            if password is not None:
                await set_password(conn, workspace_id, user, password)
    finally:
        await engine.dispose()
    return token


def scrypt_hash(password: str, salt: bytes = b"0123456789abcdef") -> str:
    """A password hash as versions before argon2id stored it (scrypt, N=2^14, r=8, p=1)."""
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    b64 = base64.b64encode
    return f"scrypt$16384$8$1${b64(salt).decode()}${b64(digest).decode()}"


def ago(**delta: float) -> str:
    """An RFC 3339 instant that long before the real now (for clocks that must be running)."""
    return (datetime.now(UTC) - timedelta(**delta)).isoformat().replace("+00:00", "Z")


def message(
    external_id: str,
    text: str = "my order never arrived, can you help?",
    *,
    minutes: float = 0,
    platform: str = "x",
    channel: str = "support-en",
    kind: str = "mention",
    author: str = "42",
    **extra: Any,
) -> dict[str, Any]:
    """One ingest-API message in the documented JSON shape."""
    item: dict[str, Any] = {
        "platform": platform,
        "channel": channel,
        "external_id": external_id,
        "kind": kind,
        "author": {"external_id": author, "handle": f"user{author}"},
        "text": text,
        "created_at": (BASE_TIME + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
    }
    item.update(extra)
    return item


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def ingest(inbox: Any, token: str, *messages: dict[str, Any]) -> list[dict[str, Any]]:
    """Customers write through the inbox's ingest API (``token``: an ingest token). The
    answer's items, one a message in order: ``external_id``, ``status``, ``message_id``,
    ``conversation_id``."""
    answer = await inbox.post(
        "/v1/ingest", headers=bearer(token), json={"messages": list(messages)}
    )
    assert answer.status == 200, await answer.text()
    return list((await answer.json())["items"])


async def connect_channel(
    inbox: Any,
    token: str,
    platform: str,
    key: str,
    *,
    account_id: str,
    base_url: str,
    credentials_ref: str | None = None,
    poll_seconds: float | None = None,
) -> None:
    """Connect a channel through the inbox's API with the channels ``token``: polled every
    ``poll_seconds``, or not polled at all (a webhook platform) when None."""
    body: dict[str, Any] = {
        "account_id": account_id,
        "base_url": base_url,
        "credentials_ref": credentials_ref or key,
    }
    body |= {"poll_seconds": poll_seconds} if poll_seconds else {"polling": False}
    response = await inbox.put(f"/v1/channels/{platform}/{key}", headers=bearer(token), json=body)
    assert response.status == 200, await response.text()


async def sql(database_url: str, query: str, **params: Any) -> Any:
    """Run ``query`` in a transaction of its own; its rows, if it returns any."""
    engine = create_engine(database_url, 1)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(query), params)
            return result.all() if result.returns_rows else []
    finally:
        await engine.dispose()


async def publish_event(database_url: str, topic: str, workspace_id: uuid.UUID, event: Any) -> None:
    """Put one event (a protobuf message) in the outbox as the service that owns ``topic``
    would, in a transaction of its own: how a test plays the other service's part."""
    engine = create_engine(database_url, 1)
    try:
        async with engine.begin() as conn:
            await publish(conn, topic, [workspace_id], [event.SerializeToString()])
    finally:
        await engine.dispose()


async def scalar(database_url: str, sql: str, **params: Any) -> Any:
    """The one value ``sql`` reads, on a connection of its own: a look behind the API."""
    engine = create_engine(database_url, 1)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar_one()
    finally:
        await engine.dispose()


async def count(database_url: str, sql: str, **params: Any) -> int:
    return int(await scalar(database_url, sql, **params))


async def answer_when(client: Any, path: str, token: str, ready: Any, **query: Any) -> Any:
    """``GET path`` once it answers 200 with a body ``ready(body)`` accepts: the services work
    in the background, so a test waits for the state it expects."""
    last: dict[str, Any] = {}

    async def reached() -> bool:
        response = await client.get(path, params=query, headers=bearer(token))
        last["body"] = await response.json()
        return bool(response.status == 200 and ready(last["body"]))

    try:
        await wait_until(reached, what=f"{path} in the expected state")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last answer: {last.get('body')}") from None
    return last["body"]
