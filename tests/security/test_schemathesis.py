"""Schemathesis against both OpenAPI documents: no 5xx, and every answer as documented.

Each operation gets a bounded number of generated requests (valid and invalid ones), sent
over HTTP to the real apps on a real Postgres with real credentials (for triage, a role
drawn per request). Checks: no server error, a documented status code, the documented
content type, and a body matching the documented schema.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.security import catalog
from tests.security.conftest import FUZZ_SCALE, Worlds
from tests.security.world import Populated
from tests.support.world import bearer

EXAMPLES = 12 * FUZZ_SCALE
"""Per operation and generation mode: 12 bounds the run to about a minute on a busy 2-core
box; ECOUTE_FUZZ_SCALE=10 searches ten times deeper (and at random)."""
REAL_BODIES = {("PUT", "/v1/channels/{platform}/{key}")}
"""Operations that reach a real object only with the catalog's body (a channel must name the
workspace's own credentials, which no generator guesses): tried with it too."""
STREAMS = {("GET", "/v1/stream")}
"""Answers that never end: tested by the role and isolation matrices instead."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz(
    document: dict[str, Any],
    base_url: str,
    credentials: list[dict[str, str]],
    target: Populated,
) -> tuple[list[str], list[tuple[str, int]]]:
    """Run every operation; returns the failures (empty when all held) and what answered.

    Path parameters are drawn at random half of the time, and otherwise name the target
    workspace's real objects (from the security catalog), so handlers past the lookup run.
    """
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    seen: list[tuple[str, int]] = []
    session = requests.Session()
    operations = [result.ok() for result in schema.get_all_operations()]
    # Those that may oblige every user to enrol in two-factor go last (see catalog.LAST).
    operations.sort(key=lambda o: (o.method.upper(), o.path) in catalog.LAST)
    for operation in operations:
        if (operation.method.upper(), operation.path) in STREAMS:
            continue
        definition = operation.definition.raw
        negatable = "requestBody" in definition or any(
            p.get("in") == "query" for p in definition.get("parameters", [])
        )
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if negatable else [])
        for mode in modes:
            cases = operation.as_strategy(generation_mode=mode)
            key = (operation.method.upper(), operation.path)
            real = catalog.PATH_IDS.get(key)
            if real is not None:
                alternatives = [
                    cases,
                    operation.as_strategy(generation_mode=mode, path_parameters=real.fill(target)),
                ]
                if key in REAL_BODIES and mode == GenerationMode.POSITIVE:
                    alternatives.append(
                        operation.as_strategy(
                            generation_mode=mode,
                            path_parameters=real.fill(target),
                            body=catalog.BODIES[key](target),
                        )
                    )
                cases = st.one_of(*alternatives)

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=FUZZ_SCALE == 1,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=cases, who=st.sampled_from(credentials))
            def run(case: Any, who: dict[str, str]) -> None:
                response = case.call(base_url=base_url, session=session, headers=who, timeout=30)
                seen.append((case.operation.path, response.status_code))
                case.validate_response(response, checks=CHECKS)

            try:
                run()
            except Exception as exc:  # a failed check, with its reproduction
                failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:1500]}")
    return failures, seen


@pytest.mark.parametrize("service", ["inbox", "triage"])
async def test_schemathesis_finds_nothing(worlds: Worlds, service: str) -> None:
    client = worlds.client(service)
    document = await (await client.get("/openapi.json")).json()
    base_url = str(client.make_url("/")).rstrip("/")
    a = worlds.a
    credentials = (
        [bearer(a.ingest), bearer(a.channels)]
        if service == "inbox"
        else [bearer(a.agent), bearer(a.lead), bearer(a.admin)]
    )
    started = time.monotonic()
    failures, seen = await asyncio.to_thread(fuzz, document, base_url, credentials, a)
    took = time.monotonic() - started
    assert failures == [], "\n\n".join(failures)
    assert len(seen) >= 50, "schemathesis barely ran"
    reached = {path for path, status in seen if "{" in path and status < 300}
    assert reached, "no generated request reached a real object"
    assert took < 600
