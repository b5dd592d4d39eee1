"""``create_app(settings)``: the one place the inbox wires resources to handlers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from services.inbox.channels.credentials import CredentialStore
from services.inbox.channels.gauges import refresh_forever
from services.inbox.channels.http import CREDENTIALS_KEY
from services.inbox.channels.http import add_routes as add_channel_routes
from services.inbox.channels.poller import Poller
from services.inbox.consumer import inbox_consumer
from services.inbox.delivery.deliverer import Deliverer
from services.inbox.ingest.http import METRICS_KEY, SETTINGS_KEY
from services.inbox.ingest.http import add_routes as add_ingest_routes
from services.inbox.metrics import InboxMetrics
from services.inbox.openapi import DOCUMENT as OPENAPI
from services.inbox.settings import InboxSettings
from services.inbox.webhooks.http import add_routes as add_webhook_routes
from services.inbox.webhooks.hub import HUB_KEY, WebhookHub
from services.infra import metrics
from services.infra.auth_failures import add_failure_limits
from services.infra.db import create_engine
from services.infra.http import ENGINE_KEY, add_probes, errors_middleware, security_headers
from services.infra.openapi import add_openapi_route


def create_app(settings: InboxSettings, *, api: bool = True) -> web.Application:
    """The inbox HTTP app; the database engine lives and dies with it.

    With ``api=False`` (a worker process) it serves only probes and metrics.
    """
    app = web.Application(
        middlewares=[security_headers, errors_middleware], client_max_size=settings.max_body_bytes
    )
    app[SETTINGS_KEY] = settings
    app[CREDENTIALS_KEY] = CredentialStore.from_settings(settings)
    registry = CollectorRegistry()
    metrics.install(app, registry, revision=settings.revision)
    metrics.install_pool_gauges(app, registry, ENGINE_KEY)
    app[METRICS_KEY] = InboxMetrics.create(registry).initialise()

    async def database(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database_url.get_secret_value(),
            settings.db_pool_size,
            pgbouncer=settings.database_pgbouncer,
        )
        app[ENGINE_KEY] = engine
        app[HUB_KEY] = WebhookHub(engine, settings, app[METRICS_KEY])
        yield
        await engine.dispose()

    async def workers(app: web.Application) -> AsyncIterator[None]:
        """The poller, the gauges, the inbox's consumer (reply requests, erasures, retention
        purges) and the reply delivery, stopped before the engine is disposed."""
        stop = asyncio.Event()
        session = aiohttp.ClientSession()
        credentials = app[CREDENTIALS_KEY]
        engine, counted = app[ENGINE_KEY], app[METRICS_KEY]
        url = settings.direct_url()  # for LISTEN only: the engine does the rest
        poller = Poller(engine, url, credentials, session, counted)
        tasks = [
            asyncio.create_task(poller.run(stop)),
            asyncio.create_task(
                refresh_forever(counted, engine, stop, settings.gauges_refresh_seconds)
            ),
            asyncio.create_task(inbox_consumer(engine, url, counted).run(stop)),
            asyncio.create_task(Deliverer(engine, credentials, session, counted).run(stop)),
        ]
        yield
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=10)
        await session.close()

    app.cleanup_ctx.append(database)
    if settings.run_workers:
        app.cleanup_ctx.append(workers)
    add_failure_limits(app, settings.auth_max_failures, settings.proxies())
    add_probes(app, settings.readiness_cache_seconds)
    add_openapi_route(app, OPENAPI)
    if api:
        add_ingest_routes(app)
        add_channel_routes(app)
        add_webhook_routes(app)
    return app
