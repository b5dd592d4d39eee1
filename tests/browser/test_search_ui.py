"""Search at the desk, in the system Chromium against the real services: `/` focuses the box,
a booking reference finds its conversation in the queue's place, Enter opens it, Esc brings
the queue back."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from tests.browser import test_desk_ui as desk
from tests.browser.harness import World, audit, customer, shot
from tests.browser.test_desk_ui import open_tab, press, rows, sign_in

world = desk.world


async def test_a_booking_reference_finds_its_conversation_from_the_keyboard(
    world: World, browser: Browser
) -> None:
    await world.agent("ana@acme.test")
    ids = await world.ingest(
        customer("r1", "Booking ABX4TR: the hotel never confirmed my room", "201", minutes=9),
        customer("r2", "my parcel never arrived, where is it?", "202", minutes=5),
        customer("r3", "Je voudrais me faire rembourser ma commande", "203", minutes=2),
    )
    tab = await open_tab(browser, {"width": 1440, "height": 900})
    page = tab.page
    await sign_in(tab, world, "ana@acme.test")
    await expect(rows(page)).to_have_count(3)

    await press(page, "/")
    box = page.get_by_label("Search conversations")
    await expect(box).to_be_focused()
    await box.fill("ABX4TR")
    hits = page.locator("#search-results > li")
    await expect(hits).to_have_count(1)
    await expect(hits.locator("mark")).to_have_text("ABX4TR")
    await expect(hits).to_contain_text("@user201")
    await expect(page.locator("#queue-list")).to_be_hidden()
    await audit(page)
    await shot(page, "search-reference")

    await press(page, "Enter")  # to the first hit
    await expect(hits.locator(".row-link")).to_be_focused()
    await press(page, "Enter")  # opens it
    await expect(page).to_have_url(re.compile(rf"#/c/{ids[0]}$"))
    await expect(page.locator("#conversation-pane")).to_contain_text("the hotel never confirmed")

    # French words find their stem; Esc brings the queue back, as it was.
    await box.fill("remboursement")
    await expect(hits).to_have_count(1)
    await expect(hits.locator("mark")).to_have_text("rembourser")
    await box.press("Escape")
    await expect(page.locator("#search-results")).to_be_hidden()
    await expect(box).to_have_value("")
    await expect(rows(page)).to_have_count(3)

    await press(page, "/")
    await box.fill("refrigerator")
    await expect(page.locator("#search-empty")).to_be_visible()
    await expect(hits).to_have_count(0)
