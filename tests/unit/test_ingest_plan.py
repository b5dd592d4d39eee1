"""Planning an ingest batch: repeats, duplicates, threads, authors and each item's outcome."""

from __future__ import annotations

from datetime import timedelta

from services.inbox.domain.batch import Author, Batch, ItemResult, Stored, Thread
from tests.unit.test_threading import T0, msg

CHANNELS = {("x", "c"): 10, ("bluesky", "c"): 20}


def test_channels_are_named_once_and_sorted() -> None:
    batch = Batch.of([msg("1"), msg("2", platform="bluesky"), msg("3")])
    assert batch.channels() == [("bluesky", "c"), ("x", "c")]


def test_lookups_cover_the_batch_and_the_messages_it_answers() -> None:
    batch = Batch.of([msg("2", in_reply_to="1"), msg("3"), msg("2", in_reply_to="1")])
    assert batch.lookups(CHANNELS) == [(10, "1"), (10, "2"), (10, "3")]


def test_stored_messages_are_not_new_and_replies_join_a_stored_parent() -> None:
    batch = Batch.of([msg("1"), msg("5", in_reply_to="1"), msg("6", in_reply_to="9")])
    plan = batch.plan(CHANNELS, {(10, "1"): Stored(100, 7, "t:root")})
    assert [(n.index, n.thread_key) for n in plan.new] == [(1, "t:root"), (2, "t:9")]


def test_a_reply_in_the_same_batch_joins_its_new_parent() -> None:
    plan = Batch.of([msg("2", in_reply_to="1", minutes=1), msg("1")]).plan(CHANNELS, {})
    assert [n.thread_key for n in plan.new] == ["t:1", "t:1"]
    assert plan.threads == [Thread(10, "t:1", "public", T0)]


def test_each_author_once_with_the_last_profile_of_the_batch() -> None:
    batch = Batch.of(
        [
            msg("1", author="42", handle="old"),
            msg("2", author="7", handle="bo"),
            msg("3", author="42", handle="new"),
        ]
    )
    assert batch.plan(CHANNELS, {}).authors == [
        Author("x", "42", "new", ""),
        Author("x", "7", "bo", ""),
    ]


def test_a_conversation_takes_its_first_kind_and_earliest_time() -> None:
    batch = Batch.of(
        [
            msg("d2", kind="dm", minutes=5),
            msg("d1", kind="dm", minutes=-40),
            msg("m1", minutes=1),
        ]
    )
    assert batch.plan(CHANNELS, {}).threads == [
        Thread(10, "dm:42", "dm", T0 - timedelta(minutes=40)),
        Thread(10, "t:m1", "public", T0 + timedelta(minutes=1)),
    ]


def test_results_in_batch_order_stored_duplicate_raced_and_repeated() -> None:
    batch = Batch.of([msg("old"), msg("new"), msg("raced"), msg("new")])
    stored = {(10, "old"): Stored(1, 11, "t:old")}
    plan = batch.plan(CHANNELS, stored)
    inserted = {(10, "new"): 2}
    assert plan.raced(inserted) == [(10, "raced")]
    # A concurrent request stored "raced" first: its ids are reported.
    stored_now = {**stored, (10, "raced"): Stored(3, 33, "t:raced")}
    results = plan.results(inserted, stored_now, {(10, "t:new"): 22, (10, "t:raced"): 99})
    assert results == [
        ItemResult(0, "old", "duplicate", 1, 11, "x"),
        ItemResult(1, "new", "stored", 2, 22, "x"),
        ItemResult(2, "raced", "duplicate", 3, 33, "x"),
        ItemResult(3, "new", "duplicate", 2, 22, "x"),
    ]


def test_an_empty_batch_plans_nothing() -> None:
    batch = Batch.of([])
    plan = batch.plan({}, {})
    assert (batch.channels(), batch.lookups({}), plan.new, plan.results({}, {}, {})) == (
        [],
        [],
        [],
        [],
    )
