"""``create_app(settings)``: the one place the inbox wires resources to handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.inbox.http_ingest import METRICS_KEY, SETTINGS_KEY, ingest
from services.inbox.metrics import InboxMetrics
from services.inbox.settings import InboxSettings
from services.infra import metrics
from services.infra.db import create_engine
from services.infra.http import ENGINE_KEY, add_probes, errors_middleware


def create_app(settings: InboxSettings) -> web.Application:
    """The inbox HTTP app; the database engine lives and dies with it."""
    app = web.Application(middlewares=[errors_middleware], client_max_size=settings.max_body_bytes)
    app[SETTINGS_KEY] = settings
    registry = CollectorRegistry()
    metrics.install(app, registry)
    app[METRICS_KEY] = InboxMetrics.create(registry)

    async def database(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url.get_secret_value(), settings.db_pool_size)
        app[ENGINE_KEY] = engine
        yield
        await engine.dispose()

    app.cleanup_ctx.append(database)
    add_probes(app, settings.readiness_cache_seconds)
    app.router.add_post("/v1/ingest", ingest)
    return app
