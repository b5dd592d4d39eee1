"""Every service process, API or worker, exports the runtime metrics ops dashboards expect:
``process_*`` (memory, CPU, file descriptors), ``python_gc_*``, ``python_info`` and
``ecoute_build_info{version,revision}``."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.inbox.app import create_app as create_inbox
from services.inbox.settings import InboxSettings
from services.triage.app import create_app as create_triage
from tests.support.world import inbox_settings, triage_settings
from tools.service_process import ServiceProcess


def samples(exposition: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Sample name -> (labels, value) of every sample in a Prometheus exposition."""
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def assert_runtime_metrics(exposition: str, revision: str) -> None:
    found = samples(exposition)
    ((_, memory),) = found["process_resident_memory_bytes"]
    assert memory > 10_000_000, "a Python service holds more than 10 MB"
    assert found["process_cpu_seconds_total"][0][1] > 0
    assert found["process_open_fds"][0][1] > 0
    generations = {labels["generation"] for labels, _ in found["python_gc_collections_total"]}
    assert generations == {"0", "1", "2"}
    assert "python_gc_objects_collected_total" in found
    ((info, _),) = found["python_info"]
    assert info["implementation"] == "CPython"
    ((build, value),) = found["ecoute_build_info"]
    assert build == {"version": metadata.version("ecoute"), "revision": revision}
    assert value == 1


@pytest.mark.parametrize("api", [True, False], ids=["api", "worker"])
async def test_both_services_export_process_gc_and_build_info(
    aiohttp_client: Any, database_url: str, api: bool
) -> None:
    inbox = await aiohttp_client(
        create_inbox(inbox_settings(database_url, revision="0a1b2c3"), api=api)
    )
    triage = await aiohttp_client(
        create_triage(triage_settings(database_url, revision="0a1b2c3"), api=api)
    )
    for client in (inbox, triage):
        answer = await client.get("/metrics")
        assert answer.status == 200
        assert_runtime_metrics(await answer.text(), "0a1b2c3")


async def test_a_service_process_reads_its_revision_from_the_image_environment(
    database_url: str, tmp_path: Path
) -> None:
    """The image sets ECOUTE_REVISION at build; a process without it says "unknown"."""
    built = ServiceProcess(
        "inbox", "worker", database_url, log=tmp_path / "inbox.log", ECOUTE_REVISION="feedbee"
    )
    unset = ServiceProcess("triage", "serve", database_url, log=tmp_path / "triage.log")
    unset.environment.pop("ECOUTE_REVISION", None)
    try:
        await built.start()
        await unset.start()
        assert_runtime_metrics(await built.metrics(), "feedbee")
        assert_runtime_metrics(await unset.metrics(), "unknown")
    finally:
        assert await built.stop() == 0
        assert await unset.stop() == 0


def test_the_revision_setting_is_the_unprefixed_image_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ECOUTE_REVISION", "9f8e7d6")
    assert InboxSettings().revision == "9f8e7d6"
    monkeypatch.delenv("ECOUTE_REVISION")
    assert InboxSettings().revision == "unknown"
