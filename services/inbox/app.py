"""``create_app(settings)``: the one place the inbox wires resources to handlers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

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
from services.inbox.delivery.moderation import Moderator
from services.inbox.ingest.http import METRICS_KEY, SETTINGS_KEY
from services.inbox.ingest.http import add_routes as add_ingest_routes
from services.inbox.metrics import InboxMetrics
from services.inbox.openapi import DOCUMENT as OPENAPI
from services.inbox.settings import InboxSettings
from services.inbox.webhooks.http import add_routes as add_webhook_routes
from services.inbox.webhooks.hub import HUB_KEY, WebhookHub
from services.inbox.webhooks.profiles import ProfileLookup
from services.infra import metrics
from services.infra.auth_failures import add_failure_limits
from services.infra.contexts import database_context, workers_context
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

    async def webhook_hub(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:  # Meta's profile lookups
            profiles = ProfileLookup(
                app[ENGINE_KEY],
                app[CREDENTIALS_KEY],
                session,
                timedelta(hours=settings.profile_refresh_hours),
                lambda: datetime.now(UTC),
            )
            app[HUB_KEY] = WebhookHub(
                app[ENGINE_KEY], settings, app[METRICS_KEY], profiles=profiles
            )
            yield

    app.cleanup_ctx.append(database_context(settings))
    app.cleanup_ctx.append(webhook_hub)
    if settings.run_workers:
        app.cleanup_ctx.append(workers_context(background_jobs, settings))
    add_failure_limits(app, settings.auth_max_failures, settings.proxies())
    add_probes(app, settings.readiness_cache_seconds)
    add_openapi_route(app, OPENAPI)
    if api:
        add_ingest_routes(app)
        add_channel_routes(app)
        add_webhook_routes(app)
    return app


def background_jobs(
    app: web.Application,
    settings: InboxSettings,
    session: aiohttp.ClientSession,
    stop: asyncio.Event,
) -> list[Coroutine[Any, Any, None]]:
    """The poller, the gauges, the inbox's consumer (reply and moderation requests,
    erasures, retention purges), the reply delivery and the moderation loop, each until
    ``stop`` is set."""
    credentials = app[CREDENTIALS_KEY]
    engine, counted = app[ENGINE_KEY], app[METRICS_KEY]
    url = settings.direct_url()  # for LISTEN only: the engine does the rest
    return [
        Poller(engine, url, credentials, session, counted).run(stop),
        refresh_forever(counted, engine, stop, settings.gauges_refresh_seconds),
        inbox_consumer(engine, url, counted).run(stop),
        Deliverer(engine, credentials, session, counted).run(stop),
        Moderator(engine, credentials, session, counted).run(stop),
    ]
