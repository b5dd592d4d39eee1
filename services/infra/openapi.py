"""Building an OpenAPI 3.1 document from route descriptions and pydantic models.

Each service lists its operations once (method, path, summary, request model, answers); the
document is built from that list and request schemas come from the same pydantic models the
handlers validate with, so the two cannot drift apart unnoticed (a test compares the
document with the router).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from services.infra.http import json_response

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
OBJECT: dict[str, Any] = {"type": "object"}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    body_media: str = "application/json"
    answers: dict[int, str] = field(default_factory=dict)  # status -> description
    success: dict[str, Any] = field(default_factory=lambda: dict(OBJECT))
    success_media: str = "application/json"
    auth: str | None = "bearer"
    query: dict[str, dict[str, Any]] = field(default_factory=dict)


PROBES = [
    Operation("GET", "/livez", "The process answers", "probes", auth=None, answers={200: "Alive"}),
    Operation(
        "GET",
        "/readyz",
        "The database answers",
        "probes",
        auth=None,
        answers={200: "Ready", 503: "The database cannot be reached"},
    ),
    Operation(
        "GET",
        "/metrics",
        "Prometheus metrics",
        "probes",
        auth=None,
        answers={200: "Text exposition format"},
        success={"type": "string"},
        success_media="text/plain",
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
    components: dict[str, Any] = {"Problem": PROBLEM}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        entry: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": f"{op.method.lower()}_{op.path.strip('/').replace('/', '_')}".replace(
                "{", ""
            )
            .replace("}", "")
            .replace("-", "_")
            .replace(".", "_"),
            "responses": {},
        }
        parameters = [
            {"name": name[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
            for name in op.path.split("/")
            if name.startswith("{")
        ]
        parameters += [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in op.query.items()
        ]
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            schema = op.body.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in schema.pop("$defs", {}).items():
                components[name] = definition
            components[op.body.__name__] = schema
            entry["requestBody"] = {
                "required": True,
                "content": {
                    op.body_media: {"schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}
                },
            }
        answers = dict(op.answers)
        if op.body is not None:
            # Every body is read with a size limit (``read_body``): a larger one answers 413.
            answers.setdefault(413, "Too large")
        success = min(answers) if answers else 200
        for status, description in sorted(answers.items() or [(200, "OK")]):
            if status < 400:
                entry["responses"][str(status)] = {
                    "description": description,
                    "content": {op.success_media: {"schema": op.success}},
                }
            else:
                entry["responses"][str(status)] = {
                    "description": description,
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                }
        entry["responses"].setdefault(str(success), {"description": "OK"})
        if op.auth == "bearer":
            entry["security"] = [{"bearer": []}, {"session": []}]
        elif op.auth in ("ingest", "channels"):
            entry["security"] = [{op.auth: []}]
        else:
            entry["security"] = []
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": SECURITY_SCHEMES,
        },
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
