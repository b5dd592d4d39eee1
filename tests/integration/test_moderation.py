"""Moderation on the platform, end to end: a lead hides an abusive Facebook comment from the
desk API; triage records and audits it, the inbox's loop carries it out on the fake Graph API
once, and the outcome comes back to the message. Agents, other workspaces and platforms that
cannot hide are refused; a rule asks through the same function."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.infra.db import create_engine
from services.triage.moderation.usecases import ModerationRefused, Requester, request_moderation
from tests.support.facebook import Desk, FacebookDesk, ThreadsDesk, facebook_desk, threads_desk
from tests.support.waiting import wait_until
from tests.support.world import bearer, ingest, make_user, make_workspace, message, sql

INSULT = "You are all thieves and liars, idiots, scam company"


desk = facebook_desk  # the services, a connected Page and its fake (fixture)
threads = threads_desk  # the same with a Threads account (fixture)


async def conversation(desk: Desk, token: str, cid: int) -> dict[str, Any]:
    answer = await desk.triage.get(f"/v1/conversations/{cid}", headers=bearer(token))
    assert answer.status == 200, await answer.text()
    return dict(await answer.json())


async def moderate(desk: Desk, token: str, cid: int, mid: int, action: str) -> Any:
    return await desk.triage.post(
        f"/v1/conversations/{cid}/moderation",
        headers=bearer(token),
        json={"action": action, "message_id": mid},
    )


async def settled(desk: Desk, token: str, cid: int) -> dict[str, Any]:
    """The comment's latest moderation once the platform has answered."""
    seen: dict[str, Any] = {}

    async def answered() -> bool:
        (first, *_) = (await conversation(desk, token, cid))["messages"]
        seen.update(first)
        return (first["moderation"] or {}).get("state") in ("done", "failed")

    await wait_until(answered, what="the platform's answer never reached the desk")
    return seen


async def test_a_lead_hides_an_abusive_comment_and_the_desk_shows_it_hidden(
    desk: FacebookDesk,
) -> None:
    lead = await desk.user("lea@acme.test", "lead")
    insult = await desk.commented(INSULT)
    assert insult.abuse, "triage flags the insult"
    comment_id, cid = insult.id, insult.conversation_id
    (before,) = (await conversation(desk, lead, cid))["messages"]
    assert (before["moderation"], before["moderation_actions"]) == (
        None,
        ["hide", "unhide", "delete"],
    )
    answer = await moderate(desk, lead, cid, before["id"], "hide")
    assert answer.status == 202, await answer.text()
    assert (await answer.json())["state"] == "requested"
    after = await settled(desk, lead, cid)
    assert after["moderation"]["state"] == "done"
    assert after["moderation"]["visibility"] == "hidden"
    assert after["moderation"]["requested_by_name"] == "Lead"  # make_user names users by role
    fake = desk.meta.comments[comment_id]
    assert (fake.hidden, fake.hidden_changes) == (True, 1)
    audit = await sql(
        desk.database_url,
        "SELECT action, user_id IS NOT NULL AS by_person FROM triage.audit_log "
        "WHERE conversation_id = :c AND action LIKE 'moderation%' ORDER BY id",
        c=cid,
    )
    assert [tuple(a) for a in audit] == [("moderation_requested", True), ("moderation_done", False)]
    metrics = await (await desk.inbox.get("/metrics")).text()
    assert (
        'ecoute_moderation_actions_total{action="hide",outcome="done",platform="facebook"} 1.0'
        in metrics
    )


async def test_a_lead_hides_an_abusive_threads_reply_and_cannot_delete_it(
    threads: ThreadsDesk,
) -> None:
    """Threads hides a reply to the brand's post and shows it again, but deletes only the
    brand's own posts: the desk offers hide and unhide, and refuses delete."""
    desk = threads
    lead = await desk.user("lea@acme.test", "lead")
    insult = await desk.commented(INSULT)
    cid = insult.conversation_id
    (before,) = (await conversation(desk, lead, cid))["messages"]
    assert before["moderation_actions"] == ["hide", "unhide"]
    refused = await moderate(desk, lead, cid, before["id"], "delete")
    assert refused.status == 422
    assert "Threads does not let Écoute delete" in (await refused.json())["detail"]
    answer = await moderate(desk, lead, cid, before["id"], "hide")
    assert answer.status == 202, await answer.text()
    after = await settled(desk, lead, cid)
    assert (after["moderation"]["state"], after["moderation"]["visibility"]) == ("done", "hidden")
    assert desk.threads.is_hidden(insult.id)


async def test_agents_and_platforms_that_cannot_hide_are_refused(desk: FacebookDesk) -> None:
    lead = await desk.user("lea@acme.test", "lead")
    cid = (await desk.commented(INSULT)).conversation_id
    mid = (await conversation(desk, lead, cid))["messages"][0]["id"]
    agent = await moderate(desk, desk.workspace.agent_token, cid, mid, "hide")
    assert agent.status == 403
    assert (await moderate(desk, lead, cid, mid + 10_000, "hide")).status == 404
    (mention,) = await ingest(
        desk.inbox, desk.workspace.ingest_token, message("x-1", "you people are useless idiots")
    )
    x_cid = int(mention["conversation_id"])
    x_message = await wait_until_message(desk, lead, x_cid)
    refused = await moderate(desk, lead, x_cid, x_message["id"], "hide")
    assert refused.status == 422
    assert (await refused.json())["detail"] == "X does not let Écoute hide messages."
    assert x_message["moderation_actions"] == []
    wrong_conversation = await moderate(desk, lead, x_cid, mid, "hide")
    assert wrong_conversation.status == 404
    assert desk.meta.comments and not any(c.hidden for c in desk.meta.comments.values())


async def wait_until_message(desk: FacebookDesk, token: str, cid: int) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def triaged() -> bool:
        answer = await desk.triage.get(f"/v1/conversations/{cid}", headers=bearer(token))
        found[:] = (await answer.json()).get("messages", []) if answer.status == 200 else []
        return bool(found)

    await wait_until(triaged, what="triage never stored the message")
    return found[0]


async def test_another_workspace_cannot_reach_the_comment(
    desk: FacebookDesk, database_url: str
) -> None:
    lead = await desk.user("lea@acme.test", "lead")
    cid = (await desk.commented(INSULT)).conversation_id
    mid = (await conversation(desk, lead, cid))["messages"][0]["id"]
    other = await make_workspace(database_url, "Other care")
    foreign_lead = await make_user(database_url, other.id, "lead")
    answer = await moderate(desk, foreign_lead, cid, mid, "hide")
    assert answer.status == 404
    assert await sql(database_url, "SELECT count(*) FROM triage.moderations") == [(0,)]


async def test_a_refused_token_is_reported_and_the_channel_needs_reauthorisation(
    desk: FacebookDesk,
) -> None:
    lead = await desk.user("lea@acme.test", "lead")
    insult = await desk.commented(INSULT)
    comment_id, cid = insult.id, insult.conversation_id
    mid = (await conversation(desk, lead, cid))["messages"][0]["id"]
    desk.meta.expire_token()
    assert (await moderate(desk, lead, cid, mid, "hide")).status == 202
    after = await settled(desk, lead, cid)
    assert (after["moderation"]["state"], after["moderation"]["failure_reason"]) == (
        "failed",
        "auth_expired",
    )
    assert after["moderation"]["visibility"] == "visible"
    channels = await desk.inbox.get("/v1/channels", headers=bearer(desk.workspace.channels_token))
    (channel,) = (await channels.json())["items"]
    assert channel["health"] == "needs_reauth"
    assert channel["capabilities"] == {
        "moderation": ["hide", "unhide", "delete"],
        "moderation_note": "",
    }
    assert not desk.meta.comments[comment_id].hidden


async def test_a_rule_asks_through_the_same_function_and_a_deleted_comment_stays_deleted(
    desk: FacebookDesk, database_url: str
) -> None:
    lead = await desk.user("lea@acme.test", "lead")
    insult = await desk.commented(INSULT)
    comment_id, cid = insult.id, insult.conversation_id
    mid = (await conversation(desk, lead, cid))["messages"][0]["id"]
    engine = create_engine(database_url, 1)
    try:
        async with engine.begin() as conn:
            asked = await request_moderation(
                conn,
                desk.workspace.id,
                mid,
                "delete",
                Requester(None, "rule:abuse"),
                datetime.now(UTC),
            )
        assert asked.conversation_id == cid
        after = await settled(desk, lead, cid)
        assert (after["moderation"]["visibility"], after["moderation_actions"]) == ("deleted", [])
        assert after["moderation"]["requested_by_name"] is None
        assert desk.meta.comments[comment_id].removed
        async with engine.begin() as conn:
            with pytest.raises(ModerationRefused, match="deleted on Facebook already"):
                await request_moderation(
                    conn, desk.workspace.id, mid, "hide", Requester(None, "rule"), datetime.now(UTC)
                )
    finally:
        await engine.dispose()
    audit = await sql(
        database_url,
        "SELECT detail->>'reason' FROM triage.audit_log WHERE action = 'moderation_requested'",
    )
    assert audit == [("rule:abuse",)]


async def test_erasing_the_person_forgets_what_the_platform_said_about_the_moderation(
    desk: FacebookDesk, database_url: str
) -> None:
    lead = await desk.user("lea@acme.test", "lead")
    admin = await desk.user("ada@acme.test", "admin")
    cid = (await desk.commented(INSULT)).conversation_id
    mid = (await conversation(desk, lead, cid))["messages"][0]["id"]
    desk.meta.expire_token()
    await moderate(desk, lead, cid, mid, "hide")
    assert (await settled(desk, lead, cid))["moderation"]["failure_detail"]
    answer = await desk.triage.post(
        "/v1/privacy/erasures",
        headers=bearer(admin),
        json={"identities": [{"platform": "facebook", "author_id": "139560936744123"}]},
    )
    assert answer.status == 202, await answer.text()

    async def forgotten() -> bool:
        rows = await sql(
            database_url,
            "SELECT (SELECT count(*) FROM triage.moderations WHERE failure_detail IS NOT NULL)"
            " + (SELECT count(*) FROM inbox.moderations WHERE failure_detail IS NOT NULL)",
        )
        return bool(rows[0][0] == 0)

    await wait_until(forgotten, what="the platform's words outlived the erasure")
    (message,) = (await conversation(desk, lead, cid))["messages"]
    assert message["moderation"]["failure_reason"] == "auth_expired"  # the code stays
    assert message["moderation_actions"] == []  # an erased message is not moderated again


async def test_a_rule_hides_an_abusive_facebook_comment_without_anyone_asking(
    desk: FacebookDesk, database_url: str
) -> None:
    """Issue 19's rule "mark abuse and hide": the comment arrives, triage flags it, the rule
    asks the platform, and the fake Graph API has the comment hidden, once."""
    lead = await desk.user("lea@acme.test", "lead")
    rule = {
        "name": "Hide insults",
        "when": {"abuse": True, "platforms": ["facebook"]},
        "then": [{"kind": "mark_abuse", "hide": True}],
    }
    written = await desk.triage.post("/v1/rules", headers=bearer(lead), json=rule)
    assert written.status == 201, await written.text()
    insult = await desk.commented(INSULT)
    comment_id, cid = insult.id, insult.conversation_id
    after = await settled(desk, lead, cid)
    assert (after["moderation"]["state"], after["moderation"]["visibility"]) == ("done", "hidden")
    fake = desk.meta.comments[comment_id]
    assert (fake.hidden, fake.hidden_changes) == (True, 1)
    audit = await sql(
        database_url,
        "SELECT detail->>'reason' FROM triage.audit_log WHERE action = 'moderation_requested'",
    )
    assert audit == [("rule:Hide insults",)]
