"""The README's metrics catalog says exactly what the running services export."""

from __future__ import annotations

import re
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.support.world import start_services
from tools.embedded_pg import ROOT


def catalog() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(ecoute_[a-z0-9_]+)` \| (\w+) \|[^|]*\| (\w+) \|", section, flags=re.M)
    return {name: f"{kind}/{service}" for name, kind, service in rows}


def exported(exposition: str) -> dict[str, str]:
    found = {}
    for family in text_string_to_metric_families(exposition):
        if not family.name.startswith("ecoute_"):
            continue
        name = family.name + "_total" if family.type == "counter" else family.name
        found[name] = family.type
    return found


async def test_catalog_and_metrics_agree(aiohttp_client: Any, database_url: str) -> None:
    inbox, triage = await start_services(aiohttp_client, database_url)
    by_service = {
        "inbox": exported(await (await inbox.get("/metrics")).text()),
        "triage": exported(await (await triage.get("/metrics")).text()),
    }
    listed = catalog()
    assert listed, "the README has a metrics table"
    served: dict[str, set[str]] = {}
    for service, metrics in by_service.items():
        for name, kind in metrics.items():
            served.setdefault(name, set()).add(f"{kind}/{service}")
    assert set(listed) == set(served), {
        "exported but not in the README": sorted(set(served) - set(listed)),
        "in the README but not exported": sorted(set(listed) - set(served)),
    }
    for name, where in listed.items():
        kind, service = where.split("/")
        expected = {f"{kind}/inbox", f"{kind}/triage"} if service == "both" else {where}
        assert served[name] == expected, (name, served[name])
