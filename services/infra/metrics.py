"""Prometheus helpers: one registry per app, HTTP request durations by route template."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Awaitable, Callable, Hashable, Iterable
from importlib import metadata
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

# Request durations a person feels: 5 ms .. 10 s.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REGISTRY_KEY = web.AppKey("metrics_registry", CollectorRegistry)
HTTP_DURATION_KEY = web.AppKey("http_duration", Histogram)

OTHER_LABEL = "other"
"""The label value every key shares beyond a bounded label's cap (and when it has no name)."""
LABEL_MAX_CHARS = 40

K = TypeVar("K", bound=Hashable)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def install(app: web.Application, registry: CollectorRegistry, *, revision: str) -> None:
    """Give the app its registry, the HTTP histogram, its middleware and ``/metrics``.

    The registry also carries what the global one would have: the process (memory, CPU, open
    files), the garbage collector and the interpreter, plus ``ecoute_build_info``.
    """
    disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created doubles every series
    app[REGISTRY_KEY] = registry
    install_runtime_collectors(registry, revision)
    app[HTTP_DURATION_KEY] = Histogram(
        "ecoute_http_request_duration_seconds",
        "Time to answer an HTTP request, by route template, method and status class.",
        ["method", "route", "status"],
        buckets=HTTP_BUCKETS,
        registry=registry,
    )
    app.middlewares.insert(0, _measure)
    app.router.add_get("/metrics", _serve_metrics)


def install_runtime_collectors(registry: CollectorRegistry, revision: str) -> None:
    """``process_*``, ``python_gc_*``, ``python_info`` and ``ecoute_build_info`` on ``registry``.

    The collectors are the library's own, registered again on the app's registry (each app
    has one, so that two apps in one test process do not share counters).
    """
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)
    Gauge(
        "ecoute_build_info",
        "Always 1: the running code's package version and source revision (image build).",
        ["version", "revision"],
        registry=registry,
    ).labels(package_version(), revision or "unknown").set(1)


def package_version() -> str:
    """The installed distribution's version (``pyproject.toml``), or "unknown" from a tree."""
    try:
        return metadata.version("ecoute")
    except metadata.PackageNotFoundError:
        return "unknown"


def slug(name: str) -> str:
    """A label value from a display name: ASCII lower case, words joined by ``-``, bounded."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return words[:LABEL_MAX_CHARS].rstrip("-")


def bounded_labels(names: Iterable[tuple[K, str]], cap: int) -> dict[K, str]:
    """One label value per key, from its name, never more than ``cap`` distinct (plus "other").

    The first ``cap`` keys in the given order (oldest first, so a new key never takes an
    existing key's value away) keep their name's slug; the rest, and any key whose slug is
    empty, taken or "other", share "other". A label is therefore never an id, and a scrape
    holds at most ``cap + 1`` values whatever the number of keys.
    """
    labels: dict[K, str] = {}
    taken = {OTHER_LABEL}
    for key, name in names:
        value = slug(name)
        if len(taken) > cap or not value or value in taken:
            labels[key] = OTHER_LABEL
            continue
        taken.add(value)
        labels[key] = value
    return labels


def install_pool_gauges(
    app: web.Application, registry: CollectorRegistry, engine_key: web.AppKey[Any]
) -> None:
    """Connections in use and pool size, read from the app's engine at scrape time."""

    def pool_value(read: Callable[[Any], int]) -> Callable[[], float]:
        def value() -> float:
            engine = app.get(engine_key)
            return float(read(engine.pool)) if engine is not None else 0.0

        return value

    Gauge(
        "ecoute_db_pool_connections_in_use",
        "Database connections checked out of the pool.",
        registry=registry,
    ).set_function(pool_value(lambda pool: pool.checkedout()))
    Gauge(
        "ecoute_db_pool_size", "Database connections the pool keeps.", registry=registry
    ).set_function(pool_value(lambda pool: pool.size()))


def route_template(request: web.Request) -> str:
    """The route as declared (``/v1/conversations/{id}``), never the concrete path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def _measure(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        method = request.method if request.method in _METHODS else "other"
        request.app[HTTP_DURATION_KEY].labels(
            method, route_template(request), f"{status // 100}xx"
        ).observe(time.perf_counter() - started)


async def _serve_metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
