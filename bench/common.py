"""What every benchmark shares: a scratch database, a service process, the results file."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import platform
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson

from tools.embedded_pg import ROOT, ensure_database_sync, server_url
from tools.service_process import free_port as free_port
from tools.service_process import service_command, service_environment

RESULTS = ROOT / "bench" / "results.json"


def scratch_database(name: str) -> str:
    """A freshly created and migrated database on DATABASE_URL's server (or the embedded one)."""
    from services.infra.migrate import upgrade

    url, _server = server_url(ROOT / ".pgdata")
    url = ensure_database_sync(url, name, recreate=True)
    upgrade(url, "heads")
    return url


@contextlib.contextmanager
def service(module: str, database_url: str, port: int, **env: str) -> Iterator[str]:
    """Run ``python -m services.<module> serve`` in its own process; yield its base URL."""
    environment = service_environment(module, database_url, port, **env)
    process = subprocess.Popen(service_command(module, "serve"), env=environment, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(_wait_ready(base + "/readyz"))
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise SystemExit(f"{url} never became ready")


@contextlib.contextmanager
def client_without_gc_pauses() -> Iterator[None]:
    """The load client's own garbage collection, paused while it times requests: its full
    sweeps over thousands of finished requests (50-100 ms) showed up as server latency
    (queue p99 48 ms with them, 17 ms without, same server)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def record(figures: dict[str, Any]) -> dict[str, Any]:
    """Merge ``figures`` into bench/results.json (other benchmarks keep their keys)."""
    results: dict[str, Any] = {}
    if RESULTS.exists():
        results = json.loads(RESULTS.read_text())
    results.update(figures)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return results


def report(figures: dict[str, Any]) -> None:
    """Merge ``figures`` into bench/results.json and print them."""
    record(figures)
    print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value ``fraction`` of the way up ``values`` (nearest rank below; 0 when empty):
    every benchmark's p99 is ``percentile(latencies, 0.99)``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * (len(ordered) - 1)))] if ordered else 0.0


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def customer_texts(limit: int = 5000) -> list[str]:
    """Real inbound customer-support tweets for realistic sizes, or a fallback sentence."""
    import csv

    source = (
        ROOT.parent / "shared" / "data" / "twcs_customer_support_on_twitter" / "twcs_first5000.csv"
    )
    texts: list[str] = []
    if source.exists():
        with source.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("inbound") == "True" and row.get("text"):
                    texts.append(row["text"])
                if len(texts) >= limit:
                    break
    return texts or ["@AcmeSupport my order #4411 never arrived, can you help?"]
