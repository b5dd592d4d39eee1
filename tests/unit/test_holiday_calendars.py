"""SLA calendars from outside: a country's or region's public holidays, and an iCal import."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.triage.domain.calendar import add_business_time
from services.triage.sla.holiday_calendars import MAX_ICAL_CHARS, ical_dates
from services.triage.sla.policy import DEFAULT_DOCUMENT, PolicyError, parse_policy, policy_document

WEEKDAYS = [
    {"day": d, "start": "09:00", "end": "18:00"} for d in ("mon", "tue", "wed", "thu", "fri")
]

COMPANY_DAYS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Acme//Holidays//EN
BEGIN:VEVENT
UID:founders@acme
DTSTART;VALUE=DATE:20210317
DTEND;VALUE=DATE:20210318
RRULE:FREQ=YEARLY
EXDATE;VALUE=DATE:20280317
SUMMARY:Founders' day
END:VEVENT
BEGIN:VEVENT
UID:winter@acme
DTSTART;VALUE=DATE:20271227
DTEND;VALUE=DATE:20271230
SUMMARY:Winter closing
END:VEVENT
BEGIN:VEVENT
UID:meeting@acme
DTSTART:20270105T100000Z
DTEND:20270105T110000Z
SUMMARY:All hands (a meeting, not a holiday)
END:VEVENT
END:VCALENDAR
"""


def document(**calendar: Any) -> dict[str, Any]:
    doc = copy.deepcopy(DEFAULT_DOCUMENT)
    doc["calendar"] = {"timezone": "Europe/Paris", "hours": WEEKDAYS, **calendar}
    return doc


def closed(doc: dict[str, Any], *days: date) -> list[bool]:
    calendar = parse_policy(doc).calendar
    return [calendar.closed_on(d) for d in days]


def test_france_2027_closes_on_14_july_and_1_november_but_not_on_a_working_day() -> None:
    doc = document(holiday_presets=[{"country": "FR"}])
    assert closed(doc, date(2027, 7, 14), date(2027, 11, 1), date(2027, 7, 15)) == [
        True,
        True,
        False,
    ]


def test_alsace_moselle_adds_26_december_only_with_its_subdivision() -> None:
    boxing_day = date(2027, 12, 26)
    assert closed(document(holiday_presets=[{"country": "FR"}]), boxing_day) == [False]
    moselle = document(holiday_presets=[{"country": "fr", "subdivision": "57"}])
    assert closed(moselle, boxing_day, date(2027, 3, 26)) == [True, True]  # and Good Friday
    assert parse_policy(moselle).calendar.presets == (("FR", "57"),)
    by_name = document(holiday_presets=[{"country": "FR", "subdivision": "moselle"}])
    assert parse_policy(by_name).calendar.presets == (("FR", "57"),)


def test_an_ical_yearly_rule_closes_the_day_every_year_except_its_exdate() -> None:
    days = ical_dates(COMPANY_DAYS)
    assert {date(y, 3, 17) in days for y in (2021, 2026, 2027, 2029, 2099)} == {True}
    assert date(2028, 3, 17) not in days
    assert date(2020, 3, 17) not in days  # before the first occurrence
    # A three-day all-day event (DTEND exclusive); the timed meeting is not a holiday.
    assert {date(2027, 12, 27), date(2027, 12, 28), date(2027, 12, 29)} <= days
    assert date(2027, 12, 30) not in days
    assert date(2027, 1, 5) not in days


@pytest.mark.parametrize(
    "rule",
    ["FREQ=YEARLY;UNTIL=20300101", "FREQ=YEARLY;UNTIL=20300101T000000Z", "FREQ=YEARLY;COUNT=9"],
)
def test_a_yearly_rule_ends_where_its_until_or_count_says_as_exporters_write_them(
    rule: str,
) -> None:
    """Until a date, until a UTC date-time (as Outlook writes it), or a count of occurrences;
    a byte-order mark and CRLF line ends, as exported files have them."""
    ics = COMPANY_DAYS.replace("RRULE:FREQ=YEARLY", f"RRULE:{rule}").replace("\n", "\r\n")
    days = ical_dates("\ufeff" + ics)
    assert date(2027, 3, 17) in days and date(2029, 3, 17) in days
    assert date(2030, 3, 17) not in days


def test_a_preset_holiday_moves_a_deadline_to_the_next_working_day() -> None:
    """A P2 first response (2 h) due on 14 July 2027, a Wednesday, without the preset."""
    arrived = datetime(2027, 7, 13, 15, 0, tzinfo=UTC)  # 17:00 in Paris: 1 h left that day
    plain = parse_policy(document()).calendar
    french = parse_policy(document(holiday_presets=[{"country": "FR"}])).calendar
    assert add_business_time(plain, arrived, 7200) == datetime(2027, 7, 14, 8, 0, tzinfo=UTC)
    assert add_business_time(french, arrived, 7200) == datetime(2027, 7, 15, 8, 0, tzinfo=UTC)


def test_a_policy_with_presets_and_ical_reads_back_as_it_was_written() -> None:
    doc = document(
        always_open=False,
        holidays=["2027-08-16"],
        holiday_presets=[
            {"country": "FR", "subdivision": "57"},
            {"country": "DE", "subdivision": None},
        ],
        ical=COMPANY_DAYS,
    )
    assert policy_document(parse_policy(doc)) == doc
    assert policy_document(parse_policy(document()))["calendar"]["holiday_presets"] == []


MEETINGS_ONLY = (
    COMPANY_DAYS[: COMPANY_DAYS.index("BEGIN:VEVENT")]
    + COMPANY_DAYS[COMPANY_DAYS.index("BEGIN:VEVENT\nUID:meeting") :]
)
BAD = [
    (
        "unknown country",
        {"holiday_presets": [{"country": "XX"}]},
        "/calendar/holiday_presets/0/country",
    ),
    (
        "unknown region",
        {"holiday_presets": [{"country": "FR"}, {"country": "FR", "subdivision": "99"}]},
        "/calendar/holiday_presets/1/subdivision",
    ),
    ("not iCal", {"ical": "hello, this is a spreadsheet"}, "/calendar/ical"),
    ("no all-day event", {"ical": MEETINGS_ONLY}, "/calendar/ical"),
    ("every second", {"ical": COMPANY_DAYS.replace("YEARLY", "SECONDLY")}, "/calendar/ical"),
    ("every day", {"ical": COMPANY_DAYS.replace("YEARLY", "DAILY")}, "/calendar/ical"),
    ("too large", {"ical": COMPANY_DAYS + " " * MAX_ICAL_CHARS}, "/calendar/ical"),
    (
        "closed for ages",
        {"ical": COMPANY_DAYS.replace("DTEND;VALUE=DATE:20271230", "DTEND;VALUE=DATE:99991231")},
        "/calendar/ical",
    ),
]


@pytest.mark.parametrize(("case", "calendar", "pointer"), BAD, ids=[b[0] for b in BAD])
def test_an_unusable_preset_or_calendar_names_its_field(
    case: str, calendar: dict[str, Any], pointer: str
) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(document(**calendar))
    assert pointer in [e["pointer"] for e in raised.value.errors], raised.value.errors
