"""Fault tests start real service processes; whatever a test leaves running is killed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tools.service_process import ServiceProcess

Start = Callable[..., ServiceProcess]


@pytest.fixture
async def processes(tmp_path: Path) -> AsyncIterator[Start]:
    """A factory of service processes (logs under the test's tmp folder), all reaped at the end."""
    made: list[ServiceProcess] = []

    def make(service: str, command: str, database_url: str, **env: Any) -> ServiceProcess:
        log = tmp_path / f"{service}-{command}-{len(made)}.log"
        process = ServiceProcess(service, command, database_url, log=log, **env)
        made.append(process)
        return process

    yield make
    for process in made:
        await process.kill()
        await process.stop()
