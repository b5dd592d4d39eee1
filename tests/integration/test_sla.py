"""SLA clocks end to end: policies, queue order by state, history, actions, scheduler."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from ecoute.v1 import events_pb2
from services.infra.db import create_engine
from services.infra.events import Consumer
from services.triage.intake.consumer import handle_batch
from services.triage.sla.policy import DEFAULT_DOCUMENT
from services.triage.sla.scheduler import SlaScheduler, Transition
from tests.support.world import (
    ago,
    answer_when,
    bearer,
    ingest,
    make_user,
    make_workspace,
    message,
    start_services,
)

OUTAGE = "No internet since this morning, the whole street is down, outage!"  # P2: 2 h
QUESTION = "How do I change the date of my flight?"  # P3: 8 h
SAFETY = "There is smoke coming from the engine, the crew is ignoring us!"  # P1: 30 min


async def test_the_queue_puts_danger_first_then_the_earliest_deadline(
    services: tuple[Any, Any], database_url: str
) -> None:
    """A fresh safety report (P1) outranks a breached question: danger first, whatever the
    clocks say. Then earliest deadline first: the most overdue on top, then the one about to
    breach, then the rest; ``claim next`` hands them out in that order."""
    inbox, triage = services
    ws = await make_workspace(database_url)
    await ingest(
        inbox,
        ws.ingest_token,
        message("fresh-p1", SAFETY, author="1", created_at=ago(minutes=1)),
        message("risky-p2", OUTAGE, author="2", created_at=ago(minutes=100)),
        message("late-p3", QUESTION, author="3", created_at=ago(hours=9)),
        message(
            "later-p3", "How do I add a bag to my booking?", author="4", created_at=ago(hours=12)
        ),
    )
    body = await answer_when(triage, "/v1/queue", ws.agent_token, lambda q: q["count"] == 4)
    assert [(i["sla"]["state"], i["priority"]) for i in body["items"]] == [
        ("ok", "P1"),
        ("breached", "P3"),
        ("breached", "P3"),
        ("at_risk", "P2"),
    ]
    fresh, most_late, late, risky = body["items"]
    assert most_late["sla"]["due_at"] < late["sla"]["due_at"]  # the most overdue on top
    assert most_late["sla"]["time_left_seconds"] < late["sla"]["time_left_seconds"] < -3000
    assert 0 < risky["sla"]["time_left_seconds"] <= 20 * 60
    assert 27 * 60 < fresh["sla"]["time_left_seconds"] <= 29 * 60 + 5
    handed_out = []
    for _ in range(4):
        response = await triage.post("/v1/queue/claim-next", headers=bearer(ws.agent_token))
        assert response.status == 200, await response.text()
        handed_out.append((await response.json())["conversation_id"])
    assert handed_out == [i["conversation_id"] for i in body["items"]]


async def test_a_brand_reply_meets_the_first_response_and_history_says_so(
    services: tuple[Any, Any], database_url: str
) -> None:
    inbox, triage = services
    ws = await make_workspace(database_url)
    (item,) = await ingest(
        inbox, ws.ingest_token, message("m1", OUTAGE, author="5", created_at=ago(minutes=20))
    )
    path = f"/v1/conversations/{item['conversation_id']}/sla"
    body = await answer_when(triage, path, ws.agent_token, lambda b: len(b["clocks"]) == 2)
    assert {c["kind"] for c in body["clocks"]} == {"first_response", "resolution"}
    await ingest(
        inbox,
        ws.ingest_token,
        message(
            "m2",
            "So sorry, a technician is on the way",
            author="brand",
            kind="reply",
            direction="out",
            in_reply_to="m1",
            created_at=ago(minutes=5),
        ),
    )
    body = await answer_when(
        triage, path, ws.agent_token, lambda b: any(c["state"] == "met" for c in b["clocks"])
    )
    first = next(c for c in body["clocks"] if c["kind"] == "first_response")
    assert [h["change"] for h in first["history"]] == ["started", "met"]
    resolution = next(c for c in body["clocks"] if c["kind"] == "resolution")
    assert resolution["stopped_at"] is None
    await answer_when(triage, "/v1/queue", ws.agent_token, lambda q: q["count"] == 0)

    await ingest(
        inbox,
        ws.ingest_token,
        message(
            "m3",
            "It is down again, still no internet!",
            author="5",
            in_reply_to="m2",
            created_at=ago(minutes=1),
        ),
    )
    body = await answer_when(
        triage,
        path,
        ws.agent_token,
        lambda b: any(c["kind"] == "next_response" for c in b["clocks"]),
    )


async def test_waiting_on_the_customer_pauses_and_resolve_and_reopen_follow(
    services: tuple[Any, Any], database_url: str
) -> None:
    inbox, triage = services
    ws = await make_workspace(database_url)
    (item,) = await ingest(
        inbox, ws.ingest_token, message("w1", OUTAGE, author="6", created_at=ago(minutes=10))
    )
    conversation = item["conversation_id"]
    path = f"/v1/conversations/{conversation}/sla"
    await answer_when(triage, path, ws.agent_token, lambda b: len(b["clocks"]) == 2)

    async def act(action: str) -> Any:
        return await triage.post(
            f"/v1/conversations/{conversation}/{action}", headers=bearer(ws.agent_token)
        )

    assert (await act("reopen")).status == 409
    assert (await (await act("wait")).json())["status"] == "waiting"
    body = await (await triage.get(path, headers=bearer(ws.agent_token))).json()
    assert {c["state"] for c in body["clocks"]} == {"paused"}
    await ingest(
        inbox,
        ws.ingest_token,
        message(
            "w2",
            "Here is my customer number 4411, still down",
            author="6",
            in_reply_to="w1",
            created_at=ago(seconds=5),
        ),
    )
    body = await answer_when(
        triage, path, ws.agent_token, lambda b: "paused" not in {c["state"] for c in b["clocks"]}
    )
    assert all("resumed" in [h["change"] for h in c["history"]] for c in body["clocks"])

    assert (await (await act("resolve")).json())["status"] == "resolved"
    body = await (await triage.get(path, headers=bearer(ws.agent_token))).json()
    resolution = next(c for c in body["clocks"] if c["kind"] == "resolution")
    assert resolution["state"] == "met"
    assert (await (await act("reopen")).json())["status"] == "open"
    body = await (await triage.get(path, headers=bearer(ws.agent_token))).json()
    assert [c["state"] for c in body["clocks"] if c["kind"] == "resolution"] == ["met", "ok"]


async def test_another_workspaces_conversation_is_404(
    services: tuple[Any, Any], database_url: str
) -> None:
    inbox, triage = services
    acme = await make_workspace(database_url, "Acme")
    globex = await make_workspace(database_url, "Globex")
    (item,) = await ingest(inbox, acme.ingest_token, message("x", OUTAGE))
    for path in (
        f"/v1/conversations/{item['conversation_id']}/sla",
        "/v1/conversations/999999/sla",
        "/v1/conversations/abc/sla",
    ):
        response = await triage.get(path, headers=bearer(globex.agent_token))
        assert response.status == 404, path
    response = await triage.post(
        f"/v1/conversations/{item['conversation_id']}/resolve", headers=bearer(globex.agent_token)
    )
    assert response.status == 404


async def test_policies_are_read_by_all_and_changed_by_leads_only(
    services: tuple[Any, Any], database_url: str
) -> None:
    _, triage = services
    ws = await make_workspace(database_url)
    lead = await make_user(database_url, ws.id, "lead")
    current = await (await triage.get("/v1/sla/policies", headers=bearer(ws.agent_token))).json()
    assert current == DEFAULT_DOCUMENT
    office = copy.deepcopy(DEFAULT_DOCUMENT)
    office["calendar"] = {
        "timezone": "Europe/Paris",
        "always_open": False,
        "hours": [
            {"day": d, "start": "09:00", "end": "18:00"}
            for d in ("mon", "tue", "wed", "thu", "fri")
        ],
        "holidays": ["2026-12-25"],
        "holiday_presets": [{"country": "FR", "subdivision": "57"}],
        "ical": None,
    }
    office["targets"]["P1"]["first_response_seconds"] = 900
    forbidden = await triage.put("/v1/sla/policies", json=office, headers=bearer(ws.agent_token))
    assert forbidden.status == 403
    saved = await triage.put("/v1/sla/policies", json=office, headers=bearer(lead))
    assert saved.status == 200
    again = await (await triage.get("/v1/sla/policies", headers=bearer(ws.agent_token))).json()
    assert again == office


async def test_a_national_holiday_preset_holds_a_clock_until_the_next_working_day(
    services: tuple[Any, Any], database_url: str
) -> None:
    """An outage (P2: 2 h) reported at 17:00 in Paris the evening before 14 July 2026: with
    the FR preset the clock runs one hour that evening, stands still all of Bastille Day, and
    is due at 10:00 on the 15th; without it, at 10:00 on the 14th."""
    inbox, triage = services
    ws = await make_workspace(database_url)
    lead = await make_user(database_url, ws.id, "lead")
    policy = copy.deepcopy(DEFAULT_DOCUMENT)
    policy["calendar"] = {
        "timezone": "Europe/Paris",
        "hours": [
            {"day": d, "start": "09:00", "end": "18:00"}
            for d in ("mon", "tue", "wed", "thu", "fri")
        ],
    }
    saved = await triage.put("/v1/sla/policies", json=policy, headers=bearer(lead))
    assert saved.status == 200, await saved.text()
    (item,) = await ingest(
        inbox,
        ws.ingest_token,
        message("eve", OUTAGE, author="7", created_at="2026-07-13T15:00:00Z"),
    )
    path = f"/v1/conversations/{item['conversation_id']}/sla"

    def first_response_due(body: dict[str, Any]) -> str | None:
        clocks = [c for c in body["clocks"] if c["kind"] == "first_response"]
        return clocks[0]["due_at"] if clocks else None

    body = await answer_when(triage, path, ws.agent_token, first_response_due)
    assert first_response_due(body) == "2026-07-14T08:00:00Z"
    policy["calendar"]["holiday_presets"] = [{"country": "FR"}]
    saved = await triage.put("/v1/sla/policies", json=policy, headers=bearer(lead))
    assert saved.status == 200, await saved.text()
    body = await (await triage.get(path, headers=bearer(ws.agent_token))).json()
    assert first_response_due(body) == "2026-07-15T08:00:00Z"


def _with(path: list[str | int], value: Any) -> dict[str, Any]:
    document = copy.deepcopy(DEFAULT_DOCUMENT)
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return document


BAD_POLICIES = [
    ("unknown zone", _with(["calendar", "timezone"], "Europe/Atlantis"), "/calendar/timezone"),
    ("no hours", _with(["calendar"], {"timezone": "UTC", "always_open": False}), "/calendar/hours"),
    (
        "overlap",
        _with(
            ["calendar"],
            {
                "timezone": "UTC",
                "hours": [
                    {"day": "mon", "start": "09:00", "end": "18:00"},
                    {"day": "mon", "start": "17:00", "end": "20:00"},
                ],
            },
        ),
        "/calendar/hours",
    ),
    (
        "empty opening",
        _with(
            ["calendar"],
            {"timezone": "UTC", "hours": [{"day": "tue", "start": "09:00", "end": "09:00"}]},
        ),
        "/calendar/hours/0",
    ),
    ("bad holiday", _with(["calendar", "holidays"], ["2026-02-30"]), "/calendar/holidays/0"),
    (
        "unknown country",
        _with(["calendar", "holiday_presets"], [{"country": "ZZ"}]),
        "/calendar/holiday_presets/0/country",
    ),
    (
        "unknown region",
        _with(["calendar", "holiday_presets"], [{"country": "DE", "subdivision": "XX"}]),
        "/calendar/holiday_presets/0/subdivision",
    ),
    ("malformed iCal", _with(["calendar", "ical"], "BEGIN:VCALENDAR\nno"), "/calendar/ical"),
    ("huge iCal", _with(["calendar", "ical"], "BEGIN:VCALENDAR\n" * 5000), "/calendar/ical"),
    (
        "zero target",
        _with(["targets", "P2", "first_response_seconds"], 0),
        "/targets/P2/first_response_seconds",
    ),
    (
        "negative target",
        _with(["targets", "P4", "resolution_seconds"], -5),
        "/targets/P4/resolution_seconds",
    ),
    ("ratio", _with(["at_risk_ratio"], 1.5), "/at_risk_ratio"),
    (
        "bad day",
        _with(
            ["calendar"],
            {"timezone": "UTC", "hours": [{"day": "someday", "start": "09:00", "end": "18:00"}]},
        ),
        "/calendar/hours/0/day",
    ),
]


@pytest.mark.parametrize(
    ("case", "document", "pointer"), BAD_POLICIES, ids=[c[0] for c in BAD_POLICIES]
)
async def test_an_impossible_policy_is_422_naming_the_field_and_changes_nothing(
    services: tuple[Any, Any], database_url: str, case: str, document: dict[str, Any], pointer: str
) -> None:
    _, triage = services
    ws = await make_workspace(database_url)
    lead = await make_user(database_url, ws.id, "lead")
    response = await triage.put("/v1/sla/policies", json=document, headers=bearer(lead))
    assert response.status == 422
    problem = await response.json()
    assert pointer in [e["pointer"] for e in problem["errors"]], problem
    current = await (await triage.get("/v1/sla/policies", headers=bearer(lead))).json()
    assert current == DEFAULT_DOCUMENT


async def test_three_schedulers_raise_each_breach_exactly_once(
    aiohttp_client: Any, database_url: str
) -> None:
    inbox, triage = await start_services(aiohttp_client, database_url, consumer=False)
    ws = await make_workspace(database_url)
    # P1 first response: 30 min target, at risk at 22.5 min. These cross both within seconds.
    await ingest(
        inbox,
        ws.ingest_token,
        *[
            message(f"s{n}", SAFETY, author=str(n), created_at=ago(minutes=30, seconds=-1 - n % 3))
            for n in range(12)
        ],
    )
    engine = create_engine(database_url, 12)
    assert await Consumer(engine, database_url, "triage", handle_batch).drain_once() == 12
    raised: list[Transition] = []
    schedulers = [
        SlaScheduler(engine, database_url, on_transition=raised.append, max_sleep=0.2)
        for _ in range(3)
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(s.run(stop)) for s in schedulers]
    for _ in range(200):
        if sum(t.state == "breached" for t in raised) >= 12:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # room for a duplicate to show up, were there one
    stop.set()
    await asyncio.gather(*tasks)
    async with engine.connect() as conn:
        logged = (
            await conn.execute(
                text(
                    "SELECT clock_id, change, count(*) AS n FROM triage.sla_clock_log "
                    "WHERE change IN ('at_risk', 'breached') GROUP BY 1, 2"
                )
            )
        ).all()
        payloads = [
            r[0]
            for r in await conn.execute(
                text("SELECT payload FROM events.outbox WHERE topic = 'sla.breached'")
            )
        ]
    await engine.dispose()
    breaches = [t for t in raised if t.state == "breached"]
    assert len(breaches) == 12
    assert {t.kind for t in breaches} == {"first_response"}
    assert all(r.n == 1 for r in logged)
    events = [events_pb2.SlaStateChanged.FromString(p) for p in payloads]
    assert len(events) == 12 and len({e.clock_id for e in events}) == 12
    assert all(e.state == "breached" and e.priority == 1 for e in events)
    now = datetime.now(UTC)
    assert all(e.crossed_at.ToDatetime(UTC) <= now for e in events)
    await triage.close()
