"""Per-platform reply limits through the API: a client gets the rule the desk's composer
shows (the same measure, the same 422), and the repeated-text warning before sending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ecoute.v1 import events_pb2
from tests.integration.test_desk import count
from tests.support.world import answer_when, bearer, ingest, message, scalar

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one grapheme, five code points


async def held(triage: Any, inbox: Any, ws: Any, item: dict[str, Any]) -> int:
    """A customer writes (``item``); the agent claims the conversation."""
    (stored,) = await ingest(inbox, ws.ingest_token, item)
    cid = int(stored["conversation_id"])
    path = f"/v1/conversations/{cid}"
    await answer_when(triage, path, ws.agent_token, lambda view: bool(view["messages"]))
    claimed = await triage.post(f"/v1/conversations/{cid}/claim", headers=bearer(ws.agent_token))
    assert claimed.status == 200
    return cid


@pytest.mark.parametrize(
    ("platform", "kind", "fits", "too_long", "named"),
    [
        # X counts a link as 23, whatever its length: 250 + 1 + 23 fits, 281 letters do not.
        ("x", "mention", "a" * 250 + " https://example.com/" + "p" * 80, "a" * 281, "280"),
        ("bluesky", "mention", FAMILY * 300, FAMILY * 301, "300"),
        ("mastodon", "mention", "b" * 500, "b" * 501, "500"),
        ("instagram", "dm", "é" * 500, "é" * 500 + "e", "1,000 bytes"),
        ("messenger", "dm", "m" * 2000, "m" * 2001, "2,000"),
        ("whatsapp", "dm", "w" * 4096, "w" * 4097, "4,096"),
        ("facebook", "comment", "f" * 4000, "f" * 5000, None),  # under 8,000: no 422
    ],
)
async def test_a_reply_over_its_platforms_limit_is_refused_naming_the_limit(
    desk: Any,
    fresh_whatsapp: None,
    database_url: str,
    platform: str,
    kind: str,
    fits: str,
    too_long: str,
    named: str | None,
) -> None:
    inbox, triage, ws = desk
    item = message(f"{platform}-1", "my parcel never arrived", platform=platform, kind=kind)
    cid = await held(triage, inbox, ws, item)
    path = f"/v1/conversations/{cid}/replies"
    checked = await triage.post(
        f"/v1/conversations/{cid}/reply-check",
        json={"text": too_long},
        headers=bearer(ws.agent_token),
    )
    assert checked.status == 200, await checked.text()
    check = await checked.json()
    refused = await triage.post(path, json={"text": too_long}, headers=bearer(ws.agent_token))
    if named is None:
        assert refused.status == 202 and not check["over"]
        return
    assert check["over"] and check["length"] > check["limit"], check
    assert refused.status == 422
    problem = await refused.json()
    assert named in problem["detail"] and problem["detail"].endswith(check["refusal"]), problem
    assert problem["errors"][0]["pointer"] == "/text"
    assert await count(database_url, "SELECT count(*) FROM triage.replies") == 0
    sent = await triage.post(path, json={"text": fits}, headers=bearer(ws.agent_token))
    assert sent.status == 202, await sent.text()


@pytest.fixture
def fresh_whatsapp(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ingested messages are written at BASE_TIME: WhatsApp's window is measured from
    there, not from the real now, in these length tests."""
    from services.triage.domain import reply_window

    monkeypatch.setattr(reply_window, "WINDOWED_PLATFORMS", frozenset())


async def test_whatsapp_takes_free_text_inside_its_window_and_a_template_after(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws = desk
    now = datetime.now(UTC)
    item = message("wa-1", "where is my parcel?", platform="whatsapp", kind="dm")
    item["created_at"] = (now - timedelta(hours=25)).isoformat()
    cid = await held(triage, inbox, ws, item)
    path = f"/v1/conversations/{cid}/replies"
    check = await triage.post(
        f"/v1/conversations/{cid}/reply-check",
        json={"text": "Sorry!"},
        headers=bearer(ws.agent_token),
    )
    assert any("24 hours" in w for w in (await check.json())["warnings"])  # before sending
    refused = await triage.post(path, json={"text": "Sorry!"}, headers=bearer(ws.agent_token))
    assert refused.status == 422
    problem = await refused.json()
    assert problem["errors"][0]["pointer"] == "/template" and "24 hours" in problem["detail"]
    template = {"name": "order_update", "language": "en_US"}
    sent = await triage.post(
        path,
        json={"text": "Hello, an update on your order.", "template": template},
        headers=bearer(ws.agent_token),
    )
    assert sent.status == 202, await sent.text()
    payload = await scalar(
        database_url,
        "SELECT payload FROM events.outbox WHERE topic = 'reply.requested' LIMIT 1",
    )
    requested = events_pb2.ReplyRequested.FromString(bytes(payload))
    assert (requested.template.name, requested.template.language) == ("order_update", "en_US")
    # the customer writes again: free text is fine for 24 hours
    again = message("wa-2", "still nothing", platform="whatsapp", kind="dm")
    again["created_at"] = now.isoformat()
    await ingest(inbox, ws.ingest_token, again)
    await answer_when(
        triage, f"/v1/conversations/{cid}", ws.agent_token, lambda v: len(v["messages"]) == 2
    )
    check = await triage.post(
        f"/v1/conversations/{cid}/reply-check",
        json={"text": "Checking now."},
        headers=bearer(ws.agent_token),
    )
    assert (await check.json())["warnings"] == []
    ok = await triage.post(path, json={"text": "Checking now."}, headers=bearer(ws.agent_token))
    assert ok.status == 202, await ok.text()


async def test_a_template_outside_whatsapp_is_refused(desk: Any) -> None:
    inbox, triage, ws = desk
    cid = await held(triage, inbox, ws, message("x-t", "hello"))
    refused = await triage.post(
        f"/v1/conversations/{cid}/replies",
        json={"text": "Hi", "template": {"name": "order_update", "language": "en_US"}},
        headers=bearer(ws.agent_token),
    )
    assert refused.status == 422
    assert (await refused.json())["errors"][0]["pointer"] == "/template"


async def test_the_check_measures_as_the_platform_counts_and_warns_of_repeated_text(
    desk: Any,
) -> None:
    inbox, triage, ws = desk
    first = await held(triage, inbox, ws, message("w1", "my parcel never arrived", author="1"))
    second = await held(triage, inbox, ws, message("w2", "my parcel is late", author="2"))
    answer = "We are on it: the carrier has your parcel."
    sent = await triage.post(
        f"/v1/conversations/{first}/replies", json={"text": answer}, headers=bearer(ws.agent_token)
    )
    assert sent.status == 202
    path = f"/v1/conversations/{second}/reply-check"
    same = await (
        await triage.post(path, json={"text": answer}, headers=bearer(ws.agent_token))
    ).json()
    assert same["length"] == len(answer) and same["limit"] == 280 and same["unit"] == "x"
    assert any("same text was sent to 1 other" in w for w in same["warnings"]), same
    own = await (
        await triage.post(
            path,
            json={"text": "Hi Jo, see https://acme.example/track?id=1234567890"},
            headers=bearer(ws.agent_token),
        )
    ).json()
    assert own["warnings"] == [] and own["length"] == len("Hi Jo, see ") + 23, own
    assert await count_replies_unchanged(triage, ws, second)
    elsewhere = await triage.post(
        "/v1/conversations/999999/reply-check", json={"text": "x"}, headers=bearer(ws.agent_token)
    )
    assert elsewhere.status == 404


async def count_replies_unchanged(triage: Any, ws: Any, cid: int) -> bool:
    """A check stores nothing: the conversation still has no reply."""
    view = await (
        await triage.get(f"/v1/conversations/{cid}", headers=bearer(ws.agent_token))
    ).json()
    return view["replies"] == []
