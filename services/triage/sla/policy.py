"""SLA policies as the API and the database hold them (JSON), and as the domain uses them."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.infra.http import Out, field_errors
from services.triage.domain.calendar import DAYS, Calendar, Opening, calendar_problems
from services.triage.domain.conversation import Priority
from services.triage.domain.sla import DEFAULT_POLICY, Policy, Targets, policy_problems
from services.triage.sla.holiday_calendars import (
    MAX_ICAL_CHARS,
    HolidayError,
    ical_dates,
    preset_dates,
    preset_key,
)

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_STRICT = ConfigDict(extra="forbid")


class HoursIn(BaseModel):
    model_config = _STRICT
    day: Day
    start: time
    end: time


class PresetIn(BaseModel):
    """A country's public holidays (ISO 3166 code), or a region's with ``subdivision``."""

    model_config = _STRICT
    country: Annotated[str, Field(min_length=2, max_length=3)]
    subdivision: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class CalendarIn(BaseModel):
    model_config = _STRICT
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"
    always_open: bool = False
    hours: Annotated[list[HoursIn], Field(max_length=100)] = []
    holidays: Annotated[list[date], Field(max_length=1000)] = []
    holiday_presets: Annotated[list[PresetIn], Field(max_length=10)] = []
    ical: Annotated[str, Field(max_length=MAX_ICAL_CHARS)] | None = None


class TargetsIn(BaseModel):
    model_config = _STRICT
    first_response_seconds: int
    next_response_seconds: int
    resolution_seconds: int


class PolicyIn(BaseModel):
    model_config = _STRICT
    calendar: CalendarIn
    at_risk_ratio: float = 0.75
    targets: dict[Literal["P1", "P2", "P3", "P4"], TargetsIn]


class HoursOut(Out):
    day: Day
    start: Annotated[str, Field(pattern=r"^[0-2][0-9]:[0-5][0-9]$")]
    end: Annotated[str, Field(pattern=r"^[0-2][0-9]:[0-5][0-9]$")]


class PresetOut(Out):
    country: str
    subdivision: str | None


class CalendarOut(Out):
    timezone: str
    always_open: bool
    hours: list[HoursOut]
    holidays: list[date]
    holiday_presets: list[PresetOut]
    ical: str | None


class TargetsOut(Out):
    first_response_seconds: int
    next_response_seconds: int
    resolution_seconds: int


class PolicyOut(Out):
    """A policy as GET answers it (``policy_document``): times of day as HH:MM."""

    calendar: CalendarOut
    at_risk_ratio: float
    targets: dict[Priority, TargetsOut]


class PolicyError(Exception):
    """A policy that cannot be used; ``errors`` name each field (JSON pointers)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("invalid SLA policy")
        self.errors = errors


def _calendar(model: CalendarIn) -> Calendar:
    """The domain's calendar, presets and iCal expanded into dates (``HolidayError`` names the
    part that cannot be used, as a pointer under ``calendar/``)."""
    presets = []
    for index, preset in enumerate(model.holiday_presets):
        try:
            presets.append(preset_key(preset.country, preset.subdivision))
        except HolidayError as exc:
            raise HolidayError(f"holiday_presets/{index}/{exc.field}", exc.detail) from None
    observed = frozenset().union(*(preset_dates(c, s) for c, s in presets))
    if model.ical is not None:
        observed |= ical_dates(model.ical)
    return Calendar(
        timezone=model.timezone,
        always_open=model.always_open,
        openings=tuple(
            Opening(DAYS.index(h.day), h.start.replace(tzinfo=None), h.end.replace(tzinfo=None))
            for h in model.hours
        ),
        holidays=frozenset(model.holidays),
        observed=observed,
        presets=tuple(presets),
        ical=model.ical,
    )


def _to_domain(model: PolicyIn) -> Policy:
    return Policy(
        targets={
            int(p[1]): Targets(
                t.first_response_seconds, t.next_response_seconds, t.resolution_seconds
            )
            for p, t in model.targets.items()
        },
        calendar=_calendar(model.calendar),
        at_risk_ratio=model.at_risk_ratio,
    )


def parse_policy(document: Any) -> Policy:
    """A usable policy from its JSON form, or ``PolicyError`` naming every faulty field."""
    try:
        model = PolicyIn.model_validate(document)
    except ValidationError as exc:
        raise PolicyError(field_errors(exc)) from None
    try:
        policy = _to_domain(model)
    except HolidayError as exc:
        raise PolicyError([{"pointer": "/calendar/" + exc.field, "detail": exc.detail}]) from None
    problems = [("calendar/" + f, d) for f, d in calendar_problems(policy.calendar)]
    problems += policy_problems(policy)
    if problems:
        raise PolicyError([{"pointer": "/" + f, "detail": d} for f, d in problems])
    return policy


def policy_document(policy: Policy) -> dict[str, Any]:
    """The JSON form of a policy (what GET answers and the database stores)."""
    return {
        "calendar": {
            "timezone": policy.calendar.timezone,
            "always_open": policy.calendar.always_open,
            "hours": [
                {
                    "day": DAYS[o.weekday],
                    "start": o.start.strftime("%H:%M"),
                    "end": o.end.strftime("%H:%M"),
                }
                for o in sorted(policy.calendar.openings, key=lambda o: (o.weekday, o.start))
            ],
            "holidays": sorted(d.isoformat() for d in policy.calendar.holidays),
            "holiday_presets": [
                {"country": c, "subdivision": s} for c, s in policy.calendar.presets
            ],
            "ical": policy.calendar.ical,
        },
        "at_risk_ratio": policy.at_risk_ratio,
        "targets": {
            f"P{p}": {
                "first_response_seconds": t.first_response,
                "next_response_seconds": t.next_response,
                "resolution_seconds": t.resolution,
            }
            for p, t in sorted(policy.targets.items())
        },
    }


DEFAULT_DOCUMENT = policy_document(DEFAULT_POLICY)
