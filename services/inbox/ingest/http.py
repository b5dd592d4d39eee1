"""``POST /v1/ingest``: a batch of normalised messages from any producer."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Literal

from aiohttp import web

from ecoute.v1 import ingest_pb2
from services.inbox.domain.batch import ItemResult
from services.inbox.ingest.auth import ingest_token, workspace_of
from services.inbox.ingest.request import BatchError, parse_json, parse_protobuf
from services.inbox.ingest.store import store_batch
from services.inbox.metrics import InboxMetrics
from services.inbox.settings import InboxSettings
from services.infra.http import (
    ENGINE_KEY,
    REQUEST_ID_KEY,
    Out,
    ProblemError,
    model_response,
    read_body,
)

log = logging.getLogger("ecoute.inbox.ingest")

SETTINGS_KEY = web.AppKey("settings", InboxSettings)
METRICS_KEY = web.AppKey("metrics", InboxMetrics)

PROTOBUF = "application/x-protobuf"


class IngestItemOut(Out):
    index: int  # the item's place in the batch
    external_id: str
    status: Literal["stored", "duplicate"]
    message_id: int
    conversation_id: int


class IngestOut(Out):
    """What became of each item (JSON; ``ecoute.v1.IngestResult`` when protobuf is asked)."""

    stored: int
    duplicates: int
    items: list[IngestItemOut]


async def ingest(request: web.Request) -> web.Response:
    """Store a batch exactly once per message and say which items were duplicates."""
    settings = request.app[SETTINGS_KEY]
    metrics = request.app[METRICS_KEY]
    token = ingest_token(request)
    content_type = request.content_type
    if content_type not in ("application/json", PROTOBUF):
        metrics.rejected_batches.labels("415").inc()
        raise ProblemError(
            415,
            "Unsupported Media Type",
            f"Send application/json or {PROTOBUF}, not {content_type!r}.",
        )
    try:
        body = await read_body(request, settings.max_body_bytes)
    except ProblemError as exc:
        metrics.rejected_batches.labels(str(exc.status)).inc()
        raise
    engine = request.app[ENGINE_KEY]
    workspace_id = await workspace_of(request, token)
    try:
        parse = parse_protobuf if content_type == PROTOBUF else parse_json
        messages = parse(body, settings.max_batch_messages)
    except BatchError as exc:
        metrics.rejected_batches.labels(str(exc.status)).inc()
        raise ProblemError(
            exc.status, exc.title, exc.detail, **({"errors": exc.errors} if exc.errors else {})
        ) from None

    async with engine.begin() as conn:
        results = await store_batch(conn, workspace_id, messages, datetime.now(UTC))

    stored = [r for r in results if r.status == "stored"]
    metrics.count_stored(messages, results)
    log.info(
        "batch ingested",
        extra={
            "request_id": request[REQUEST_ID_KEY],
            "workspace_id": str(workspace_id),
            "stored": len(stored),
            "duplicates": len(results) - len(stored),
        },
    )
    if PROTOBUF in request.headers.get("Accept", ""):
        return _protobuf_result(results, len(stored))
    return _json_result(results, len(stored))


def _json_result(results: list[ItemResult], stored: int) -> web.Response:
    return model_response(
        IngestOut,
        {
            "stored": stored,
            "duplicates": len(results) - stored,
            "items": [
                {
                    "index": r.index,
                    "external_id": r.external_id,
                    "status": r.status,
                    "message_id": r.message_id,
                    "conversation_id": r.conversation_id,
                }
                for r in results
            ],
        },
    )


def _protobuf_result(results: list[ItemResult], stored: int) -> web.Response:
    answer = ingest_pb2.IngestResult(
        stored=stored,
        duplicates=len(results) - stored,
        items=[
            ingest_pb2.IngestItemResult(
                index=r.index,
                external_id=r.external_id,
                status=r.status,
                message_id=r.message_id,
                conversation_id=r.conversation_id,
            )
            for r in results
        ],
    )
    return web.Response(body=answer.SerializeToString(), content_type=PROTOBUF)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/ingest", ingest)
