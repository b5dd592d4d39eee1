"""A lead hides an abusive Facebook comment from the desk, in a real browser against the real
services, and the fake Meta Graph API reports the comment hidden (issue 22, part 6).

The comment arrives as Meta's signed webhook; the inbox's loop carries out the hide on the
fake; the desk shows "Hiding on Facebook…" then "Hidden on Facebook" when the platform's
answer comes back. An agent sees no moderation buttons; deleting asks for a confirmation in
the page (never a browser dialog, which the tab would count as a failure).
"""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.browser.harness import WIDE, audit, shot
from tests.browser.test_desk_ui import open_tab, sign_in
from tests.support.facebook import FacebookDesk, facebook_desk
from tests.support.waiting import wait_until

INSULT = "You are all thieves and liars, idiots, scam company"

expect.set_options(timeout=15_000)


desk = facebook_desk  # the services, a connected Page and its fake (fixture)


async def test_a_lead_hides_an_abusive_facebook_comment_and_the_fake_reports_it_hidden(
    desk: FacebookDesk, browser: Browser
) -> None:
    await desk.user("lea@acme.test", "lead")
    await desk.user("ana@acme.test", "agent")
    insult = await desk.commented(INSULT)
    assert insult.abuse, "triage flags the insult as abusive"
    comment_id = insult.id
    link = f"{desk.base}#/c/{insult.conversation_id}"

    agent = await open_tab(browser, WIDE)
    await sign_in(agent, desk, "ana@acme.test")  # sign_in reads only the desk's address
    await agent.page.goto(link)
    await expect(agent.page.locator("#thread .msg.in")).to_have_count(1)
    await expect(agent.page.locator("#thread .moderate")).to_have_count(0)

    tab = await open_tab(browser, WIDE)
    page = tab.page
    await sign_in(tab, desk, "lea@acme.test")
    await page.goto(link)
    comment = page.locator("#thread .msg.in")
    await expect(comment).to_have_count(1)
    moderate = comment.get_by_role("group", name="Moderate on Facebook")
    await expect(moderate.get_by_role("button", name="Hide")).to_be_visible()
    await audit(page)

    # Delete asks first; cancelling deletes nothing.
    await moderate.get_by_role("button", name="Delete…").click()
    await expect(comment.get_by_text("Delete this comment on Facebook for good?")).to_be_visible()
    await comment.get_by_role("button", name="Cancel").click()
    assert not desk.meta.comments[comment_id].removed

    await (
        comment.get_by_role("group", name="Moderate on Facebook")
        .get_by_role("button", name="Hide")
        .click()
    )
    await expect(comment.locator(".moderation")).to_contain_text("Hidden on Facebook")
    await expect(comment.get_by_role("button", name="Unhide")).to_be_visible()
    await audit(page)
    await shot(page, "moderation-hidden-1280")

    async def hidden() -> bool:
        return desk.meta.comments[comment_id].hidden

    await wait_until(hidden, what="the fake never hid the comment")
    assert desk.meta.comments[comment_id].hidden_changes == 1
    assert not desk.meta.comments[comment_id].removed
    tab.assert_clean()
    agent.assert_clean()
