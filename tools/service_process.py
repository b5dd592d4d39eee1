"""Service processes as ops run them: ``python -m services.<service> <command>`` in a child.

Tests and benchmarks need real processes: to kill one with SIGKILL mid-work, to run several
side by side on one database, or to measure a service apart from its load generator. This is
the one way they start, probe, kill and restart them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import IO

import aiohttp

from tools.embedded_pg import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_environment(
    service: str, database_url: str, port: int, log_level: str = "WARNING", **env: str
) -> dict[str, str]:
    """The environment of one service process: this process's, the database, port and extras."""
    prefix = service.upper()
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        f"{prefix}_PORT": str(port),
        f"{prefix}_LOG_LEVEL": log_level,
        **env,
    }


def service_command(service: str, command: str) -> list[str]:
    return [sys.executable, "-m", f"services.{service}", command]


class ServiceProcess:
    """One service child process on a fixed port, which can be killed and started again.

    ``log`` (a path) keeps its output (stdout and stderr) for a post-mortem; otherwise it is
    discarded. ``new_session`` starts it in a session of its own, so a Ctrl-C at the terminal
    reaches only the parent, which stops its children in order (``make run``).
    """

    def __init__(
        self,
        service: str,
        command: str,
        database_url: str,
        *,
        port: int | None = None,
        log: Path | None = None,
        new_session: bool = False,
        **env: str,
    ) -> None:
        self.service = service
        self.command = command
        self.port = port or free_port()
        self.environment = service_environment(service, database_url, self.port, **env)
        self.log = log
        self.new_session = new_session
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self._log_file: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def argv(self) -> list[str]:
        """The command line (a subclass may run something other than a service)."""
        return service_command(self.service, self.command)

    async def start(self, *, ready: bool = True, timeout: float = 60) -> ServiceProcess:
        """Start the process (again, after a kill) and, unless told not to, wait until ready."""
        if self.running:
            raise RuntimeError(f"{self.service} {self.command} is already running")
        output: int | IO[bytes] = asyncio.subprocess.DEVNULL
        if self.log is not None:
            if self._log_file is None:
                self._log_file = self.log.open("ab")
            output = self._log_file
        self.process = await asyncio.create_subprocess_exec(
            *self.argv(),
            env=self.environment,
            cwd=ROOT,
            stdout=output,
            stderr=output,
            start_new_session=self.new_session,
        )
        self.starts += 1
        if ready:
            await self.wait_ready(timeout)
        return self

    async def ready(self, session: aiohttp.ClientSession) -> bool:
        """Whether it serves: ``/readyz`` answers 200 (a subclass may probe otherwise)."""
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with session.get(self.base_url + "/readyz") as answer:
                return answer.status == 200
        return False

    async def wait_ready(self, timeout: float = 60) -> None:
        """Probe until ``ready``; fail early if the process died."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if not self.running:
                    raise RuntimeError(f"{self.service} {self.command} exited while starting")
                if await self.ready(session):
                    return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.service} {self.command} not ready after {timeout} s")

    async def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed, open transactions are abandoned."""
        if self.process is not None and self.running:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait for the exit code (SIGKILL after ``timeout``)."""
        if self.process is None:
            return 0
        if self.running:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            await self.kill()
            raise
        finally:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    async def metrics(self) -> str:
        """The process's Prometheus exposition."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.base_url + "/metrics") as answer,
        ):
            answer.raise_for_status()
            return await answer.text()

    async def counter(self, name: str) -> float:
        """The sum of a counter over all its label sets (``name`` without ``_total``)."""
        from prometheus_client.parser import text_string_to_metric_families

        total = 0.0
        for family in text_string_to_metric_families(await self.metrics()):
            if family.name == name:
                total += sum(s.value for s in family.samples if s.name == name + "_total")
        return total
