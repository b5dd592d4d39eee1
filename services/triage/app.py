"""``create_app(settings)``: the one place triage wires resources to handlers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra import metrics
from services.infra.auth_failures import add_failure_limits
from services.infra.contexts import database_context, workers_context
from services.infra.events import Consumer, Event
from services.infra.http import ENGINE_KEY, add_probes, errors_middleware, security_headers
from services.infra.openapi import add_openapi_route
from services.infra.ttl_cache import TtlCache
from services.triage.access.accounts import SessionLimits
from services.triage.access.auth import (
    AUTH_CONFIG_KEY,
    TOKEN_CACHE_KEY,
    TOKEN_CACHE_SECONDS,
    AuthConfig,
)
from services.triage.access.http import add_routes as add_auth_routes
from services.triage.access.http_security import add_routes as add_security_routes
from services.triage.access.http_team import TEAM_CONFIG_KEY, TeamConfig
from services.triage.access.http_team import add_routes as add_team_routes
from services.triage.access.mail import MailConfig
from services.triage.composer.http import SUGGESTION_OUTCOME_KEY
from services.triage.composer.http import add_routes as add_composer_routes
from services.triage.desk.http import CLOCK_STOP_KEY, REPLY_ORIGIN_KEY
from services.triage.desk.http import add_routes as add_desk_routes
from services.triage.desk.stream import NEWS_KEY, DeskNews
from services.triage.incidents.detector import build_detector
from services.triage.incidents.http import add_routes as add_incident_routes
from services.triage.intake.consumer import handle_batch
from services.triage.metrics import TriageMetrics
from services.triage.moderation.http import add_routes as add_moderation_routes
from services.triage.openapi import DOCUMENT as OPENAPI
from services.triage.people.http import add_routes as add_people_routes
from services.triage.privacy.http import ERASURE_COUNTER_KEY, RETENTION_DEFAULT_KEY
from services.triage.privacy.http import add_routes as add_privacy_routes
from services.triage.privacy.retention import RetentionJob
from services.triage.routing.http import ASSIGNED_KEY, ROUTING_CONFIG_KEY
from services.triage.routing.http import add_routes as add_routing_routes
from services.triage.routing.metrics import RoutingMetrics
from services.triage.routing.usecases import RoutingConfig
from services.triage.routing.worker import RoutingWorker
from services.triage.rules.http import add_routes as add_rule_routes
from services.triage.search.http import add_routes as add_search_routes
from services.triage.settings import TriageSettings
from services.triage.sla.http import add_routes as add_sla_routes
from services.triage.sla.policy_cache import POLICY_CACHE_KEY, POLICY_CACHE_SECONDS
from services.triage.sla.scheduler import SlaScheduler
from services.triage.stats.http import add_routes as add_stats_routes
from services.triage.tags.http import add_routes as add_tag_routes
from services.triage.webhooks import sender as webhooks
from services.triage.webhooks.http import add_routes as add_webhook_routes

UI = Path(__file__).parent / "ui"
METRICS_KEY = web.AppKey("triage_metrics", TriageMetrics)
ROUTING_METRICS_KEY = web.AppKey("routing_metrics", RoutingMetrics)
CONSUMER_NAME = "triage"


def build_consumer(app: web.Application, settings: TriageSettings) -> Consumer:
    """The message-ingested consumer, counting its decisions and failures."""
    counters = app[METRICS_KEY]

    async def handler(conn: AsyncConnection, events: list[Event]) -> None:
        await handle_batch(
            conn,
            events,
            on_decision=counters.count_decision,
            on_clock_stop=counters.count_clock_stop,
            on_erasure=counters.count_erasure,
            on_rule_fired=counters.count_rule_fired,
        )

    return Consumer(
        app[ENGINE_KEY],
        settings.direct_url(),
        CONSUMER_NAME,
        handler,
        batch_size=settings.consumer_batch_size,
        poll_seconds=settings.consumer_poll_seconds,
        on_failure=counters.count_failure,
    )


def desk_news_context(settings: TriageSettings) -> Any:
    async def desk_news(app: web.Application) -> AsyncIterator[None]:
        """Live updates: one LISTEN for the process; open streams end at shutdown."""
        news = DeskNews(settings.direct_url())
        app[NEWS_KEY] = news
        task = asyncio.create_task(news.run())
        yield
        news.stop.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout=5)

    return desk_news


def brand_labels_context(settings: TriageSettings) -> Any:
    async def brand_labels(app: web.Application) -> AsyncIterator[None]:
        """Every process that counts SLA figures (API or worker) knows the brand labels."""
        stop = asyncio.Event()
        refresh = app[METRICS_KEY].refresh_brands_forever
        task = asyncio.create_task(refresh(app[ENGINE_KEY], stop, settings.gauges_refresh_seconds))
        yield
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout=10)

    return brand_labels


def create_app(settings: TriageSettings, *, api: bool = True) -> web.Application:
    """The triage HTTP app; with ``run_consumer`` it also triages incoming events.

    With ``api=False`` (a worker process) it serves only probes and metrics.
    """
    app = web.Application(middlewares=[security_headers, errors_middleware])
    registry = CollectorRegistry()
    metrics.install(app, registry, revision=settings.revision)
    metrics.install_pool_gauges(app, registry, ENGINE_KEY)
    app[METRICS_KEY] = TriageMetrics.create(registry, settings.metrics_brands).initialise()
    app[ROUTING_METRICS_KEY] = RoutingMetrics.create(registry)
    app.cleanup_ctx.append(database_context(settings))
    app.cleanup_ctx.append(brand_labels_context(settings))
    if settings.run_consumer:
        app.cleanup_ctx.append(workers_context(background_jobs, settings))
    _configure(app, settings)
    add_failure_limits(app, settings.auth_max_failures, settings.proxies())
    add_probes(app, settings.readiness_cache_seconds)
    add_openapi_route(app, OPENAPI)
    if api:
        _add_api(app, settings)
    return app


def background_jobs(
    app: web.Application,
    settings: TriageSettings,
    session: aiohttp.ClientSession,
    stop: asyncio.Event,
) -> list[Coroutine[Any, Any, None]]:
    """Every loop a worker process runs (event consumers, routing, the SLA scheduler,
    retention, the incident detector, the gauges), each until ``stop`` is set."""
    engine, counters = app[ENGINE_KEY], app[METRICS_KEY]
    scheduler = SlaScheduler(engine, settings.direct_url(), on_transition=counters.count_transition)
    hooks = Consumer(
        engine,
        settings.direct_url(),
        webhooks.CONSUMER,
        webhooks.sender(session),
        batch_size=1,
        on_failure=counters.count_failure,
    )
    retention = RetentionJob(
        engine,
        settings.retention_days,
        batch_size=settings.retention_batch_size,
        interval_seconds=settings.retention_interval_seconds,
        on_purged=counters.count_purged,
    )
    routing = RoutingWorker(
        engine,
        routing_config(settings),
        settings.routing_interval_seconds,
        on_assigned=app[ROUTING_METRICS_KEY].count,
        on_load=app[ROUTING_METRICS_KEY].set_load,
    )
    return [
        build_consumer(app, settings).run(stop),
        routing.run(stop),
        hooks.run(stop),
        scheduler.run(stop),
        retention.run(stop),
        build_detector(engine, settings, counters.count_incident).run(stop),
        counters.refresh_forever(engine, stop, settings.gauges_refresh_seconds),
    ]


def _configure(app: web.Application, settings: TriageSettings) -> None:
    """What the handlers read from the app: counters, caches and configuration."""
    app[CLOCK_STOP_KEY] = app[METRICS_KEY].count_clock_stop
    app[TOKEN_CACHE_KEY] = TtlCache(TOKEN_CACHE_SECONDS)
    app[AUTH_CONFIG_KEY] = auth_config(settings)
    app[TEAM_CONFIG_KEY] = team_config(settings)
    app[POLICY_CACHE_KEY] = TtlCache(POLICY_CACHE_SECONDS)
    app[REPLY_ORIGIN_KEY] = app[METRICS_KEY].count_reply_origin
    app[SUGGESTION_OUTCOME_KEY] = app[METRICS_KEY].count_suggestion
    app[ERASURE_COUNTER_KEY] = app[METRICS_KEY].count_erasure
    app[RETENTION_DEFAULT_KEY] = settings.retention_days
    app[ROUTING_CONFIG_KEY] = routing_config(settings)
    app[ASSIGNED_KEY] = app[ROUTING_METRICS_KEY].count


def _add_api(app: web.Application, settings: TriageSettings) -> None:
    """Every area's routes, the live desk news and the desk's static files."""
    add_sla_routes(app)
    add_webhook_routes(app)
    add_auth_routes(app)
    add_security_routes(app)
    add_team_routes(app)
    add_desk_routes(app)
    add_incident_routes(app)
    add_stats_routes(app)
    add_search_routes(app)
    add_composer_routes(app)
    add_tag_routes(app)
    add_rule_routes(app)
    add_moderation_routes(app)
    add_people_routes(app)
    add_privacy_routes(app)
    add_routing_routes(app)
    app.cleanup_ctx.append(desk_news_context(settings))
    app.router.add_get("/", _index)
    app.router.add_static("/ui/", UI, show_index=False)


def auth_config(settings: TriageSettings) -> AuthConfig:
    """Session lifetimes and the TOTP sealing keys, from the settings."""
    return AuthConfig(
        SessionLimits(
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_max_hours),
        ),
        settings.two_factor_box(),
    )


def routing_config(settings: TriageSettings) -> RoutingConfig:
    """When an idle user reads as offline, the default maximum of open claims, the round."""
    return RoutingConfig(
        idle=timedelta(minutes=settings.presence_idle_minutes),
        max_open_claims=settings.routing_max_open_claims,
        batch_size=settings.routing_batch_size,
    )


def team_config(settings: TriageSettings) -> TeamConfig:
    """Where one-time links point, and the SMTP server that mails them, from the settings."""
    password = settings.smtp_password
    return TeamConfig(
        settings.public_url,
        MailConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            user=settings.smtp_user,
            password=password.get_secret_value() if password else None,
            sender=settings.smtp_from,
            timeout=settings.smtp_timeout_seconds,
        ),
    )


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(UI / "index.html")
