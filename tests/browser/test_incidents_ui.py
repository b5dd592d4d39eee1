"""Incidents in a real browser (the system Chromium) against the real services.

Queue rows carry the incident badge; the badge opens the incident view (from the keyboard
too), which lists its conversations; a lead writes the status note there; an agent starts a
reply from it and is warned when the note goes out word for word, not when edited for the
person. Screens are saved under test-artifacts/browser/.
"""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.browser.harness import PHONE, WIDE, World, audit, customer, shot
from tests.browser.test_desk_ui import open_tab, press, rows, sign_in, world  # noqa: F401
from tests.support.incidents import make_incident

DOWN = "My fibre box shows a red light since 9am, no internet at all"
AGAIN = "No internet here either, the box is blinking red since this morning"
OTHER = "Can I pay my invoice by bank transfer?"
NOTE = "A fibre cable was cut near Lyon; technicians expect service back by 18:00 today."


async def test_a_lead_writes_the_status_note_and_an_agent_answers_each_person_from_it(
    world: World,  # noqa: F811
    browser: Browser,
) -> None:
    await world.agent("ana@acme.test")
    await world.agent("lea@acme.test", role="lead")
    down, again, other = await world.ingest(
        customer("d1", DOWN, "1", minutes=3),
        customer("d2", AGAIN, "2", minutes=2),
        customer("o1", OTHER, "3", minutes=1),
    )
    await world.queue_settles(3)
    iid = await make_incident(world.database_url, world.workspace.id, [down, again], "fibre down")

    agent_tab = await open_tab(browser, WIDE)
    agent = agent_tab.page
    await sign_in(agent_tab, world, "ana@acme.test")
    await expect(rows(agent)).to_have_count(3)
    badge = agent.locator(f"#incident-{down}")
    await expect(badge).to_contain_text("fibre down")
    await expect(badge).to_have_attribute("aria-label", f"Part of incident {iid}: fibre down")
    await expect(agent.locator(f"#incident-{again}")).to_be_visible()
    await expect(agent.locator(f"#incident-{other}")).to_have_count(0)
    await audit(agent)
    await shot(agent, "incident-queue-1280")

    # The lead opens the incident from the badge, with the keyboard, and writes the note.
    lead_tab = await open_tab(browser, WIDE)
    lead = lead_tab.page
    await sign_in(lead_tab, world, "lea@acme.test")
    await lead.locator(f"#incident-{down}").focus()
    await press(lead, "Enter")
    await expect(lead.get_by_role("heading", name="Incident: fibre down")).to_be_visible()
    listed = lead.locator(".incident-conversations > li")
    await expect(listed).to_have_count(2)
    await expect(lead.locator(".incident-conversations")).to_contain_text(DOWN)
    await expect(lead.locator(".incident-conversations")).to_contain_text(AGAIN)
    await lead.get_by_role("textbox", name="Status note").fill(NOTE)
    await lead.get_by_role("button", name="Save status note").click()
    await expect(lead.locator("#announce")).to_contain_text("Status note saved")
    await expect(lead.locator(".incident-history")).to_contain_text("Status note changed by Lead")
    await audit(lead)
    await shot(lead, "incident-view-lead-1280")

    # The lead splits the second conversation off, then merges it back.
    await lead.locator(f"#split-{again}").check()
    await lead.get_by_label("Label of the new incident (optional)").fill("box blinking")
    await lead.get_by_role("button", name="Split off the chosen conversations").click()
    await expect(lead.locator("#announce")).to_contain_text("moved to the new incident")
    await expect(listed).to_have_count(1)
    await expect(agent.locator(f"#incident-{again}")).to_contain_text("box blinking")
    await lead.get_by_label("Merge into this incident").select_option(
        label="box blinking (1 message)"
    )
    await lead.get_by_role("button", name="Merge", exact=True).click()
    await expect(listed).to_have_count(2)
    await expect(lead.locator(".incident-history")).to_contain_text("Merged")
    await expect(agent.locator(f"#incident-{again}")).to_contain_text("fibre down")

    # The agent opens the first conversation: the incident and its note are one click away.
    await agent.locator(f"#queue-list li[data-key='{down}'] .row-link").click()
    await expect(agent.locator("#conv-incident")).to_contain_text("fibre down")
    await press(agent, "c")
    await expect(agent.locator("#holder")).to_contain_text("You hold it")
    start = agent.get_by_role("button", name="Start from incident note")
    await expect(start).to_be_visible()
    await start.click()
    await expect(agent.locator("#reply-text")).to_have_value(NOTE)
    await expect(agent.locator("#reply-text")).to_be_focused()
    await press(agent, "Control+Enter")  # sent unchanged: warned
    await expect(agent.locator("#reply-warnings")).to_contain_text("word for word")
    await expect(agent.locator("#thread .reply")).to_have_count(1)
    await audit(agent)
    await shot(agent, "incident-reply-warned-1280")

    # The second person gets the note written for them: no warning.
    await agent.locator(f"#queue-list li[data-key='{again}'] .row-link").click()
    await expect(agent.locator("#thread")).to_contain_text(AGAIN)
    await press(agent, "c")
    await expect(agent.locator("#holder")).to_contain_text("You hold it")
    await agent.get_by_role("button", name="Start from incident note").click()
    await agent.keyboard.press("Control+Home")
    await agent.keyboard.type("Hello, sorry your box is still red. ")
    await press(agent, "Control+Enter")
    await expect(agent.locator("#thread .reply")).to_have_count(1)
    await expect(agent.locator("#reply-warnings")).to_be_empty()
    origins = await world.scalar(
        "SELECT string_agg(detail->>'origin', ',' ORDER BY id) FROM triage.audit_log "
        "WHERE action = 'replied'"
    )
    assert origins == "incident_note_unchanged,incident_note_personalised"

    # An agent reads the incident and its note, and cannot change them.
    await agent.locator("#conv-incident-link").click()
    await expect(agent.get_by_role("heading", name="Incident: fibre down")).to_be_visible()
    await expect(agent.locator("#incident-note-text")).to_have_text(NOTE)
    await expect(agent.get_by_role("button", name="Save status note")).to_have_count(0)
    await expect(agent.get_by_role("button", name="Close incident")).to_have_count(0)
    await agent.get_by_role("button", name="Show its conversations in the queue").click()
    await expect(rows(agent)).to_have_count(2)
    await expect(agent.locator("#queue-count")).to_contain_text("1 filter")
    await expect(agent.locator("#f-incident-clear")).to_be_focused()
    await press(agent, "Enter")
    await expect(rows(agent)).to_have_count(3)
    await press(agent, "Escape")
    await expect(agent.locator("#incident")).to_be_hidden()

    # The lead closes the incident: both conversations stay in the queue.
    await lead.get_by_role("button", name="Close incident").click()
    await expect(lead.locator(".incident-meta")).to_contain_text("Closed (manual)")
    await expect(lead.get_by_role("button", name="Reopen incident")).to_be_visible()
    await expect(agent.locator(f"#incident-{down}")).to_contain_text("Incident (closed)")
    await expect(rows(agent)).to_have_count(3)

    phone_tab = await open_tab(browser, PHONE)
    await sign_in(phone_tab, world, "lea@acme.test")
    await phone_tab.page.goto(f"{world.base}#/i/{iid}")
    await expect(phone_tab.page.get_by_role("heading", name="Incident: fibre down")).to_be_visible()
    await audit(phone_tab.page)
    await shot(phone_tab.page, "incident-view-390")
    for tab in (agent_tab, lead_tab, phone_tab):
        tab.assert_clean()
