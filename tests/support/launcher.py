"""``make run`` as a person runs it: make and the launcher in a process group of their own.

``make -o setup run BIN=<this interpreter's folder>`` runs ``python -m tools.dev`` under make
(the virtualenv it would set up is this one), so a signal to the group reaches make and the
launcher as a terminal's Ctrl-C, or a process manager's SIGTERM, would. The launcher gets free
ports, and a Postgres folder and a log folder under the test's tmp folder, so it never meets
the suite's Postgres or a developer's ``make run``. Its output is read as it comes; a test
waits for a line, never for a fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from demo.platforms import BRANDS, FAKES
from tests.support.waiting import wait_until
from tools.embedded_pg import ROOT
from tools.service_process import free_port

FAKE_PORTS = len(BRANDS) * len(FAKES)


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports (free when looked at)."""
    for _ in range(50):
        first = free_port()
        if first + count > 65_000:
            continue
        sockets = []
        try:
            for port in range(first, first + count):
                probe = socket.socket()
                sockets.append(probe)
                probe.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()
    raise RuntimeError(f"no {count} consecutive free ports")


def launcher_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    # Not the suite's database, nor an outer make's flags (a test run by `make test`).
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    }
    return {
        **env,
        "PYTHONUNBUFFERED": "1",
        "INBOX_PORT": str(free_port()),
        "TRIAGE_PORT": str(free_port()),
        "DEMO_PLATFORMS_PORT": str(free_ports(FAKE_PORTS)),
        "DEV_PGDATA": str(tmp_path / "pgdata"),
        "DEV_LOGS": str(tmp_path / "logs"),
        **extra,
    }


@dataclass
class Launcher:
    """A running ``make run``: make (leader of its own group) and what the launcher printed."""

    process: asyncio.subprocess.Process
    env: dict[str, str]
    lines: list[str] = field(default_factory=list)
    _looked: int = 0
    _reader: asyncio.Task[None] | None = None
    _news: asyncio.Condition = field(default_factory=asyncio.Condition)  # a line, or the end
    _ended: bool = False

    @property
    def pgdata(self) -> Path:
        return Path(self.env["DEV_PGDATA"])

    def output(self) -> str:
        return "\n".join(self.lines)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            async for raw in self.process.stdout:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                async with self._news:
                    self._news.notify_all()
        finally:
            self._ended = True
            async with self._news:
                self._news.notify_all()

    async def expect(self, pattern: str, timeout: float) -> str:
        """The next line matching ``pattern`` (a regex), waited for up to ``timeout`` s."""
        wanted = re.compile(pattern)
        try:
            async with asyncio.timeout(timeout), self._news:
                while True:  # woken by each line the launcher prints, and when it exits
                    while self._looked < len(self.lines):
                        line = self.lines[self._looked]
                        self._looked += 1
                        if wanted.search(line):
                            return line
                    if self._ended:
                        raise AssertionError(f"launcher exited: /{pattern}/\n{self.output()}")
                    await self._news.wait()
        except TimeoutError:
            raise AssertionError(
                f"launcher said nothing like it in {timeout} s: /{pattern}/\n{self.output()}"
            ) from None

    def postgres_pid(self) -> int:
        return int((self.pgdata / "postmaster.pid").read_text().split()[0])

    def launcher(self) -> psutil.Process:
        """The launcher, make's child."""
        for child in psutil.Process(self.process.pid).children():
            if "tools.dev" in " ".join(child.cmdline()):
                return child
        raise AssertionError(f"make runs no launcher\n{self.output()}")

    def children(self) -> dict[str, psutil.Process]:
        """The launcher's live children by role: inbox, triage, fakes."""
        found = {}
        for child in self.launcher().children():
            with contextlib.suppress(psutil.Error):
                command = " ".join(child.cmdline())
                for role, mark in (
                    ("inbox", "services.inbox"),
                    ("triage", "services.triage"),
                    ("fakes", "demo.platforms"),
                ):
                    if mark in command and child.status() != psutil.STATUS_ZOMBIE:
                        found[role] = child
        return found

    def everything(self) -> list[psutil.Process]:
        """Every process of the stack: make, the launcher, their descendants, Postgres and
        its own."""
        found = [psutil.Process(self.process.pid)]
        found += found[0].children(recursive=True)
        with contextlib.suppress(OSError, ValueError, psutil.Error):
            postmaster = psutil.Process(self.postgres_pid())
            found += [postmaster, *postmaster.children(recursive=True)]
        return found

    def signal_group(self, signum: int) -> None:
        """What a terminal's Ctrl-C, or make passing on a SIGTERM, does."""
        os.killpg(self.process.pid, signum)

    async def wait(self, timeout: float) -> int:
        """make's exit status, once the launcher has finished too (its output ends)."""

        async def ended() -> int:
            code = await self.process.wait()
            if self._reader is not None:
                await self._reader
            return code

        return await asyncio.wait_for(ended(), timeout)


async def start_launcher(env: dict[str, str]) -> Launcher:
    bin_folder = Path(sys.executable).parent
    process = await asyncio.create_subprocess_exec(
        "make",
        "--no-print-directory",
        "-s",
        "-o",
        "setup",
        "run",
        f"BIN={bin_folder}",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    launcher = Launcher(process, env)
    launcher._reader = asyncio.create_task(launcher._read())
    return launcher


async def gone(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Those of ``processes`` still alive after up to ``timeout`` s (zombies count as gone)."""

    def alive() -> list[psutil.Process]:
        left = []
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    left.append(process)
        return left

    async def none_left() -> bool:
        return not alive()

    with contextlib.suppress(AssertionError):  # the caller reports who is left
        await wait_until(none_left, timeout, "the processes gone", every=0.1)
    return alive()


@contextlib.asynccontextmanager
async def launched(env: dict[str, str]) -> AsyncIterator[Launcher]:
    """A launcher, and whatever it left behind killed at the end whatever the test did."""
    launcher = await start_launcher(env)
    stack: list[psutil.Process] = []
    try:
        yield launcher
    finally:
        with contextlib.suppress(psutil.Error):
            stack = launcher.everything()
        if launcher.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                launcher.signal_group(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await launcher.wait(60)
        for process in await gone(stack, 5):
            with contextlib.suppress(psutil.Error):
                process.kill()
        if launcher._reader is not None:
            launcher._reader.cancel()
