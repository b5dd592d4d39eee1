"""What the demo's lead does while the corpus plays: the desk's side of the live demo.

The corpus brings the customers (``demo/feed.py``: history, then live messages); this module
is the colleague already at work, through the triage API like any agent, with the demo lead's
token. On a fresh demo it

- sets the demo workspace's SLA policy: P1 (safety) is answered within 4 minutes, so the live
  P1 report (a torn cable hanging over a pavement, 30 s after the start) goes at risk at about
  3:30 and is breached at about 4:30 unless someone answers it first;
- answers two customers: one reply is delivered (an X mention), the other is refused by
  Messenger, whose 24-hour window closed (that customer wrote 25 hours ago): the desk shows the
  reason, ``window_closed``.

``plan`` is what the terminal says will happen, once, when the demo starts afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from demo.feed import INTERVAL

HOUR = 3600
# The product's default policy, except P1: short enough to watch a clock cross its thresholds.
DEMO_POLICY: dict[str, Any] = {
    "calendar": {"timezone": "UTC", "always_open": True, "hours": [], "holidays": []},
    "at_risk_ratio": 0.75,
    "targets": {
        "P1": {
            "first_response_seconds": 240,
            "next_response_seconds": 600,
            "resolution_seconds": HOUR,
        },
        "P2": {
            "first_response_seconds": 2 * HOUR,
            "next_response_seconds": 2 * HOUR,
            "resolution_seconds": 24 * HOUR,
        },
        "P3": {
            "first_response_seconds": 8 * HOUR,
            "next_response_seconds": 8 * HOUR,
            "resolution_seconds": 72 * HOUR,
        },
        "P4": {
            "first_response_seconds": 24 * HOUR,
            "next_response_seconds": 24 * HOUR,
            "resolution_seconds": 168 * HOUR,
        },
    },
}

# (whether the demo lead plays a part in it, what the terminal says will happen)
_PLAN = (
    (
        True,
        "0:30  a P1 safety report: the demo policy answers P1 within 4 min, so it goes at risk "
        "at ~3:30 and is breached at ~4:30",
    ),
    (
        False,
        "1:00  the Lyon fibre outage: six people on five platforms in a minute, an incident "
        "(Incidents page)",
    ),
    (
        True,
        "2:00  the demo lead answers two customers: one reply delivered, one refused by "
        "Messenger (window_closed: they wrote 25 h ago)",
    ),
    (False, "3:15  a pile-on of insults: a moderation incident"),
)


def plan(with_lead: bool) -> list[str]:
    """What the live demo shows, minute by minute (what needs the lead only when there is one)."""
    return ["live in the next 5 minutes:"] + [line for lead, line in _PLAN if with_lead or not lead]


@dataclass(frozen=True)
class Answer:
    """The demo lead answers the conversation of corpus item ``answers`` at ``at`` seconds."""

    at: float
    answers: str
    text: str


ANSWERS = (
    Answer(
        120,
        "d-0012",
        "Hi Matt! A guitar can travel in the cabin if it fits in the overhead locker; otherwise "
        "book it a seat of its own (Manage booking > Extras). Enjoy Belfast! ^Camille",
    ),
    Answer(
        130,
        "d-0187",
        "Hi Sam, sorry for the wait: here is the refund form for KD29XF: skylark.example/refund "
        "(5 working days once we have it). ^Camille",
    ),
)


async def wait_ready(
    session: aiohttp.ClientSession, base_url: str, what: str, seconds: float = 60.0
) -> None:
    """Until ``base_url``'s ``/readyz`` answers 200 (a service starting, or restarting)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(base_url + "/readyz") as response:
                if response.status == 200:
                    return
        if loop.time() > deadline:
            raise RuntimeError(f"{what} at {base_url} did not become ready")
        await asyncio.sleep(0.5)


class Desk:
    """The triage API, as the demo lead."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        await wait_ready(self.session, self.base_url, "triage")
        async with self.session.request(
            method, self.base_url + path, json=body, headers=self.headers
        ) as response:
            if response.status >= 300:
                raise RuntimeError(
                    f"{method} {path} answered {response.status}: {await response.text()}"
                )
            return await response.json()

    async def set_policy(self, policy: Mapping[str, Any]) -> None:
        await self._call("PUT", "/v1/sla/policies", dict(policy))

    async def conversation_of(self, platform: str, text: str, seconds: float = 60) -> int | None:
        """The waiting conversation whose latest message is ``text`` (once triaged)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            queue = await self._call("GET", f"/v1/queue?platform={platform}&limit=500")
            for item in queue["items"]:
                if (item.get("latest_message") or {}).get("text") == text:
                    return int(item["conversation_id"])
            if loop.time() > deadline:
                return None
            await asyncio.sleep(1.0)

    async def answer(self, conversation_id: int, text: str, key: str) -> None:
        """Claim, reply (once: ``key`` makes a second send the same reply), release."""
        path = f"/v1/conversations/{conversation_id}"
        await self._call("POST", path + "/claim")
        await self._call("POST", path + "/replies", {"text": text, "client_key": key})
        await self._call("POST", path + "/release")


async def play(
    desk: Desk,
    corpus: Sequence[dict[str, Any]],
    *,
    interval: float = INTERVAL,
    answers: Sequence[Answer] = ANSWERS,
) -> list[str]:
    """Set the demo policy, then give each answer when due; returns what could not be done
    (a step that fails is reported, and the others still happen).

    Times scale with ``interval`` like the corpus's timeline.
    """
    items = {item["external_id"]: item for item in corpus}
    loop = asyncio.get_running_loop()
    origin = loop.time()
    missed = []
    try:
        await desk.set_policy(DEMO_POLICY)
    except (aiohttp.ClientError, RuntimeError) as exc:
        missed.append(f"the demo SLA policy was not set: {exc}")
    for answer in sorted(answers, key=lambda a: a.at):
        await asyncio.sleep(max(0.0, origin + answer.at * interval / INTERVAL - loop.time()))
        item = items[answer.answers]
        try:
            found = await desk.conversation_of(item["platform"], item["text"])
            if found is None:
                missed.append(f"{answer.answers} is not in the queue")
                continue
            await desk.answer(found, answer.text, f"demo-{answer.answers}")
        except (aiohttp.ClientError, RuntimeError) as exc:
            missed.append(f"{answer.answers}: {exc}")
    return missed
