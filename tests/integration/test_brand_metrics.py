"""A manager splits the SLA figures by brand; the brand label stays bounded whatever the
number of workspaces (TRIAGE_METRICS_BRANDS, then "other")."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from services.inbox.app import create_app as create_inbox
from services.triage.app import create_app as create_triage
from tests.support.waiting import wait_until
from tests.support.world import bearer, inbox_settings, make_workspace, message, triage_settings


def first_response_clocks_by_brand(exposition: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            started = sample.name == "ecoute_sla_clocks_started_total"
            if started and sample.labels["kind"] == "first_response":
                brand = sample.labels["brand"]
                found[brand] = found.get(brand, 0) + sample.value
    return found


async def test_first_response_clocks_count_per_brand_and_beyond_the_cap_as_other(
    aiohttp_client: Any, database_url: str
) -> None:
    workspaces = [
        await make_workspace(database_url, name)
        for name in ("Acme Télécom", "Bravo Air", "Charlie Bank")
    ]
    inbox = await aiohttp_client(create_inbox(inbox_settings(database_url)))
    triage = await aiohttp_client(
        create_triage(triage_settings(database_url, metrics_brands=2, gauges_refresh_seconds=0.2))
    )

    async def brands_known() -> bool:
        return {"acme-telecom", "bravo-air"} <= set(
            first_response_clocks_by_brand(await (await triage.get("/metrics")).text())
        )

    await wait_until(brands_known, 30, "the brand labels are read from the workspaces")
    for n, ws in enumerate(workspaces):
        answer = await inbox.post(
            "/v1/ingest",
            json={"messages": [message(f"b{n}", "my internet is down since this morning")]},
            headers=bearer(ws.ingest_token),
        )
        assert answer.status == 200

    counted: dict[str, float] = {}

    async def all_three_clocks_counted() -> bool:
        counted.update(first_response_clocks_by_brand(await (await triage.get("/metrics")).text()))
        return sum(counted.values()) == 3

    await wait_until(all_three_clocks_counted, 60, "three first-response clocks started")
    assert counted == {"acme-telecom": 1, "bravo-air": 1, "other": 1}
