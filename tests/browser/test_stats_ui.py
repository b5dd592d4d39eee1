"""A lead's view of the day: after Ana answered two customers, the lead opens Stats from the
top bar and reads the first responses, Ana's answers and the channel, for today, 7 or 30
days; an agent has no Stats link. In the system Chromium against the real services."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.browser import test_desk_ui as desk
from tests.browser.harness import PHONE, WIDE, World, audit, shot
from tests.browser.test_desk_ui import open_tab, sign_in
from tests.support.waiting import wait_until
from tests.support.world import bearer

world = desk.world


async def answered(world: World, token: str, conversation_id: int) -> None:
    """Ana claims a conversation and replies through the API, as the desk does."""
    base = f"/v1/conversations/{conversation_id}"
    assert (await world.triage.post(f"{base}/claim", headers=bearer(token))).status == 200
    sent = await world.triage.post(
        f"{base}/replies", headers=bearer(token), json={"text": "On it, sorry for the wait."}
    )
    assert sent.status in (200, 202), await sent.text()


async def delivered(world: World, count: int) -> None:
    """Wait until the platform took ``count`` replies and their first-response clocks stopped."""

    async def done() -> bool:
        replies = await world.scalar(
            "SELECT count(*) FROM triage.replies WHERE state = 'delivered'"
        )
        clocks = await world.scalar(
            "SELECT count(*) FROM triage.sla_clocks"
            " WHERE kind = 'first_response' AND outcome IN ('met', 'missed')"
        )
        return bool(replies == count and clocks == count)

    await wait_until(done, what=f"{count} replies delivered, their clocks stopped")


async def test_a_lead_reads_the_stats_of_the_period_and_an_agent_has_no_stats_link(
    world: World, browser: Browser
) -> None:
    ana = await world.agent("ana@acme.test")
    await world.rename("ana@acme.test", "Ana Lima")
    lead = await world.agent("lea@acme.test", role="lead")
    await world.sla_policy(lead, first_response_seconds=50 * 60)
    world.mention("jane@m.example", "my parcel never arrived, where is it?", minutes_ago=3)
    world.mention("joe@m.example", "I was charged twice for the same order", minutes_ago=2)
    world.mention("max@m.example", "Can you tell me your opening hours?", minutes_ago=1)
    await world.connect_mastodon()
    queued = await world.queue_settles(3)
    for item in queued[:2]:
        await answered(world, ana, item["conversation_id"])
    await delivered(world, 2)

    agent = await open_tab(browser, WIDE)
    await sign_in(agent, world, "ana@acme.test")
    await expect(agent.page.locator("#who")).to_be_visible()
    await expect(agent.page.get_by_role("link", name="Stats")).to_have_count(0)

    boss = await open_tab(browser, WIDE)
    page = boss.page
    await sign_in(boss, world, "lea@acme.test")
    await page.get_by_role("link", name="Stats").click()
    await expect(page.get_by_role("heading", name="Stats")).to_be_focused()
    figures = page.locator(".stats-figures")
    await expect(figures.locator("div", has_text="First responses").locator("dd")).to_have_text("2")
    attained = figures.locator("div", has_text="Within target").locator("dd")
    await expect(attained).to_have_text("100 %")
    agents = page.get_by_role("table", name="Per agent")
    await expect(agents.get_by_role("row", name="Ana Lima")).to_contain_text("2")
    await expect(page.get_by_role("table", name="Per channel")).to_contain_text("Mastodon")
    await expect(page.get_by_role("table", name="Waiting now")).to_contain_text("1")
    await page.get_by_role("button", name="Today").click()
    await expect(page.get_by_role("button", name="Today")).to_have_attribute("aria-pressed", "true")
    await expect(agents.get_by_role("row", name="Ana Lima")).to_contain_text("2")
    await audit(page)
    await shot(page, "stats-1280")
    await page.set_viewport_size(PHONE)
    await audit(page)
    await shot(page, "stats-390")

    # The API refuses the agent as well: no link, and nothing behind the address either.
    await agent.page.evaluate("location.hash = '#/stats'")
    await expect(agent.page.get_by_role("heading", name="Only leads see the stats")).to_be_visible()
    for tab in (agent, boss):
        tab.assert_clean()
