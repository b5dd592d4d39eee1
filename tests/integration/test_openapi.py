"""Each service's OpenAPI document describes exactly the routes it answers."""

from __future__ import annotations

from typing import Any

import pytest

from services.inbox.app import create_app as create_inbox
from services.infra.openapi import routes_of
from services.triage.app import create_app as create_triage
from tests.support.world import inbox_settings, triage_settings

UNDOCUMENTED = {("GET", "/openapi.json")}


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
