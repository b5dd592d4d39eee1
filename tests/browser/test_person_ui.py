"""The person panel, in the system Chromium against the real services: a Messenger customer
shows with the name the platform gave, an agent links the X handle they used yesterday, and
the panel lists that earlier X conversation (a link to it), keeps a note about the person, and
shows the same person from the X side."""

from __future__ import annotations

from playwright.async_api import Browser, Route, expect

from tests.browser import test_desk_ui as desk
from tests.browser.harness import World, audit, customer, shot
from tests.browser.test_desk_ui import open_tab, sign_in
from tests.support.waiting import wait_until
from tests.support.world import ago, message

world = desk.world

PSID = "24000000000000001"


def messenger(external_id: str, words: str, name: str) -> dict[str, object]:
    item = message(
        external_id, words, platform="messenger", channel="acme-dm", kind="dm", created_at=ago()
    )
    item["author"] = {"external_id": PSID, "display_name": name}
    item["thread_id"] = PSID
    return item


async def test_the_panel_shows_the_messenger_name_and_the_linked_earlier_x_conversation(
    world: World, browser: Browser
) -> None:
    await world.agent("ana@acme.test")
    await world.rename("ana@acme.test", "Ana")
    x_id, dm_id = await world.ingest(
        customer("x1", "@acme booking AB1234 was cancelled, nobody answers", "9001", hours=26),
        messenger("m1", "Hi, I wrote on X yesterday about booking AB1234", "Jane Doe"),
    )
    await world.queue_settles(2)
    tab = await open_tab(browser, {"width": 1440, "height": 900})
    page = tab.page
    await sign_in(tab, world, "ana@acme.test")

    await page.goto(f"{world.base}#/c/{dm_id}")
    panel = page.locator("#person")
    await expect(panel.get_by_role("heading", name="About Jane Doe")).to_be_visible()
    history = panel.locator(".person-conversations > li")
    await expect(history).to_have_count(1)  # nothing links the X account yet

    await panel.get_by_label("Link another identity").select_option(label="X")
    await panel.get_by_label("Handle").fill("@user9001")
    await panel.get_by_role("button", name="Link", exact=True).click()
    identities = panel.locator(".person-identity")
    await expect(identities).to_have_count(2)
    await expect(identities.nth(1)).to_contain_text("@user9001")
    await expect(identities.nth(1)).to_contain_text("linked by Ana")
    await expect(history).to_have_count(2)
    earlier = history.nth(1)
    await expect(earlier).to_contain_text("booking AB1234 was cancelled")
    await expect(earlier.get_by_role("link")).to_contain_text("X · support-en")
    await expect(earlier.get_by_role("link")).to_contain_text("Open")

    await panel.get_by_label("Note about this person").fill("Prefers to be answered in French")
    await panel.get_by_role("button", name="Add person note").click()
    await expect(panel.locator(".person-notes li")).to_contain_text(
        ["Prefers to be answered in French — Ana"]
    )
    await audit(page)
    await shot(page, "person-panel")

    await earlier.get_by_role("link").click()  # the X conversation opens, the same person
    await expect(page).to_have_url(f"{world.base}#/c/{x_id}")
    await expect(identities).to_have_count(2)
    await expect(identities.nth(1)).to_contain_text("Jane Doe")
    await expect(panel.locator(".person-notes li")).to_have_count(1)

    await identities.nth(1).get_by_role("button", name="Unlink").click()
    await expect(identities).to_have_count(1)
    await expect(history).to_have_count(1)
    assert tab.errors == [] and tab.dialogs == []


async def test_moving_to_another_conversation_never_shows_the_previous_customer(
    world: World, browser: Browser
) -> None:
    """While the next customer's person is on its way, the panel shows nobody rather than the
    customer of the conversation the agent just left (who could be answered by mistake)."""
    await world.agent("ana@acme.test")
    first, second = await world.ingest(
        customer("x21", "@acme my bag never arrived at JFK", "9121"),
        customer("x22", "@acme the refund for booking ZX9911 is still missing", "9122"),
    )
    await world.queue_settles(2)
    tab = await open_tab(browser, {"width": 1440, "height": 900})
    page = tab.page
    await sign_in(tab, world, "ana@acme.test")
    await page.goto(f"{world.base}#/c/{first}")
    panel = page.locator("#person")
    await expect(panel.locator("#person-title")).to_contain_text("@user9121")

    held: list[Route] = []
    await page.route("**/v1/people/**", lambda route: held.append(route))
    await page.goto(f"{world.base}#/c/{second}")
    await expect(page.locator("#conv-title")).to_contain_text("@user9122")

    async def person_asked() -> bool:
        return bool(held)

    await wait_until(person_asked, what="the desk asked for the second person")
    await expect(panel).to_be_hidden()

    await held[0].continue_()
    await page.unroute("**/v1/people/**")
    await expect(panel.locator("#person-title")).to_contain_text("@user9122")
