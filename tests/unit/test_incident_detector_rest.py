"""The detector rests after a long tick as long as the tick took, so it never holds more than
about half of a worker's CPU under a flood."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.infra import worker
from services.triage.incidents import detector as incident_detector


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _rests_after(monkeypatch: pytest.MonkeyPatch, tick_takes: float) -> list[float]:
    clock = _Clock()
    stop = asyncio.Event()
    rests: list[float] = []

    class Detector(incident_detector.IncidentDetector):
        async def tick(self) -> int:
            clock.now += tick_takes
            return 1

    async def rest(event: asyncio.Event, seconds: float) -> None:
        rests.append(seconds)
        if len(rests) == 3:
            event.set()

    monkeypatch.setattr(worker, "sleep_or_stop", rest)  # the rest between two steps
    engine: Any = None  # the ticks above never reach the database
    await Detector(engine, tick_seconds=5.0, stopwatch=clock).run(stop)
    return rests


async def test_a_quick_tick_is_followed_by_the_usual_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert await _rests_after(monkeypatch, 0.2) == [5.0, 5.0, 5.0]


async def test_a_long_tick_is_followed_by_as_long_a_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    assert await _rests_after(monkeypatch, 12.0) == [12.0, 12.0, 12.0]
