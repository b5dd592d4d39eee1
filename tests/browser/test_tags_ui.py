"""Tags at the desk, in the system Chromium against the real services: an agent tags the open
conversation from its menu, the queue shows the chip and filters by the tag, and the chip's
× takes it off."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.browser import test_desk_ui as desk
from tests.browser.harness import World, audit, customer, shot
from tests.browser.test_desk_ui import open_tab, rows, sign_in
from tests.support.world import bearer

world = desk.world


async def test_an_agent_tags_a_conversation_and_filters_the_queue_by_it(
    world: World, browser: Browser
) -> None:
    await world.agent("ana@acme.test")
    lead = await world.agent("lea@acme.test", "lead")
    for name, colour in (("Refund", "orange"), ("VIP", "purple")):
        made = await world.triage.post(
            "/v1/tags", headers=bearer(lead), json={"name": name, "colour": colour}
        )
        assert made.status == 201, await made.text()
    ids = await world.ingest(
        customer("t1", "I want my money back for the cancelled flight", "301", minutes=9),
        customer("t2", "my parcel never arrived, where is it?", "302", minutes=5),
    )
    await world.queue_settles(2)
    tab = await open_tab(browser, {"width": 1440, "height": 900})
    page = tab.page
    await sign_in(tab, world, "ana@acme.test")
    await expect(rows(page)).to_have_count(2)

    await page.goto(f"{world.base}#/c/{ids[0]}")
    chips = page.locator("#conv-tags .tag-chip")
    await expect(chips).to_have_count(0)
    await page.get_by_label("Add a tag").select_option(label="Refund")
    await expect(chips).to_have_text(["Refund×"])
    await expect(page.locator("#queue-list .tag-chip")).to_have_text(["Refund"])

    await page.get_by_label("Tag", exact=True).select_option(label="Refund")
    await expect(rows(page)).to_have_count(1)
    await audit(page)
    await shot(page, "tags-filter")

    await page.get_by_label("Remove tag Refund").click()
    await expect(chips).to_have_count(0)
    await expect(rows(page)).to_have_count(0)
