"""Business time: when a care team is open, and how much open time lies between instants.

Openings are weekly, in the team's local wall-clock time (an IANA zone), and may cross
midnight (Friday 22:00–06:00 belongs to Friday). A holiday closes the openings that start
on that local date; the policy's edge expands holiday presets (a country's public holidays)
and imported iCal calendars into dates before they reach this module. Business time is real
time elapsed while open, so an opening that spans a DST change lasts one hour more or less
than its wall-clock length. No clock is read here: every instant is an argument.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK_MINUTES = 7 * 24 * 60
SEARCH_DAYS = 3 * 366  # an opening must come within three years (holidays are bounded)


@dataclass(frozen=True, slots=True)
class Opening:
    """Open ``start``–``end`` (local) on ``weekday`` (0 = Monday); end <= start: the next day."""

    weekday: int
    start: time
    end: time

    def minutes(self) -> tuple[int, int]:
        """[start, end) in minutes of the week; end may exceed the week (wraps to Monday)."""
        begin = self.weekday * 1440 + self.start.hour * 60 + self.start.minute
        length = (self.end.hour * 60 + self.end.minute) - (self.start.hour * 60 + self.start.minute)
        if length <= 0:
            length += 1440
        return begin, begin + length


@dataclass(frozen=True, slots=True)
class Calendar:
    """A team's hours: always open, or weekly openings in a time zone minus holidays.

    ``holidays`` are the dates typed one by one; ``observed`` the dates the edge expanded from
    ``presets`` ((country, subdivision) pairs) and the imported ``ical`` text, which are kept
    only so the policy reads back as it was written.
    """

    timezone: str = "UTC"
    always_open: bool = True
    openings: tuple[Opening, ...] = ()
    holidays: frozenset[date] = field(default_factory=frozenset)
    observed: frozenset[date] = field(default_factory=frozenset)
    presets: tuple[tuple[str, str | None], ...] = ()
    ical: str | None = None

    def closed_on(self, day: date) -> bool:
        """Whether ``day`` (local) is a holiday, typed or from a preset or calendar."""
        return day in self.holidays or day in self.observed


def calendar_problems(calendar: Calendar) -> list[tuple[str, str]]:
    """What is wrong with a calendar, as (field, problem) pairs; empty when it is usable."""
    problems: list[tuple[str, str]] = []
    if calendar.timezone not in _zones():
        problems.append(("timezone", f"unknown IANA time zone {calendar.timezone!r}"))
    if calendar.always_open:
        return problems
    if not calendar.openings:
        problems.append(("hours", "no opening hours: give some, or set always_open"))
    spans = sorted(o.minutes() for o in calendar.openings)
    for index, opening in enumerate(calendar.openings):
        if not 0 <= opening.weekday <= 6:
            problems.append((f"hours/{index}/day", "day must be one of " + ", ".join(DAYS)))
        if opening.start == opening.end:
            problems.append((f"hours/{index}", "an opening must not be empty (start = end)"))
    # Overlaps, including an overnight Sunday opening running into Monday.
    wrapped = spans + [(a + WEEK_MINUTES, b + WEEK_MINUTES) for a, b in spans]
    for (_, end), (next_start, _) in pairwise(wrapped):
        if next_start < end:
            problems.append(("hours", "openings overlap"))
            break
    return problems


@cache
def _zones() -> frozenset[str]:
    """IANA zone names known to this machine (with the tzdata package as fallback)."""
    return frozenset(available_timezones()) | {"UTC"}


def zone(calendar: Calendar) -> ZoneInfo:
    try:
        return ZoneInfo(calendar.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {calendar.timezone!r}") from exc


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("instants must carry a time zone")
    return instant.astimezone(UTC)


def open_intervals(calendar: Calendar, since: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Open intervals (UTC, ordered, non-overlapping) that end after ``since``, clipped to it."""
    since = _aware(since)
    if calendar.always_open:
        yield since, datetime.max.replace(tzinfo=UTC)
        return
    tz = zone(calendar)
    by_day: dict[int, list[Opening]] = {}
    for opening in sorted(calendar.openings, key=lambda o: (o.weekday, o.start)):
        by_day.setdefault(opening.weekday, []).append(opening)
    day = since.astimezone(tz).date() - timedelta(days=1)
    for _ in range(SEARCH_DAYS):
        if not calendar.closed_on(day):
            for opening in by_day.get(day.weekday(), ()):
                closes_on = day + timedelta(days=1) if opening.end <= opening.start else day
                begin = datetime.combine(day, opening.start, tzinfo=tz).astimezone(UTC)
                end = datetime.combine(closes_on, opening.end, tzinfo=tz).astimezone(UTC)
                if end <= begin or end <= since:
                    continue  # emptied by a DST jump, or already over
                yield max(begin, since), end
        day += timedelta(days=1)
    raise ValueError("the calendar has no opening in the next three years")


def is_open(calendar: Calendar, instant: datetime) -> bool:
    begin, _ = next(open_intervals(calendar, instant))
    return begin <= _aware(instant)


def add_business_time(calendar: Calendar, start: datetime, seconds: float) -> datetime:
    """The instant when ``seconds`` of open time have passed since ``start``.

    With 0 seconds: ``start`` if the team is open then, else the next opening.
    """
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    start = _aware(start)
    if calendar.always_open:
        return start + timedelta(seconds=seconds)
    left = seconds
    for begin, end in open_intervals(calendar, start):
        length = (end - begin).total_seconds()
        if left <= length:
            return begin + timedelta(seconds=left)
        left -= length
    raise AssertionError("open_intervals never ends without raising")


def business_seconds(calendar: Calendar, start: datetime, end: datetime) -> float:
    """Open time between two instants; negative when ``end`` comes before ``start``."""
    start, end = _aware(start), _aware(end)
    if end < start:
        return -business_seconds(calendar, end, start)
    if calendar.always_open:
        return (end - start).total_seconds()
    total = 0.0
    for begin, close in open_intervals(calendar, start):
        if begin >= end:
            break
        total += (min(close, end) - begin).total_seconds()
    return total
