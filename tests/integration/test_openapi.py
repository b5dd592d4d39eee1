"""Each service's OpenAPI document describes exactly the routes it answers, and what they
answer: a representative call of every documented operation answers 2xx with a body its
declared schema accepts (JSON Schema 2020-12, formats checked), in a declared media type.

The calls act on a workspace populated as the security tests populate theirs (one object of
every kind, through the APIs), with the security catalog's paths and bodies; only the calls
that catalog makes fail on purpose (a wrong password, a wrong code, an unsigned webhook) are
replaced here by ones that succeed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from fakes.whatsapp import WhatsAppState
from fakes.whatsapp import create_app as create_whatsapp
from services.inbox.app import create_app as create_inbox
from services.inbox.ingest.http import PROTOBUF
from services.inbox.webhooks.http_meta import expected_signature
from services.inbox.webhooks.http_x import signature
from services.infra.http import Out, ReadyOut
from services.infra.openapi import Operation, document, routes_of
from services.triage.app import create_app as create_triage
from tests.security import catalog
from tests.security.conftest import META_SECRET, META_VERIFY, X_SECRET
from tests.security.world import PASSWORD, Populated, populate
from tests.support.authenticator import Authenticator
from tests.support.world import bearer, inbox_settings, triage_settings

UNDOCUMENTED = {("GET", "/openapi.json")}
Key = tuple[str, str]


@pytest.mark.parametrize("service", ["inbox", "triage"])
async def test_the_document_matches_the_router(
    aiohttp_client: Any, database_url: str, service: str
) -> None:
    app = (
        create_inbox(inbox_settings(database_url))
        if service == "inbox"
        else create_triage(triage_settings(database_url))
    )
    client = await aiohttp_client(app)
    answer = await client.get("/openapi.json")
    assert answer.status == 200
    document = await answer.json()
    assert document["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(document).validate()  # against the OpenAPI 3.1 schema
    described = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    served = routes_of(app) - UNDOCUMENTED
    assert described == served, {
        "undocumented": served - described,
        "not served": described - served,
    }
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["responses"], (method, path)
            if "requestBody" in operation:  # every body is read with a size limit
                assert "413" in operation["responses"], (method, path)
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    media = response["content"]["application/problem+json"]
                    assert media["schema"]["$ref"] == "#/components/schemas/Problem"
                    continue
                # Every success says what it holds: JSON by a component's schema.
                assert response["content"], (method, path, status)
                for media, described_body in response["content"].items():
                    schema = described_body["schema"]
                    if media == "application/json":
                        refs = [schema] if "$ref" in schema else schema["anyOf"]
                        for ref in refs:
                            name = ref["$ref"].removeprefix("#/components/schemas/")
                            assert name in document["components"]["schemas"], ref
                    else:
                        assert schema.get("type") == "string", (method, path, media)


class Conformance:
    """Checks a served answer against the operation's declared response."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = DRAFT202012.create_resource(document)
        self.registry: Registry[Any] = Registry().with_resource("urn:document", resource)

    def check(self, key: Key, status: int, content_type: str, body: bytes) -> None:
        method, path = key
        responses = self.document["paths"][path][method.lower()]["responses"]
        assert str(status) in responses, f"{method} {path}: {status} is not documented"
        media = content_type.split(";")[0].strip()
        content = responses[str(status)]["content"]
        assert media in content, f"{method} {path}: {media} is not documented for {status}"
        assert body, f"{method} {path}: an empty answer"
        if media != "application/json":
            return
        pointer = "/".join(
            part.replace("~", "~0").replace("/", "~1")
            for part in ("paths", path, method.lower(), "responses", str(status), "content")
        )
        validator = Draft202012Validator(
            {"$ref": f"urn:document#/{pointer}/application~1json/schema"},
            registry=self.registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
            for e in validator.iter_errors(orjson.loads(body))
        ]
        assert not errors, f"{method} {path} answered beside its schema: {errors[:5]}"


@dataclass
class Scenario:
    """The world the calls act on, and what earlier answers gave later calls."""

    world: Populated
    answers: dict[Key, Any] = field(default_factory=dict)
    authenticator: Authenticator | None = None


Request = dict[str, Any]  # path, headers, json or data
Override = Callable[[Scenario], Awaitable[Request]]

SELF_SERVICE = {
    # Two-factor and password changes end the user's other sessions: done by the lead, so
    # the agent's spare session is still there to be ended by DELETE /v1/sessions/{id}.
    ("GET", "/v1/me/two-factor"),
    ("POST", "/v1/me/two-factor/enrol"),
    ("GET", "/v1/me/two-factor/qr.svg"),
    ("POST", "/v1/me/two-factor/confirm"),
    ("POST", "/v1/me/two-factor/disable"),
    ("POST", "/v1/me/two-factor/recovery-codes"),
    ("POST", "/v1/me/password"),
}
MOVED: dict[Key, Key] = {
    # key -> the operation it runs after (the document's order would make it fail).
    # Recovery codes need two-factor on; disabling it takes one of them.
    ("POST", "/v1/me/two-factor/disable"): ("POST", "/v1/me/two-factor/recovery-codes"),
    # A reply needs the claim that release gives up.
    ("POST", "/v1/conversations/{id}/release"): ("POST", "/v1/conversations/{id}/notes"),
    # A link is read, then used, once the admin's invitation made one.
    ("POST", "/v1/auth/link"): ("POST", "/v1/invitations"),
    ("POST", "/v1/auth/link/accept"): ("POST", "/v1/auth/link"),
}


async def _login(s: Scenario) -> Request:
    """The spare user has two-factor on: the password step answers with a pending token."""
    return {"json": {"email": s.world.spare_email, "password": PASSWORD}}


async def _login_code(s: Scenario) -> Request:
    pending = s.answers[("POST", "/v1/auth/login")]["pending_token"]
    return {"json": {"pending_token": pending, "code": s.world.recovery_code}}


async def _confirm(s: Scenario) -> Request:
    enrolled = s.answers[("POST", "/v1/me/two-factor/enrol")]
    s.authenticator = Authenticator(enrolled["secret"])
    return {"json": {"code": await s.authenticator.code()}}


async def _recovery_codes(s: Scenario) -> Request:
    assert s.authenticator is not None
    return {"json": {"code": await s.authenticator.code()}}


async def _disable(s: Scenario) -> Request:
    codes = s.answers[("POST", "/v1/me/two-factor/recovery-codes")]["recovery_codes"]
    return {"json": {"code": codes[0]}}


def _invitation_link(s: Scenario) -> str:
    return str(s.answers[("POST", "/v1/invitations")]["link"].split("#invitation=")[1])


async def _link(s: Scenario) -> Request:
    return {"json": {"token": _invitation_link(s)}}


async def _accept(s: Scenario) -> Request:
    return {"json": {"token": _invitation_link(s), "password": PASSWORD}}


async def _x_crc(s: Scenario) -> Request:
    return {"path": "/webhooks/x?crc_token=conformance"}


async def _search(s: Scenario) -> Request:
    return {"path": "/v1/search?q=parcel"}


async def _x_event(s: Scenario) -> Request:
    body = orjson.dumps({"for_user_id": "1"})
    return {
        "path": "/webhooks/x",
        "data": body,
        "headers": {
            "x-twitter-webhooks-signature": signature(X_SECRET, body),
            "Content-Type": "application/json",
        },
    }


async def _assign_to_myself(s: Scenario) -> Request:
    """The agent holds the conversation and passes it to themselves (a renewal): the reply,
    note and release that follow still need their claim."""
    me = s.answers[("GET", "/v1/me")]["user"]["id"]
    return {"json": {"user_id": me, "note": "still mine"}}


OVERRIDES: dict[Key, Override] = {
    ("POST", "/v1/conversations/{id}/assign"): _assign_to_myself,
    ("POST", "/v1/auth/login"): _login,
    ("POST", "/v1/auth/login/code"): _login_code,
    ("POST", "/v1/me/two-factor/confirm"): _confirm,
    ("POST", "/v1/me/two-factor/recovery-codes"): _recovery_codes,
    ("POST", "/v1/me/two-factor/disable"): _disable,
    ("POST", "/v1/auth/link"): _link,
    ("POST", "/v1/auth/link/accept"): _accept,
    ("GET", "/webhooks/{platform}"): _x_crc,
    ("GET", "/v1/search"): _search,
    ("POST", "/webhooks/{platform}"): _x_event,
}


def _in_order(operations: list[Operation]) -> list[Operation]:
    ordered = [op for op in operations if catalog.key(op) not in MOVED]
    for op in operations:
        after = MOVED.get(catalog.key(op))
        if after is not None:
            ordered.insert(1 + [catalog.key(o) for o in ordered].index(after), op)
    return ordered


def _credentials(op: Operation, world: Populated) -> dict[str, str]:
    if op.auth in catalog.INBOX_SCOPES:
        return bearer(world.inbox_token(op.auth))
    if op.auth is None:
        return {}
    key = catalog.key(op)
    return bearer(world.token("lead" if key in SELF_SERVICE else catalog.ROLES[key]))


async def _request(op: Operation, s: Scenario) -> Request:
    key = catalog.key(op)
    if key in OVERRIDES:
        request = await OVERRIDES[key](s)
    else:
        payload = catalog.body(op, s.world)
        request = {} if payload is None else {"json": payload}
    request.setdefault("path", catalog.url(op, s.world))
    request["headers"] = {**_credentials(op, s.world), **request.get("headers", {})}
    return request


async def _send(client: Any, method: str, request: Request) -> tuple[int, str, bytes]:
    """One call; an event stream is read for a moment. Cookies are dropped after each call:
    every call names its own credentials."""
    path = request.pop("path")
    response = await client.request(method, path, **request)
    try:
        if response.content_type == "text/event-stream":
            try:
                body = await asyncio.wait_for(response.content.read(4096), timeout=0.5)
            except TimeoutError:
                body = b""
        else:
            body = await response.read()
        return response.status, response.headers.get("Content-Type", ""), body
    finally:
        response.close()
        client.session.cookie_jar.clear()


@pytest.fixture
async def apps(
    aiohttp_client: Any, aiohttp_server: Any, database_url: str, tmp_path: Path
) -> tuple[Any, Any, Populated]:
    inbox = await aiohttp_client(
        create_inbox(
            inbox_settings(
                database_url,
                run_workers=False,
                x_consumer_secret=X_SECRET,
                meta_app_secret=META_SECRET,
                meta_verify_token=META_VERIFY,
                channel_credentials_dir=str(tmp_path),
            )
        )
    )
    triage = await aiohttp_client(create_triage(triage_settings(database_url, run_consumer=False)))
    whatsapp = WhatsAppState()
    fake = await aiohttp_server(create_whatsapp(whatsapp))
    url = str(fake.make_url("")).rstrip("/")
    world = await populate(database_url, inbox, triage, "Conformance", tmp_path, whatsapp, url)
    return inbox, triage, world


async def test_every_operation_answers_as_documented(apps: tuple[Any, Any, Populated]) -> None:
    inbox, triage, world = apps
    scenario = Scenario(world)
    for service, client in (("inbox", inbox), ("triage", triage)):
        conformance = Conformance(await (await client.get("/openapi.json")).json())
        answered: set[Key] = set()
        for op in _in_order(catalog.SERVICES[service]):
            key = catalog.key(op)
            status, content_type, body = await _send(
                client, op.method, await _request(op, scenario)
            )
            assert 200 <= status < 300, f"{service} {key}: {status} {body[:500]!r}"
            conformance.check(key, status, content_type, body)
            if content_type.startswith("application/json"):
                scenario.answers[key] = orjson.loads(body)
            answered.add(key)
        documented = {
            (method.upper(), path)
            for path, item in conformance.document["paths"].items()
            for method in item
        }
        assert answered == documented, documented - answered


async def test_other_documented_answers(apps: tuple[Any, Any, Populated]) -> None:
    """The answers a representative call does not show: the protobuf result of an ingest,
    Meta's handshake (text) and event delivery, and a sign-in without two-factor."""
    inbox, triage, world = apps
    inbox_document = Conformance(await (await inbox.get("/openapi.json")).json())
    triage_document = Conformance(await (await triage.get("/openapi.json")).json())
    event = orjson.dumps({"object": "page", "entry": []})
    calls: list[tuple[Any, Conformance, Key, Request]] = [
        (
            inbox,
            inbox_document,
            ("POST", "/v1/ingest"),
            {
                "path": "/v1/ingest",
                "json": catalog.BODIES[("POST", "/v1/ingest")](world),
                "headers": {**bearer(world.ingest), "Accept": PROTOBUF},
            },
        ),
        (
            inbox,
            inbox_document,
            ("GET", "/webhooks/{platform}"),
            {
                "path": "/webhooks/meta",
                "params": {
                    "hub.mode": "subscribe",
                    "hub.verify_token": META_VERIFY,
                    "hub.challenge": "conformance",
                },
            },
        ),
        (
            inbox,
            inbox_document,
            ("POST", "/webhooks/{platform}"),
            {
                "path": "/webhooks/meta",
                "data": event,
                "headers": {
                    "X-Hub-Signature-256": expected_signature(META_SECRET, event),
                    "Content-Type": "application/json",
                },
            },
        ),
        (
            triage,
            triage_document,
            ("POST", "/v1/auth/login"),
            {
                "path": "/v1/auth/login",
                "json": {"email": world.emails["admin"], "password": PASSWORD},
            },
        ),
    ]
    media = []
    for client, conformance, key, request in calls:
        status, content_type, body = await _send(client, key[0], request)
        assert status == 200, f"{key}: {status} {body[:500]!r}"
        conformance.check(key, status, content_type, body)
        media.append(content_type.split(";")[0])
    assert media == [PROTOBUF, "text/plain", "application/json", "application/json"]


class ThingOut(Out):
    """A shape with a nested one, for the conformance check's own test."""

    id: int
    ready: ReadyOut


def test_conformance_refuses_what_the_document_does_not_say() -> None:
    conformance = Conformance(
        document(
            "t",
            "1",
            "d",
            [Operation("GET", "/thing", "A thing", "t", answers={200: "It"}, returns=ThingOut)],
        )
    )
    key = ("GET", "/thing")
    good = orjson.dumps({"id": 1, "ready": {"status": "ready", "database": "ok"}})
    conformance.check(key, 200, "application/json; charset=utf-8", good)
    wrong = [
        (200, "application/json", orjson.dumps({"id": "1", "ready": {"status": "ready"}})),
        (200, "application/json", orjson.dumps({"id": 1, "ready": {}, "more": True})),
        (200, "text/plain", b"it"),
        (201, "application/json", good),
    ]
    for status, media, body in wrong:
        with pytest.raises(AssertionError):
            conformance.check(key, status, media, body)
