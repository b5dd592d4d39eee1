"""What every benchmark shares: a scratch database, a service process, the results file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import aiohttp

from tools.embedded_pg import ROOT, ensure_database_sync, server_url

RESULTS = ROOT / "bench" / "results.json"


def scratch_database(name: str) -> str:
    """A freshly created and migrated database on DATABASE_URL's server (or the embedded one)."""
    from services.infra.migrate import upgrade

    url, _server = server_url(ROOT / ".pgdata")
    url = ensure_database_sync(url, name, recreate=True)
    upgrade(url, "heads")
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def service(module: str, database_url: str, port: int, **env: str) -> Iterator[str]:
    """Run ``python -m services.<module> serve`` in its own process; yield its base URL."""
    prefix = module.upper()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        f"{prefix}_PORT": str(port),
        f"{prefix}_LOG_LEVEL": "WARNING",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", f"services.{module}", "serve"], env=environment, cwd=ROOT
    )
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
