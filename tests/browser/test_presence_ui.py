"""Work pushed to the desk: a lead turns automatic assignment on, one agent says they are
available and another that they are away, a customer writes, and the conversation appears in
the available agent's desk as theirs without a click; the away agent gets nothing, and the
lead sees who is on. In the system Chromium against the real services (the routing worker
runs in the triage app, as in production)."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.browser import test_desk_ui as desk
from tests.browser.harness import WIDE, World, audit, customer, shot
from tests.browser.test_desk_ui import open_tab, rows, sign_in
from tests.support.world import bearer

world = desk.world


async def test_a_conversation_arrives_in_an_available_agents_desk_without_a_click(
    world: World, browser: Browser
) -> None:
    await world.agent("ana@acme.test")
    await world.agent("bob@acme.test")
    await world.rename("ana@acme.test", "Ana")
    await world.rename("bob@acme.test", "Bob")
    lead = await world.agent("lea@acme.test", role="lead")
    switched = await world.triage.put(
        "/v1/routing", headers=bearer(lead), json={"auto_assign": True}
    )
    assert switched.status == 200, await switched.text()

    ana, bob = await open_tab(browser, WIDE), await open_tab(browser, WIDE)
    for tab, email in ((ana, "ana@acme.test"), (bob, "bob@acme.test")):
        await sign_in(tab, world, email)
        # A desk starts as the server says: nobody set a presence yet, so offline.
        await expect(tab.page.get_by_label("My presence")).to_have_value("offline")
    await ana.page.get_by_label("My presence").select_option("available")
    await bob.page.get_by_label("My presence").select_option("away")
    await expect(ana.page.locator("#announce")).to_have_text("You are available.")
    await expect(bob.page.locator("#announce")).to_have_text("You are away.")

    await world.ingest(
        customer("p1", "I was charged twice for the same order", "301"),
        customer("p2", "my parcel never arrived, where is it?", "302"),
    )
    # No click in either desk from here: the routing worker's claims come through the stream.
    await expect(rows(ana.page)).to_have_count(2)
    await expect(rows(ana.page).locator(".holder")).to_have_text(["held by you", "held by you"])
    await expect(rows(bob.page)).to_have_count(2)
    await expect(rows(bob.page).locator(".holder")).to_have_text(["held by Ana", "held by Ana"])
    assert (
        await world.scalar(
            "SELECT count(*) FROM triage.conversations c"
            " JOIN triage.users u ON u.id = c.assignee_id"
            " WHERE u.email = 'bob@acme.test'"
        )
        == 0
    ), "an away agent is given nothing"
    await shot(ana.page, "presence-assigned")

    # The lead sees who is on, from the top bar.
    boss = await open_tab(browser, WIDE)
    await sign_in(boss, world, "lea@acme.test")
    await boss.page.get_by_text("Who is on").click()
    team = boss.page.get_by_role("list", name="Team presence")
    await expect(team.locator("li", has_text="Ana")).to_contain_text("Available")
    await expect(team.locator("li", has_text="Ana")).to_contain_text("2/5 open")
    await expect(team.locator("li", has_text="Bob")).to_contain_text("Away")
    await audit(boss.page)
    await shot(boss.page, "presence-team")
    for tab in (ana, bob, boss):
        tab.assert_clean()
