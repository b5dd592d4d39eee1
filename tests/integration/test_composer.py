"""The composer against the real Postgres: suggestions from resolved conversations of the
workspace, saved replies filled for the customer, and the rules checked before sending."""

from __future__ import annotations

import re
from typing import Any

from tests.support.waiting import wait_until
from tests.support.world import (
    bearer,
    ingest,
    make_user,
    make_workspace,
    message,
)

REFUND = "Hi, my refund for the cancelled Faro flight never arrived, booking QX7M2L. Help?"
REFUND_ANSWER = (
    "Sorry about the wait, Graham: refunds for cancelled flights are paid within 7 days of "
    "the request; I have escalated booking QX7M2L to our refunds team today."
)
FOR_SAM = REFUND_ANSWER.replace("Graham", "Sam").replace("QX7M2L", "KD29XF")
WIFI = "The wifi on board did not work at all during the whole trip, very disappointing"
WIFI_ANSWER = "Sorry the on-board wifi let you down: we have passed it to the cabin team."
OPEN = "Still waiting for my refund, the flight was cancelled two weeks ago (booking KD29XF)"


async def written(
    inbox: Any, triage: Any, ws: Any, external_id: str, text: str, author: str, name: str = ""
) -> int:
    """A customer writes; the conversation once triage shows it."""
    item = message(external_id, text, author=author)
    item["author"]["display_name"] = name
    (stored,) = await ingest(inbox, ws.ingest_token, item)
    cid = int(stored["conversation_id"])

    async def shown() -> bool:
        view = await triage.get(f"/v1/conversations/{cid}", headers=bearer(ws.agent_token))
        return view.status == 200 and bool((await view.json())["messages"])

    await wait_until(shown, what="triage shows the conversation")
    return cid


async def answered(
    triage: Any, ws: Any, cid: int, text: str, resolve: bool = True, **start: str
) -> Any:
    auth = bearer(ws.agent_token)
    assert (await triage.post(f"/v1/conversations/{cid}/claim", headers=auth)).status == 200
    reply = await triage.post(
        f"/v1/conversations/{cid}/replies", headers=auth, json={"text": text, **start}
    )
    if resolve:
        assert reply.status == 202, await reply.text()
        assert (await triage.post(f"/v1/conversations/{cid}/resolve", headers=auth)).status == 200
    return reply


def counter(metrics: str, outcome: str) -> float:
    found = re.search(rf'ecoute_suggestions_total\{{outcome="{outcome}"\}} ([0-9.]+)', metrics)
    assert found, outcome
    return float(found.group(1))


async def test_suggestions_are_answers_of_similar_resolved_conversations_of_the_workspace(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws = desk
    other = await make_workspace(database_url, "Other")
    refund = await written(inbox, triage, ws, "r1", REFUND, "1", "Graham W.")
    await answered(triage, ws, refund, REFUND_ANSWER)
    wifi = await written(inbox, triage, ws, "w1", WIFI, "2")
    await answered(triage, ws, wifi, WIFI_ANSWER)
    # Alike but not resolved, and alike in another workspace: neither is a suggestion.
    pending = await written(inbox, triage, ws, "p1", REFUND.replace("Faro", "Nice"), "3")
    await answered(triage, ws, pending, "Unresolved answer about refunds", resolve=False)
    elsewhere = await written(inbox, triage, other, "e1", REFUND, "1")
    await answered(triage, other, elsewhere, "Another brand's refund answer")
    opened = await written(inbox, triage, ws, "o1", OPEN, "4", "Sam A.")

    auth = bearer(ws.agent_token)
    found = await (await triage.get(f"/v1/conversations/{opened}/suggestions", headers=auth)).json()
    # Graham's answer, with Sam's name and booking: one person's reference never reaches
    # another.
    assert [(s["conversation_id"], s["text"]) for s in found["suggestions"]] == [(refund, FOR_SAM)]
    assert "QX7M2L" in found["suggestions"][0]["customer_text"]
    foreign = await triage.get(
        f"/v1/conversations/{opened}/suggestions", headers=bearer(other.agent_token)
    )
    assert foreign.status == 404
    suggestion = found["suggestions"][0]["id"]
    stolen = await triage.post(
        f"/v1/conversations/{elsewhere}/suggestions/use",
        headers=bearer(other.agent_token),
        json={"suggestion_id": suggestion},
    )
    assert stolen.status == 404, "another workspace's reply is not disclosed"

    used = await triage.post(
        f"/v1/conversations/{opened}/suggestions/use",
        headers=auth,
        json={"suggestion_id": suggestion},
    )
    assert (await used.json())["text"] == FOR_SAM
    sent = await answered(
        triage, ws, opened, FOR_SAM + " Thanks, Sam!", resolve=False, suggestion_id=suggestion
    )
    assert sent.status == 202, await sent.text()
    metrics = await (await triage.get("/metrics")).text()
    assert counter(metrics, "shown") == 1
    assert counter(metrics, "used") == 1
    assert (counter(metrics, "sent_edited"), counter(metrics, "sent_unchanged")) == (1, 0)


async def test_a_conversation_with_nothing_alike_gets_no_suggestion(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws = desk
    wifi = await written(inbox, triage, ws, "w1", WIFI, "2")
    await answered(triage, ws, wifi, WIFI_ANSWER)
    opened = await written(inbox, triage, ws, "o1", OPEN, "4")
    found = await (
        await triage.get(f"/v1/conversations/{opened}/suggestions", headers=bearer(ws.agent_token))
    ).json()
    assert found["suggestions"] == []


async def test_saved_replies_are_filled_and_reach_one_person_unchanged_at_most(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws = desk
    lead = await make_user(database_url, ws.id, "lead")
    template = "Hi {name}, booking {reference} is with our refunds team today."
    await triage.post(
        "/v1/saved-replies", headers=bearer(lead), json={"title": "Refund", "text": template}
    )
    sam = await written(inbox, triage, ws, "s1", OPEN, "1", "Sam A.")
    jo = await written(inbox, triage, ws, "j1", "My refund never came, booking ZZ98YY", "2", "Jo")
    ana = await written(inbox, triage, ws, "a1", "Where is my refund?", "3", "Ana")
    auth = bearer(ws.agent_token)

    async def saved_for(cid: int) -> dict[str, Any]:
        found = await triage.get(f"/v1/conversations/{cid}/suggestions", headers=auth)
        (saved,) = (await found.json())["saved_replies"]
        return dict(saved)

    for_sam, for_ana = await saved_for(sam), await saved_for(ana)
    assert for_sam["text"] == "Hi Sam, booking KD29XF is with our refunds team today."
    assert for_sam["unfilled"] == []
    assert for_ana["text"] == "Hi Ana, booking {reference} is with our refunds team today."
    assert for_ana["unfilled"] == ["reference"]

    check = await triage.post(
        f"/v1/conversations/{ana}/reply-check", headers=auth, json={"text": for_ana["text"]}
    )
    assert any("{reference}" in w for w in (await check.json())["warnings"]), "before sending"
    unfilled = await answered(
        triage, ws, ana, for_ana["text"], resolve=False, saved_reply_id=for_ana["id"]
    )
    assert unfilled.status == 422
    assert "{reference}" in (await unfilled.json())["detail"]

    first = await answered(
        triage, ws, sam, for_sam["text"], resolve=False, saved_reply_id=for_sam["id"]
    )
    assert first.status == 202, await first.text()
    for_jo = await saved_for(jo)
    second = await answered(
        triage, ws, jo, for_jo["text"], resolve=False, saved_reply_id=for_jo["id"]
    )
    assert second.status == 422, "filled but unchanged, to a second person"
    assert (await second.json())["errors"][0]["detail"] == "saved reply unchanged"
    edited = for_jo["text"].replace("today.", "today: you will hear from them by Friday.")
    third = await triage.post(
        f"/v1/conversations/{jo}/replies",
        headers=auth,
        json={"text": edited, "saved_reply_id": for_jo["id"]},
    )
    assert third.status == 202, await third.text()


async def test_the_move_to_private_messages_is_prefilled_where_the_platform_allows_it(
    desk: Any, database_url: str
) -> None:
    inbox, triage, ws = desk
    public = await written(inbox, triage, ws, "m1", OPEN, "1", "Sam A.")
    found = await (
        await triage.get(f"/v1/conversations/{public}/suggestions", headers=bearer(ws.agent_token))
    ).json()
    assert found["private"]["offered"] is True
    assert found["private"]["text"].startswith("Hi Sam, please send us a direct message")
