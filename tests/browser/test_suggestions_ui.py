"""Suggested replies at the desk, in the system Chromium against the real services: under the
reply box, the answer of a similar resolved conversation; "Use" puts it in the box (nothing is
sent), the agent edits it and sends it, and the metric counts it used and sent edited."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from tests.browser import test_desk_ui as desk
from tests.browser.harness import World, audit, customer, shot
from tests.browser.test_desk_ui import open_tab, rows, sign_in
from tests.support.waiting import wait_until
from tests.support.world import bearer

world = desk.world

REFUND = "my refund for the cancelled Faro flight never arrived, booking QX7M2L"
ANSWER = (
    "Sorry about the wait: refunds for cancelled flights are paid within 7 days; I have "
    "escalated your booking to our refunds team today."
)
OPEN = "Still waiting for my refund, the flight was cancelled two weeks ago (booking KD29XF)"


async def test_an_agent_uses_a_suggestion_edits_it_and_sends_it(
    world: World, browser: Browser
) -> None:
    await world.agent("ana@acme.test")
    auth = bearer(world.workspace.agent_token)
    # A Mastodon mention answered (delivered to the fake Mastodon) and resolved last week.
    world.mention("sam@m.example", REFUND, minutes_ago=60 * 24 * 6)
    await world.connect_mastodon()
    (earlier,) = await world.queue_settles(1)
    resolved = earlier["conversation_id"]
    for step, body in (("claim", None), ("replies", {"text": ANSWER}), ("resolve", None)):
        answer = await world.triage.post(
            f"/v1/conversations/{resolved}/{step}", headers=auth, json=body
        )
        assert answer.status in (200, 202), await answer.text()

    async def delivered() -> bool:
        state = await world.scalar(
            "SELECT state FROM triage.replies WHERE conversation_id = :cid", cid=resolved
        )
        return bool(state == "delivered")

    await wait_until(delivered, what="the earlier answer delivered")
    (opened,) = await world.ingest(customer("s2", OPEN, "302", minutes=3))
    await world.queue_settles(1)

    tab = await open_tab(browser, {"width": 1440, "height": 900})
    page = tab.page
    await sign_in(tab, world, "ana@acme.test")
    await expect(rows(page)).to_have_count(1)
    await rows(page).first.locator(".row-link").click()
    await expect(page).to_have_url(re.compile(rf"#/c/{opened}$"))
    await page.locator("#act-claim").click()
    await expect(page.locator("#holder")).to_contain_text("You hold it")

    suggestion = page.locator("#suggestions .suggestion")
    await expect(suggestion).to_have_count(1)
    await expect(suggestion).to_contain_text("QX7M2L")
    await expect(suggestion).to_contain_text(ANSWER)
    await audit(page)
    await shot(page, "suggestions")
    box = page.locator("#reply-text")
    await page.get_by_role("button", name="Use suggestion 1").click()
    await expect(box).to_have_value(ANSWER)
    await expect(box).to_be_focused()
    sent_before = await world.scalar("SELECT count(*) FROM triage.replies")
    assert sent_before == 1, "Use only fills the box"

    edited = ANSWER.replace("today.", "today: your booking KD29XF is first in line.")
    await box.fill(edited)
    await page.get_by_role("button", name="Send reply").click()
    await expect(page.locator("#thread")).to_contain_text("first in line")
    assert (
        await world.scalar(
            "SELECT text FROM triage.replies WHERE conversation_id = :cid", cid=opened
        )
        == edited
    )
    metrics = await (await world.triage.get("/metrics")).text()
    for outcome, value in (("used", 1), ("sent_edited", 1), ("sent_unchanged", 0)):
        assert f'ecoute_suggestions_total{{outcome="{outcome}"}} {value}.0' in metrics, outcome
    tab.assert_clean()
