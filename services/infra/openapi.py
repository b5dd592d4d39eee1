"""Building an OpenAPI 3.1 document from route descriptions and pydantic models.

Each service lists its operations once (method, path, summary, request model, answer model,
answers); the document is built from that list. Request schemas come from the pydantic models
the handlers validate bodies with, answer schemas from the models the handlers build their
answers through (``services.infra.http.model_response``), so neither can drift apart from the
code unnoticed (a test compares the document with the router, and served answers with it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from services.infra.http import AliveOut, ReadyOut, json_response

PROBLEM = {
    "type": "object",
    "required": ["title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"pointer": {"type": "string"}, "detail": {"type": "string"}},
            },
        },
    },
}
TEXT: dict[str, Any] = {"type": "string"}
REF = "#/components/schemas/"
JSON = "application/json"
PROBLEM_MEDIA = "application/problem+json"
ROW_ID: dict[str, Any] = {"type": "integer", "format": "int64", "minimum": 1}
"""A row id in a path (``services.infra.http.path_id``); another workspace's answers 404."""
UUID: dict[str, Any] = {"type": "string", "format": "uuid"}
"""A uuid in a path; one that is not a uuid answers 404."""
SECURITY: dict[str | None, list[dict[str, list[str]]]] = {
    "bearer": [{"bearer": []}, {"session": []}],
    "ingest": [{"ingest": []}],
    "channels": [{"channels": []}],
    None: [],
}


@dataclass(frozen=True)
class Media:
    """A body that is not JSON (a page, an image, protobuf bytes): its media type, and what
    it holds in words."""

    type: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: dict(TEXT))


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    answers: dict[int, str] = field(default_factory=dict)  # status -> description
    returns: Any = None
    """The shape of its 2xx answers' JSON body, an ``Out`` or a union of them (the handler
    answers through it with ``services.infra.http.model_response``)."""
    answers_as: tuple[Media, ...] = ()
    """Other media its 2xx answers come as (all of them when ``returns`` is None)."""
    accepts: tuple[Media, ...] = ()
    """Other media its body may come as, besides ``body`` in JSON."""
    auth: str | None = "bearer"
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    path_params: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> schema

    @property
    def success_media(self) -> str:
        """The media type of its usual 2xx answer."""
        return JSON if self.returns is not None else self.answers_as[0].type


PROBES = [
    Operation(
        "GET",
        "/livez",
        "The process answers",
        "probes",
        auth=None,
        answers={200: "Alive"},
        returns=AliveOut,
    ),
    Operation(
        "GET",
        "/readyz",
        "The database answers",
        "probes",
        auth=None,
        answers={200: "Ready", 503: "The database cannot be reached"},
        returns=ReadyOut,
    ),
    Operation(
        "GET",
        "/metrics",
        "Prometheus metrics",
        "probes",
        auth=None,
        answers={200: "Text exposition format"},
        answers_as=(Media("text/plain", "Prometheus text exposition format"),),
    ),
]
"""The probes and metrics every service serves (services/infra/http.py, metrics.py)."""


SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An agent's API token.",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "ecoute_session",
        "description": "The desk's session; writes also need X-CSRF-Token.",
    },
    "ingest": {
        "type": "http",
        "scheme": "bearer",
        "description": "An inbox token with the ingest scope (a producer's).",
    },
    "channels": {
        "type": "http",
        "scheme": "bearer",
        "description": "An inbox token with the channels scope (a workspace admin's).",
    },
}
"""How an operation's ``auth`` is sent: an agent's token or session, an inbox token."""


def document(
    title: str, version: str, description: str, operations: list[Operation]
) -> dict[str, Any]:
    """The OpenAPI document of ``operations``; component schemas from their pydantic models."""
    components = Components()
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {"schemas": components.schemas, "securitySchemes": SECURITY_SCHEMES},
    }


class Components:
    """``components/schemas``: each model once, by name; two models of one name are refused
    (the later would silently replace the earlier)."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {"Problem": PROBLEM}
        self._owners: dict[str, Any] = {"Problem": PROBLEM}

    def ref(self, model: Any, mode: JsonSchemaMode) -> dict[str, Any]:
        """A ``$ref`` to the schema of ``model`` (a request body's model, read: ``validation``;
        an answer's shape, written: ``serialization``), added with those it refers to; a
        union of them is its ``anyOf`` of references."""
        schema = TypeAdapter(model).json_schema(ref_template=REF + "{model}", mode=mode)
        for name, definition in schema.pop("$defs", {}).items():
            self._add(name, definition, definition)
        if not isinstance(model, type):
            return schema
        self._add(model.__name__, schema, model)
        return {"$ref": REF + model.__name__}

    def _add(self, name: str, schema: dict[str, Any], owner: Any) -> None:
        known = self._owners.setdefault(name, owner)
        if known is not owner and self.schemas.get(name) != schema:
            raise ValueError(f"two schemas are named {name!r}: rename one of the models")
        self.schemas[name] = schema


def _operation(op: Operation, components: Components) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": _operation_id(op),
        "responses": _responses(op, components),
    }
    parameters = _parameters(op)
    if parameters:
        entry["parameters"] = parameters
    if op.body is not None:
        content = {JSON: {"schema": components.ref(op.body, "validation")}}
        entry["requestBody"] = {"required": True, "content": content | _media(op.accepts)}
    entry["security"] = SECURITY[op.auth]
    return entry


def _media(media: tuple[Media, ...]) -> dict[str, Any]:
    return {m.type: {"schema": {**m.schema, "description": m.description}} for m in media}


def _operation_id(op: Operation) -> str:
    """``get_v1_conversations_id_sla`` for ``GET /v1/conversations/{id}/sla``."""
    name = f"{op.method.lower()}_{op.path.strip('/').replace('/', '_')}"
    for gone, kept in (("{", ""), ("}", ""), ("-", "_"), (".", "_")):
        name = name.replace(gone, kept)
    return name


def _parameters(op: Operation) -> list[dict[str, Any]]:
    """Path parameters (each typed: ``Operation.path_params``), then the query's."""
    names = [part[1:-1] for part in op.path.split("/") if part.startswith("{")]
    untyped = set(names) - set(op.path_params)
    if untyped:
        raise ValueError(f"{op.method} {op.path}: give path_params for {sorted(untyped)}")
    return [
        {"name": name, "in": "path", "required": True, "schema": op.path_params[name]}
        for name in names
    ] + [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in op.query.items()
    ]


def _responses(op: Operation, components: Components) -> dict[str, Any]:
    """Every answer: 2xx with the operation's model (and other media), errors as problems."""
    if op.returns is None and not op.answers_as:
        raise ValueError(f"{op.method} {op.path}: say what it answers (returns or answers_as)")
    answers = dict(op.answers)
    if op.body is not None:
        # Every body is read with a size limit and validated (``read_model``): a larger one
        # answers 413, an invalid one 422 (an operation may say more of its 422).
        answers.setdefault(413, "Too large")
        answers.setdefault(422, "Invalid body")
    success = _media(op.answers_as)
    if op.returns is not None:
        success = {JSON: {"schema": components.ref(op.returns, "serialization")}} | success
    problem = {PROBLEM_MEDIA: {"schema": {"$ref": REF + "Problem"}}}
    return {
        str(status): {"description": description, "content": success if status < 400 else problem}
        for status, description in sorted(answers.items() or [(200, "OK")])
    }


def add_openapi_route(app: web.Application, built: dict[str, Any]) -> None:
    async def serve(request: web.Request) -> web.Response:
        return json_response(built)

    app.router.add_get("/openapi.json", serve)


def routes_of(app: web.Application) -> set[tuple[str, str]]:
    """(method, path template) of every route an app answers (HEAD and static left out)."""
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method not in ("HEAD", "*"):
            found.add((route.method, path))
    return found
