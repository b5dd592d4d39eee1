"""Planning an ingest batch around its round trips (pure: plain data in, plain data out).

Storing a batch takes a handful of set-based statements (``ingest/store.py``). What each one
is sent is decided here: the first occurrence of each message in the batch, which messages are
already stored (duplicates), the thread key of each new message, the latest profile of each
author and the kind and start of each conversation; and at the end, what became of each item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.inbox.domain.messages import Incoming, first_occurrences
from services.inbox.domain.threading import conversation_kind, thread_keys

ChannelKey = tuple[str, str]  # (platform, channel key)
MessageKey = tuple[int, str]  # (channel id, external id)
AuthorKey = tuple[str, str]  # (platform, author's external id)
ThreadKey = tuple[int, str]  # (channel id, thread key)


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What became of one item of a batch."""

    index: int
    external_id: str
    status: str  # "stored" | "duplicate"
    message_id: int
    conversation_id: int
    platform: str


@dataclass(frozen=True, slots=True)
class Stored:
    """A message already in the database."""

    message_id: int
    conversation_id: int
    thread_key: str


@dataclass(frozen=True, slots=True)
class Author:
    """An author to create, or to rename when the batch shows a new handle."""

    platform: str
    external_id: str
    handle: str
    display_name: str


@dataclass(frozen=True, slots=True)
class Thread:
    """A conversation to create unless it exists: its kind and when it started."""

    channel_id: int
    thread_key: str
    kind: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message not stored yet: its index in the batch, its channel and its thread."""

    index: int
    message: Incoming
    channel_id: int
    thread_key: str

    @property
    def key(self) -> MessageKey:
        return (self.channel_id, self.message.external_id)

    @property
    def thread(self) -> ThreadKey:
        return (self.channel_id, self.thread_key)

    @property
    def author(self) -> AuthorKey:
        return (self.message.platform, self.message.author_external_id)


@dataclass(frozen=True)
class Batch:
    """A batch as received, with the first occurrence of each (platform, channel, id) apart
    from its repeats: a message sent twice in one batch is stored once."""

    messages: list[Incoming]
    first: list[int]
    repeats: list[int]

    @classmethod
    def of(cls, messages: Sequence[Incoming]) -> Batch:
        batch = list(messages)
        first, repeats = first_occurrences(batch)
        return cls(batch, first, repeats)

    def channels(self) -> list[ChannelKey]:
        """The channels the batch names, sorted (rows are locked in this order)."""
        return sorted({(self.messages[i].platform, self.messages[i].channel) for i in self.first})

    def lookups(self, channel_ids: Mapping[ChannelKey, int]) -> list[MessageKey]:
        """Messages to look for among the stored: the batch's own (are they duplicates?) and
        those they answer (which conversation do they join?)."""
        wanted: set[MessageKey] = set()
        for i in self.first:
            m = self.messages[i]
            channel = channel_ids[(m.platform, m.channel)]
            wanted.add((channel, m.external_id))
            if m.in_reply_to:
                wanted.add((channel, m.in_reply_to))
        return sorted(wanted)

    def plan(
        self, channel_ids: Mapping[ChannelKey, int], stored: Mapping[MessageKey, Stored]
    ) -> Plan:
        """Which first occurrences are new, their thread keys, authors and conversations."""
        fresh = [
            i
            for i in self.first
            if (channel_ids[self._channel(i)], self.messages[i].external_id) not in stored
        ]
        by_id = {channel_id: key for key, channel_id in channel_ids.items()}
        known_parents = {
            (*by_id[channel_id], external_id): hit.thread_key
            for (channel_id, external_id), hit in stored.items()
        }
        keys = thread_keys([self.messages[i] for i in fresh], known_parents)
        new = [
            NewMessage(i, self.messages[i], channel_ids[self._channel(i)], key)
            for i, key in zip(fresh, keys, strict=True)
        ]
        return Plan(self, channel_ids, new, _authors(new), _threads(new))

    def _channel(self, index: int) -> ChannelKey:
        return (self.messages[index].platform, self.messages[index].channel)


@dataclass(frozen=True)
class Plan:
    """The new messages of a batch with the authors and conversations they need."""

    batch: Batch
    channel_ids: Mapping[ChannelKey, int]
    new: list[NewMessage]
    authors: list[Author]  # one per (platform, external id), the batch's last profile
    threads: list[Thread]  # one per (channel id, thread key), sorted

    def raced(self, inserted: Mapping[MessageKey, int]) -> list[MessageKey]:
        """New messages the insert did not store: a concurrent request stored them first."""
        return [n.key for n in self.new if n.key not in inserted]

    def results(
        self,
        inserted: Mapping[MessageKey, int],
        stored: Mapping[MessageKey, Stored],
        conversation_ids: Mapping[ThreadKey, int],
    ) -> list[ItemResult]:
        """What became of each item, in batch order: stored (new ids), or a duplicate (the
        ids of the copy stored before, by an earlier request or earlier in this batch)."""
        batch = self.batch
        results: dict[int, ItemResult] = {}
        for i in batch.first:
            m = batch.messages[i]
            hit = stored.get((self.channel_ids[(m.platform, m.channel)], m.external_id))
            if hit is not None:
                results[i] = ItemResult(
                    i, m.external_id, "duplicate", hit.message_id, hit.conversation_id, m.platform
                )
        for n in self.new:
            message_id = inserted.get(n.key)
            if message_id is not None:
                conversation_id = conversation_ids[n.thread]
                results[n.index] = ItemResult(
                    n.index,
                    n.message.external_id,
                    "stored",
                    message_id,
                    conversation_id,
                    n.message.platform,
                )
        first_of = {_identity(batch.messages[i]): i for i in batch.first}
        for i in batch.repeats:
            m = batch.messages[i]
            original = results[first_of[_identity(m)]]
            results[i] = ItemResult(
                i,
                m.external_id,
                "duplicate",
                original.message_id,
                original.conversation_id,
                m.platform,
            )
        return [results[i] for i in range(len(batch.messages))]


def _identity(m: Incoming) -> tuple[str, str, str]:
    return (m.platform, m.channel, m.external_id)


def _authors(new: Sequence[NewMessage]) -> list[Author]:
    """Each author once, with the profile of their last message in the batch."""
    latest: dict[AuthorKey, Incoming] = {n.author: n.message for n in new}
    return [
        Author(platform, external_id, m.author_handle, m.author_display_name)
        for (platform, external_id), m in sorted(latest.items(), key=lambda item: item[0])
    ]


def _threads(new: Sequence[NewMessage]) -> list[Thread]:
    """Each conversation once: the kind of its first new message, its earliest time."""
    threads: dict[ThreadKey, tuple[str, datetime]] = {}
    for n in new:
        kind, started = threads.get(n.thread, (conversation_kind(n.message), n.message.created_at))
        threads[n.thread] = (kind, min(started, n.message.created_at))
    return [Thread(c, k, kind, started) for (c, k), (kind, started) in sorted(threads.items())]
