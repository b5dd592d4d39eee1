"""Holiday dates from outside: a country's (or region's) public holidays, and an iCal file.

Both are expanded here, at the edge, into plain dates for the years ``YEARS`` so the domain's
business-time functions stay pure functions of dates. The expansions are cached: a policy is
parsed again each time it is loaded.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from itertools import islice, takewhile
from typing import Any

import holidays
import icalendar
from dateutil.rrule import rrulestr

YEARS = range(2000, 2100)  # the domain looks at most three years ahead of any `now` in them
MAX_ICAL_CHARS = 64 * 1024
MAX_IMPORTED_DAYS = 5000  # more closed days than that is a calendar of something else
DAY_FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY")
UNTIL_TIME = re.compile(r"(UNTIL=\d{8})T\d{6}Z?")


class HolidayError(ValueError):
    """A preset or calendar that cannot be used; ``field`` names the faulty part."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


@cache
def _countries() -> dict[str, list[str]]:
    return {c.upper(): subs for c, subs in holidays.list_supported_countries().items()}


@cache
def _subdivisions(country: str) -> dict[str, str]:
    """A country's subdivision codes and their names (``Moselle``, ``Bayern``), upper-cased,
    each to its code."""
    found = {s.upper(): s for s in _countries()[country]}
    aliases = getattr(holidays.country_holidays(country), "subdivisions_aliases", {})
    return found | {name.upper(): code for name, code in aliases.items()}


def preset_key(country: str, subdivision: str | None) -> tuple[str, str | None]:
    """The preset's canonical (country, subdivision) codes, or ``HolidayError``.

    Codes are ISO 3166 ones as the ``holidays`` package knows them (``FR``, ``FR``/``57`` for
    Moselle, ``DE``/``BY``); a subdivision may also be named (``Moselle``, ``Bayern``); letter
    case does not matter.
    """
    code = country.strip().upper()
    if code not in _countries():
        raise HolidayError("country", f"no holiday preset for country {country!r}")
    if subdivision is None:
        return code, None
    found = _subdivisions(code).get(subdivision.strip().upper())
    if found is None:
        listed = ", ".join(_countries()[code])
        raise HolidayError("subdivision", f"{code} has no subdivision {subdivision!r}: {listed}")
    return code, found


@lru_cache(maxsize=256)
def preset_dates(country: str, subdivision: str | None) -> frozenset[date]:
    """The public holidays of a (canonical) preset over ``YEARS``."""
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=YEARS))


@lru_cache(maxsize=64)
def ical_dates(text: str) -> frozenset[date]:
    """Every day an iCal file's all-day events cover over ``YEARS``, recurrences expanded.

    Events with a time of day are not holidays and are skipped; EXDATEs are honoured.
    Raises ``HolidayError`` on a file that is not iCalendar or has no all-day event.
    """
    if len(text) > MAX_ICAL_CHARS:
        raise HolidayError("ical", f"an iCal calendar is at most {MAX_ICAL_CHARS} characters")
    try:
        calendar = icalendar.Calendar.from_ical(text.removeprefix("\ufeff"))
        days: set[date] = set()
        found = False
        for event in calendar.walk("VEVENT"):
            start = event.get("DTSTART")
            if start is None or isinstance(start.dt, datetime) or not isinstance(start.dt, date):
                continue
            found = True
            days |= _event_days(event, start.dt)
            if len(days) > MAX_IMPORTED_DAYS:
                raise HolidayError("ical", f"more than {MAX_IMPORTED_DAYS} days closed")
    except HolidayError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise HolidayError("ical", f"not a valid iCalendar file: {exc}") from None
    if not found:
        raise HolidayError("ical", "no all-day event (VEVENT with DTSTART;VALUE=DATE) found")
    return frozenset(days)


def _event_days(event: Any, start: date) -> set[date]:
    """The days one all-day event closes: each occurrence from its start to its (exclusive)
    end, within ``YEARS``."""
    end = event.get("DTEND")
    length = max((end.dt - start).days, 1) if end is not None else 1
    if length > MAX_IMPORTED_DAYS:
        raise HolidayError("ical", f"an event closes more than {MAX_IMPORTED_DAYS} days")
    starts = [start]
    rule = event.get("RRULE")
    if rule is not None:
        if str(rule.get("FREQ", [""])[0]).upper() not in DAY_FREQUENCIES:
            raise HolidayError("ical", "a holiday repeats daily, weekly, monthly or yearly")
        dtstart = datetime.combine(start, datetime.min.time())
        # RFC 5545 wants a DATE for UNTIL here; exporters often write a UTC date-time, which
        # dateutil refuses beside a floating start: the date is what it means.
        text = UNTIL_TIME.sub(r"\1", rule.to_ical().decode())
        recurrence: Any = rrulestr(text, dtstart=dtstart)
        last = datetime(YEARS.stop, 1, 1)
        first = datetime(YEARS.start, 1, 1)
        occurrences = takewhile(lambda d: d < last, recurrence.xafter(first, inc=True))
        starts = [d.date() for d in islice(occurrences, MAX_IMPORTED_DAYS + 1)]
        if len(starts) > MAX_IMPORTED_DAYS:
            raise HolidayError("ical", f"an event repeats more than {MAX_IMPORTED_DAYS} times")
    excluded = {
        d.dt if not isinstance(d.dt, datetime) else d.dt.date()
        for group in _as_list(event.get("EXDATE"))
        for d in group.dts
    }
    return {
        s + timedelta(days=i)
        for s in starts
        if s not in excluded and YEARS.start <= s.year < YEARS.stop
        for i in range(length)
    }


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
