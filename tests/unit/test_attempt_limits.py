"""The delay after failed sign-ins: free tries, then doubling waits per (account, address)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.triage.access import limits
from services.triage.access.limits import FREE_FAILURES, MAX_DELAY, delay, longest_wait, wait

T0 = datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)  # a DST night in Europe: UTC is unmoved


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(0, 0), (4, 0), (5, 1), (6, 2), (7, 4), (14, 512), (15, 900), (10_000, 900)],
)
def test_the_delay_doubles_after_the_free_failures(failures: int, seconds: int) -> None:
    assert delay(failures, FREE_FAILURES) == timedelta(seconds=seconds)


def test_the_wait_runs_from_the_last_failure() -> None:
    assert wait(6, T0, FREE_FAILURES, T0 + timedelta(seconds=0.5)) == timedelta(seconds=1.5)
    assert wait(6, T0, FREE_FAILURES, T0 + timedelta(seconds=2)) is None
    assert wait(3, T0, FREE_FAILURES, T0) is None
    # A concurrent attempt that started later may have recorded its failure after ``now``.
    assert wait(3, T0 + timedelta(seconds=1), FREE_FAILURES, T0) is None
    assert wait(99, T0, FREE_FAILURES, T0) == MAX_DELAY


def test_an_attempt_waits_on_any_key_and_a_failure_reports_only_spent_budgets() -> None:
    keys = limits.keys("email:bo@acme.test", "198.51.100.7")
    budgets = keys.budgets()
    assert budgets == {
        "email:bo@acme.test|ip:198.51.100.7": FREE_FAILURES,
        "ip:198.51.100.7": limits.ADDRESS_FREE_FAILURES,
    }
    pair, address = list(budgets)
    # The fifth failure uses up the last free one: a plain failure, but the next one waits.
    recent = {pair: (5, T0), address: (5, T0)}
    assert longest_wait(recent, budgets, T0, after_failure=True) is None
    assert longest_wait(recent, budgets, T0) == timedelta(seconds=1)
    # The sixth is past the budget: it says how long the seventh waits.
    recent = {pair: (6, T0), address: (6, T0)}
    assert longest_wait(recent, budgets, T0, after_failure=True) == timedelta(seconds=2)
    # An address past its budget across accounts: its wrong answers wait too.
    recent = {pair: (1, T0), address: (52, T0)}
    assert longest_wait(recent, budgets, T0, after_failure=True) == timedelta(seconds=4)


def test_an_attempt_without_an_account_counts_against_its_address_only() -> None:
    keys = limits.keys(None, "2001:db8:1:2::7")
    assert keys.pair is None
    assert keys.budgets() == {"ip:2001:db8:1:2::/64": limits.ADDRESS_FREE_FAILURES}


def test_too_many_failures_says_whole_seconds() -> None:
    assert limits.TooManyFailures(timedelta(seconds=0.2)).retry_after == 1
    assert limits.TooManyFailures(timedelta(seconds=2.01)).retry_after == 3
