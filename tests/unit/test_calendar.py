"""Business-time arithmetic, with DST changes, holidays, overnight hours and closed arrivals."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.triage.domain.calendar import (
    Calendar,
    Opening,
    add_business_time,
    business_seconds,
    calendar_problems,
    is_open,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def weekdays(
    start: time, end: time, tz: str = "Europe/Paris", holidays: frozenset[date] = frozenset()
) -> Calendar:
    return Calendar(
        timezone=tz,
        always_open=False,
        holidays=holidays,
        openings=tuple(Opening(d, start, end) for d in range(5)),
    )


OFFICE = weekdays(time(9), time(18))
NIGHT_DESK = Calendar(
    timezone="America/New_York",
    always_open=False,
    openings=tuple(Opening(d, time(22), time(6)) for d in range(7)),
)
CHRISTMAS = weekdays(time(9), time(18), holidays=frozenset({date(2026, 12, 25)}))
ALWAYS = Calendar()


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def test_a_message_after_hours_waits_for_the_next_opening() -> None:
    friday_evening = paris(2026, 11, 20, 20, 0)
    assert add_business_time(OFFICE, friday_evening, 3600) == paris(2026, 11, 23, 10, 0)
    assert add_business_time(OFFICE, friday_evening, 0) == paris(2026, 11, 23, 9, 0)


def test_a_deadline_carries_over_into_the_next_day() -> None:
    assert add_business_time(OFFICE, paris(2026, 11, 19, 17, 0), 2 * 3600) == paris(
        2026, 11, 20, 10, 0
    )


def test_a_holiday_is_skipped() -> None:
    christmas_eve = paris(2026, 12, 24, 17, 30)
    assert add_business_time(CHRISTMAS, christmas_eve, 3600) == paris(2026, 12, 28, 9, 30)


def test_the_spring_forward_night_is_an_hour_shorter_for_a_night_desk() -> None:
    # New York moves to summer time at 02:00 on 8 March 2026: the 22:00–06:00 shift lasts 7 h.
    start = datetime(2026, 3, 7, 22, 0, tzinfo=NEW_YORK)
    end = datetime(2026, 3, 8, 6, 0, tzinfo=NEW_YORK)
    assert business_seconds(NIGHT_DESK, start, end) == 7 * 3600
    autumn = business_seconds(
        NIGHT_DESK,
        datetime(2026, 10, 31, 22, 0, tzinfo=NEW_YORK),
        datetime(2026, 11, 1, 6, 0, tzinfo=NEW_YORK),
    )
    assert autumn == 9 * 3600


def test_office_hours_keep_their_length_across_the_paris_dst_change() -> None:
    # Paris changes time at 02:00–03:00 on Sunday 29 March 2026, outside office hours.
    friday = paris(2026, 3, 27, 9, 0)
    assert business_seconds(OFFICE, friday, paris(2026, 3, 30, 18, 0)) == 2 * 9 * 3600
    assert add_business_time(OFFICE, paris(2026, 3, 27, 17, 0), 2 * 3600) == paris(
        2026, 3, 30, 10, 0
    )


def test_an_overnight_opening_belongs_to_the_day_it_starts() -> None:
    saturday_3am = datetime(2026, 11, 21, 3, 0, tzinfo=NEW_YORK)
    assert is_open(NIGHT_DESK, saturday_3am)
    assert not is_open(NIGHT_DESK, datetime(2026, 11, 21, 12, 0, tzinfo=NEW_YORK))


def test_always_open_is_plain_elapsed_time() -> None:
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert add_business_time(ALWAYS, start, 7200) == start + timedelta(hours=2)


@pytest.mark.parametrize(
    ("calendar", "field"),
    [
        (Calendar(timezone="Mars/Olympus"), "timezone"),
        (Calendar(always_open=False), "hours"),
        (Calendar(always_open=False, openings=(Opening(0, time(9), time(9)),)), "hours/0"),
        (
            Calendar(
                always_open=False,
                openings=(Opening(0, time(9), time(18)), Opening(0, time(17), time(20))),
            ),
            "hours",
        ),
        (
            Calendar(
                always_open=False,
                openings=(Opening(6, time(22), time(6)), Opening(0, time(5), time(9))),
            ),
            "hours",
        ),
        (Calendar(always_open=False, openings=(Opening(9, time(9), time(18)),)), "hours/0/day"),
    ],
)
def test_impossible_calendars_are_named(calendar: Calendar, field: str) -> None:
    assert field in [f for f, _ in calendar_problems(calendar)]


def test_a_usable_calendar_has_no_problem() -> None:
    assert calendar_problems(OFFICE) == []
    assert calendar_problems(NIGHT_DESK) == []


CALENDARS = st.sampled_from(
    [OFFICE, NIGHT_DESK, CHRISTMAS, ALWAYS, weekdays(time(8), time(20), tz="America/New_York")]
)
INSTANTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
SECONDS = st.integers(min_value=0, max_value=30 * 24 * 3600)


@settings(max_examples=300, deadline=None)
@given(CALENDARS, INSTANTS, SECONDS)
def test_the_deadline_is_exactly_the_target_of_open_time_away(
    calendar: Calendar, start: datetime, seconds: int
) -> None:
    due = add_business_time(calendar, start, seconds)
    assert due >= start
    assert business_seconds(calendar, start, due) == pytest.approx(seconds, abs=1e-3)
    if seconds > 0:
        assert is_open(calendar, due - timedelta(microseconds=1))


@settings(max_examples=300, deadline=None)
@given(CALENDARS, INSTANTS, SECONDS, SECONDS)
def test_more_target_never_gives_an_earlier_deadline(
    calendar: Calendar, start: datetime, a: int, b: int
) -> None:
    low, high = sorted((a, b))
    assert add_business_time(calendar, start, low) <= add_business_time(calendar, start, high)


@settings(max_examples=300, deadline=None)
@given(
    CALENDARS,
    INSTANTS,
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
)
def test_business_time_adds_up_and_never_exceeds_real_time(
    calendar: Calendar, a: datetime, ab: timedelta, bc: timedelta
) -> None:
    b, c = a + ab, a + ab + bc
    whole = business_seconds(calendar, a, c)
    assert whole == pytest.approx(
        business_seconds(calendar, a, b) + business_seconds(calendar, b, c), abs=1e-3
    )
    assert 0 <= whole <= (c - a).total_seconds() + 1e-6
    assert business_seconds(calendar, c, a) == -whole
