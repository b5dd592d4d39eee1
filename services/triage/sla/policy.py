"""SLA policies as the API and the database hold them (JSON), and as the domain uses them."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.infra.http import Out, field_errors
from services.triage.domain.calendar import DAYS, Calendar, Opening, calendar_problems
from services.triage.domain.conversation import Priority
from services.triage.domain.sla import DEFAULT_POLICY, Policy, Targets, policy_problems

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_STRICT = ConfigDict(extra="forbid")


class HoursIn(BaseModel):
    model_config = _STRICT
    day: Day
    start: time
    end: time


class CalendarIn(BaseModel):
    model_config = _STRICT
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"
    always_open: bool = False
    hours: Annotated[list[HoursIn], Field(max_length=100)] = []
    holidays: Annotated[list[date], Field(max_length=1000)] = []


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


class CalendarOut(Out):
    timezone: str
    always_open: bool
    hours: list[HoursOut]
    holidays: list[date]


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


def _to_domain(model: PolicyIn) -> Policy:
    calendar = Calendar(
        timezone=model.calendar.timezone,
        always_open=model.calendar.always_open,
        openings=tuple(
            Opening(DAYS.index(h.day), h.start.replace(tzinfo=None), h.end.replace(tzinfo=None))
            for h in model.calendar.hours
        ),
        holidays=frozenset(model.calendar.holidays),
    )
    return Policy(
        targets={
            int(p[1]): Targets(
                t.first_response_seconds, t.next_response_seconds, t.resolution_seconds
            )
            for p, t in model.targets.items()
        },
        calendar=calendar,
        at_risk_ratio=model.at_risk_ratio,
    )


def parse_policy(document: Any) -> Policy:
    """A usable policy from its JSON form, or ``PolicyError`` naming every faulty field."""
    try:
        model = PolicyIn.model_validate(document)
    except ValidationError as exc:
        raise PolicyError(field_errors(exc)) from None
    policy = _to_domain(model)
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
