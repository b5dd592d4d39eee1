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


async def test_a_lead_creates_a_tag_on_the_tags_page_and_an_agent_is_offered_it(
    world: World, browser: Browser
) -> None:
    await world.agent("ana@acme.test")
    lead = await world.agent("lea@acme.test", "lead")
    (cid,) = await world.ingest(customer("p1", "my parcel never arrived, where is it?", "401"))
    await world.queue_settles(1)

    lead_tab = await open_tab(browser, {"width": 1440, "height": 900})
    page = lead_tab.page
    await sign_in(lead_tab, world, "lea@acme.test")
    await page.get_by_role("link", name="Tags").click()
    await expect(page.locator("#tags-title")).to_be_focused()
    await page.get_by_label("Name", exact=True).fill("Billing")
    # Opening a page by its link fires popstate and hashchange, each routing: the second must
    # not rebuild the form under the lead typing in it (it emptied the Team page's e-mail).
    await page.evaluate("window.dispatchEvent(new PopStateEvent('popstate'))")
    await page.evaluate("window.dispatchEvent(new HashChangeEvent('hashchange'))")
    await expect(page.get_by_label("Name", exact=True)).to_have_value("Billing")
    await expect(page.get_by_label("Name", exact=True)).to_be_focused()
    await page.get_by_label("Colour", exact=True).select_option("blue")
    await page.get_by_role("button", name="Create tag").click()
    row = page.locator('#tag-page li[data-tag="Billing"]')
    await expect(row.locator(".tag-chip")).to_have_text("Billing")
    await page.get_by_label("Name of tag Billing").fill("Billing issue")
    await page.get_by_label("Colour of tag Billing").select_option("green")
    await page.get_by_role("button", name="Save tag Billing").click()
    renamed = page.locator('#tag-page li[data-tag="Billing issue"] .tag-chip')
    await expect(renamed).to_have_attribute("data-colour", "green")
    await audit(page)
    await shot(page, "tags-page")

    # A rule written through the API is listed, switched off, then removed.
    rule = {"name": "Close spam", "when": {"words": ["casino"]}, "then": [{"kind": "notify"}]}
    made = await world.triage.post("/v1/rules", headers=bearer(lead), json=rule)
    assert made.status == 201, await made.text()
    await page.get_by_role("link", name="← Queue").click()
    await page.get_by_role("link", name="Tags").click()
    switch = page.get_by_label("On", exact=True)
    await expect(switch).to_be_checked()
    await switch.uncheck()
    await expect(page.locator("#announce")).to_contain_text("Rule Close spam off.")
    listed = await (await world.triage.get("/v1/rules", headers=bearer(lead))).json()
    assert [r["enabled"] for r in listed["items"]] == [False]
    await page.get_by_role("button", name="Delete rule Close spam").click()
    await expect(page.locator("#tag-page").get_by_text("No rule yet.")).to_be_visible()

    agent_tab = await open_tab(browser, {"width": 1440, "height": 900})
    agent = agent_tab.page
    await sign_in(agent_tab, world, "ana@acme.test")
    await expect(agent.get_by_role("link", name="Tags")).to_be_hidden()
    await agent.goto(f"{world.base}#/c/{cid}")
    menu = agent.get_by_label("Add a tag")
    await expect(menu.locator("option")).to_have_text(["+ Tag", "Billing issue"])
    await menu.select_option(label="Billing issue")
    await expect(agent.locator("#conv-tags .tag-chip")).to_have_text(["Billing issue×"])
