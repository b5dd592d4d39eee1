"""``make run``'s terminal: a few event lines, one status line, and the logs kept in files.

The services write JSON lines; they go to ``.logs/<name>.log``, not to the terminal. The
terminal shows what a person needs: the banner, the demo's own lines ("• …"), one line per
error (what failed, its SQLSTATE and message for a database error, what happens next) and a
status line, rewritten in place on a terminal (printed when it changes otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import orjson

from services.infra.worker import sleep_or_stop
from tools.embedded_pg import ROOT

CLEAR_LINE = "\r\x1b[K"
SHOWN_LEVELS = ("error", "critical")
REPEAT_QUIET_SECONDS = 60.0  # the same error again within this is counted, not printed


class Console:
    """Event lines above one status line; on a terminal the status line rewrites itself."""

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self._status = ""  # what is on screen (a terminal only)
        self._said = ""

    def _fit(self, line: str) -> str:
        width = shutil.get_terminal_size((100, 20)).columns - 1
        return line if len(line) <= width else line[: max(0, width - 1)] + "…"

    def _write(self, text: str) -> None:
        """Write and flush; a terminal that went away (SIGHUP, a closed pipe) must not stop
        the launcher's clean-up, so its errors are ignored."""
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(text)
            self.stream.flush()

    def say(self, text: str) -> None:
        """One or more lines of news, above the status line."""
        above = CLEAR_LINE if self.tty and self._status else ""
        below = self._fit(self._status) if self.tty and self._status else ""
        self._write(above + text + "\n" + below)

    def status(self, line: str) -> None:
        """The status line, stamped with the time: rewritten in place on a terminal, printed
        as a new line elsewhere only when what it says (the time aside) changed."""
        stamped = f"{datetime.now():%H:%M:%S} · {line}"
        if self.tty:
            self._write(CLEAR_LINE + self._fit(stamped))
            self._status = stamped
        elif line != self._said:
            self._write(stamped + "\n")
        self._said = line

    def keep_status(self) -> None:
        """Leave the last status line on screen; what follows starts below it."""
        if self.tty and self._status:
            self._write("\n")
        self._status = ""


def shown(path: Path) -> Path:
    """A path as a person would type it here: relative to the project when inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def _entry(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    with contextlib.suppress(orjson.JSONDecodeError):
        found = orjson.loads(line)
        if isinstance(found, dict):
            return found
    return None


def summarise(entry: Mapping[str, Any]) -> str:
    """A log entry as one line: where, what (and what next, as the services say it), why."""
    component = str(entry.get("component") or entry.get("logger") or "")
    event = str(entry.get("event") or "")
    what = event if not component or component in event else f"{component}: {event}"
    if entry.get("sqlstate"):
        why = f"SQLSTATE {entry['sqlstate']} {entry.get('db_message') or ''}".rstrip()
    else:
        why = str(entry.get("error_type") or "")
    return what + (f" — {why}" if why else "")


TRACEBACK = "Traceback (most recent call last):"


def _exception(lines: list[str]) -> str:
    """The exception a traceback ends with, and the two lines that explain it (pydantic's
    field and reason, say), without the frames and the links."""
    after = lines[len(lines) - 1 - lines[::-1].index(TRACEBACK) + 1 :]
    told = [line for line in after if not line.startswith(" ")][:1]
    if told:
        rest = after[after.index(told[0]) + 1 :]
        told += [line.strip() for line in rest if "errors.pydantic.dev" not in line][:2]
    return " ".join(told)[:300]


def last_words(path: Path) -> str | None:
    """The last thing a process wrote in its log, summarised: why it stopped, usually."""
    with contextlib.suppress(OSError):
        with path.open("rb") as file:
            file.seek(0, 2)
            file.seek(max(0, file.tell() - 16_384))
            lines = file.read().decode(errors="replace").splitlines()
        if TRACEBACK in lines and (told := _exception(lines)):
            return told
        for line in reversed(lines):
            if line.strip():
                entry = _entry(line)
                return summarise(entry) if entry else line.strip()
    return None


@dataclass
class _Seen:
    at: float
    repeats: int = 0


@dataclass
class LogWatch:
    """Reads the log files as they grow and tells the console what matters in them.

    JSON lines at error level become one ``✗`` line (the same error again within a minute is
    counted and mentioned with the next one printed); the demo's own lines (``• …``) are
    shown as they are; everything else stays in the file.
    """

    console: Console
    files: Mapping[str, Path]
    _offsets: dict[str, int] = field(default_factory=dict)
    _seen: dict[tuple[str, ...], _Seen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, path in self.files.items():
            self._offsets[name] = path.stat().st_size if path.exists() else 0

    def _new_lines(self, name: str) -> Iterable[str]:
        path = self.files[name]
        with contextlib.suppress(OSError):
            with path.open("rb") as file:
                file.seek(self._offsets[name])
                chunk = file.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]
            self._offsets[name] += len(complete)
            return complete.decode(errors="replace").splitlines()
        return []

    def read(self) -> None:
        for name in self.files:
            for line in self._new_lines(name):
                if line.startswith("• "):
                    self.console.say(line)
                    continue
                entry = _entry(line)
                if entry is not None and entry.get("level") in SHOWN_LEVELS:
                    self._error(name, entry)

    def _error(self, name: str, entry: Mapping[str, Any]) -> None:
        kind = re.sub(r"\d+(?:\.\d+)?", "#", str(entry.get("event") or ""))
        key = (name, str(entry.get("component")), kind, str(entry.get("sqlstate")))
        now = time.monotonic()
        seen = self._seen.get(key)
        if seen is not None and now - seen.at < REPEAT_QUIET_SECONDS:
            seen.repeats += 1
            return
        again = (
            f" ({seen.repeats} more like it in the last minute)" if seen and seen.repeats else ""
        )
        self._seen[key] = _Seen(now)
        self.console.say(f"✗ {name}: {summarise(entry)}{again} [{shown(self.files[name])}]")

    async def run(self, stop: asyncio.Event, every: float = 0.5) -> None:
        while not stop.is_set():
            self.read()
            await sleep_or_stop(stop, every)
        self.read()


# --------------------------------------------------------------------------------------------
# The status line


def _samples(exposition: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    from prometheus_client.parser import text_string_to_metric_families

    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def _total(
    samples: Mapping[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> int:
    return int(
        sum(
            value
            for found, value in samples.get(name, [])
            if all(found.get(k) == v for k, v in labels.items())
        )
    )


@dataclass
class Status:
    """One line from the services' own ``/metrics``: messages in, waiting, SLA, replies,
    incidents. Counters restart at zero with their process; a restarted service's counts are
    added to what it had counted before, so the line never goes backwards."""

    inbox_url: str
    triage_url: str
    _carried: dict[str, int] = field(default_factory=dict)
    _last: dict[str, int] = field(default_factory=dict)

    def _count(self, key: str, value: int) -> int:
        if value < self._last.get(key, 0):  # the process restarted
            self._carried[key] = self._carried.get(key, 0) + self._last[key]
        self._last[key] = value
        return self._carried.get(key, 0) + value

    async def _metrics(self, session: aiohttp.ClientSession, base_url: str) -> Any:
        try:
            async with session.get(base_url + "/metrics") as answer:
                if answer.status == 200:
                    return _samples(await answer.text())
        except (aiohttp.ClientError, OSError, TimeoutError):
            pass
        return None

    async def line(self, session: aiohttp.ClientSession) -> str:
        inbox = await self._metrics(session, self.inbox_url)
        triage = await self._metrics(session, self.triage_url)
        parts = []
        if inbox is None:
            parts.append("inbox not answering")
        else:
            received = _total(inbox, "ecoute_messages_ingested_total", direction="in")
            parts.append(f"{self._count('in', received)} messages in")
        if triage is None:
            parts.append("triage not answering")
        else:
            waiting = _total(triage, "ecoute_queue_conversations")
            at_risk = _total(triage, "ecoute_sla_clocks", state="at_risk")
            breached = _total(triage, "ecoute_sla_clocks", state="breached")
            parts.append(f"{waiting} waiting (SLA: {at_risk} at risk, {breached} breached)")
        if inbox is not None:
            delivered = self._count("delivered", _total(inbox, "ecoute_replies_delivered_total"))
            failures: dict[str, int] = {}
            for labels, value in inbox.get("ecoute_reply_delivery_failures_total", []):
                reason = labels.get("reason", "?")
                failures[reason] = failures.get(reason, 0) + int(value)
            failed = {r: self._count(f"failed:{r}", n) for r, n in failures.items()}
            why = ", ".join(f"{r} {n}" for r, n in sorted(failed.items()) if n)
            parts.append(f"replies: {delivered} delivered" + (f", failed: {why}" if why else ""))
        if triage is not None:
            customer = _total(triage, "ecoute_incidents_open", kind="customer")
            moderation = _total(triage, "ecoute_incidents_open", kind="moderation")
            parts.append(f"incidents open: {customer} + {moderation} moderation")
        return " · ".join(parts)

    async def run(self, console: Console, stop: asyncio.Event, every: float = 5.0) -> None:
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not stop.is_set():
                console.status(await self.line(session))
                await sleep_or_stop(stop, every)
