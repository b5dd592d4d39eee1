"""A small in-process cache whose entries expire after a few seconds.

For answers that are read on every request and change rarely (an API token's owner, a
workspace's SLA policy): a change made on this process is seen at once (``forget``), on
other replicas within the time to live.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(self, seconds: float, max_entries: int = 10_000) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, V]] = {}

    def get(self, key: Hashable) -> V | None:
        found = self._entries.get(key)
        if found is None:
            return None
        if found[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return found[1]

    def put(self, key: Hashable, value: V) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # rare and cheap: the cache refills from the database
        self._entries[key] = (time.monotonic() + self.seconds, value)

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
