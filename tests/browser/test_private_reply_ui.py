"""An agent answers a Facebook comment with Meta's private reply from the desk, in a real
browser against the real services: "Send privately" beside the invitation to private
messages, the fake Graph API gets one private reply to the comment, and the thread shows the
reply went privately (issue 18, part 4)."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.browser.harness import WIDE, audit
from tests.browser.test_desk_ui import open_tab, sign_in
from tests.support.facebook import FacebookDesk, facebook_desk

WORDS = "I was charged twice for my order, please help"

expect.set_options(timeout=15_000)


desk = facebook_desk  # the services, a connected Page and its fake (fixture)


async def test_an_agent_sends_a_private_reply_to_a_facebook_comment(
    desk: FacebookDesk, browser: Browser
) -> None:
    await desk.user("ana@acme.test", "agent")
    comment = await desk.commented(WORDS)
    tab = await open_tab(browser, WIDE)
    page = tab.page
    await sign_in(tab, desk, "ana@acme.test")
    await page.goto(f"{desk.base}#/c/{comment.conversation_id}")
    await expect(page.locator("#thread .msg.in")).to_have_count(1)
    await page.locator("#act-claim").click()
    await expect(page.locator("#holder")).to_contain_text("You hold it")
    await page.get_by_role("button", name="Invite to private messages").click()
    privately = page.get_by_label("Send privately", exact=False)
    await expect(privately).not_to_be_checked()
    await privately.check()
    await page.locator("#reply-text").fill("Hi Jo, sorry! Which card was charged twice?")
    await page.locator("#send-reply").click()
    reply = page.locator("#thread .reply")
    await expect(reply.locator(".reply-state")).to_have_text("Delivered", timeout=25_000)
    await expect(reply.locator(".reply-private")).to_contain_text("sent privately")
    await expect(privately).not_to_be_checked()  # the next reply starts public again
    assert [(s.kind, s.target) for s in desk.meta.sends] == [("private_reply", comment.id)]
    await audit(page)
    tab.assert_clean()
