"""Rules written in the desk, in the system Chromium against the real services: a lead writes
"casino → close as needing no answer" on the Tags page, a matching message goes through the
real ingest and triage and its conversation shows the rule's reason; a rule without an action
is refused with the API's message beside the actions and nothing is created; editing the rule
(another word, a tag) changes what the next message gets. An agent sees no editor."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.browser import test_desk_ui as desk
from tests.browser.harness import PHONE, WIDE, World, audit, customer, shot
from tests.browser.test_desk_ui import open_tab, sign_in
from tests.support.waiting import wait_until
from tests.support.world import bearer

world = desk.world

SPAM = "Win big at our casino tonight, free spins for everyone"
CRYPTO = "Free crypto giveaway, send 1 coin and get 2 back"
PLAIN = "my parcel never arrived, where is it?"


async def _rules(world: World, lead: str) -> list[dict[str, Any]]:
    answer = await world.triage.get("/v1/rules", headers=bearer(lead))
    assert answer.status == 200, await answer.text()
    return list((await answer.json())["items"])


async def _triaged(world: World, cid: int) -> dict[str, Any]:
    """The conversation once triage (and the rules after it) wrote its decision."""
    seen: dict[str, Any] = {}

    async def decided() -> bool:
        answer = await world.triage.get(
            f"/v1/conversations/{cid}", headers=bearer(world.workspace.agent_token)
        )
        seen.update(await answer.json() if answer.status == 200 else {})
        return answer.status == 200 and bool(seen.get("reasons"))

    await wait_until(decided, what=f"triage decides conversation {cid}")
    return seen


async def _rules_applied(page: Page, world: World, cid: int) -> Any:
    await page.goto(f"{world.base}#/c/{cid}")
    return page.locator("#conv-rules li")


async def test_a_lead_writes_a_rule_in_the_desk_and_the_next_message_obeys_it(
    world: World, browser: Browser
) -> None:
    await world.agent("ana@acme.test")
    lead = await world.agent("lea@acme.test", "lead")
    made = await world.triage.post(
        "/v1/tags", headers=bearer(lead), json={"name": "Spam", "colour": "red"}
    )
    assert made.status == 201, await made.text()
    tab = await open_tab(browser, WIDE)
    page = tab.page
    await sign_in(tab, world, "lea@acme.test")
    await page.get_by_role("link", name="Tags").click()
    await page.get_by_role("button", name="New rule").click()
    await expect(page.get_by_label("Rule name")).to_be_focused()
    await page.get_by_label("Rule name").fill("Casino spam")
    await page.get_by_label("Words or phrases, one per line (any of them)").fill("casino")

    # No action: the API's 422 names /then; its message is shown beside the actions, which
    # take the focus, and no rule exists.
    await page.get_by_role("button", name="Create rule").click()
    add = page.get_by_role("button", name="Add an action")
    await expect(add).to_be_focused()
    await expect(add).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#rule-then-error")).to_contain_text("at least 1 item")
    await expect(add).to_have_accessible_description(re.compile("at least 1 item"))
    assert await _rules(world, lead) == []
    await shot(page, "rules-refused")

    await add.click()
    kind = page.locator("#rule-kind-0")
    await expect(kind).to_be_focused()
    await kind.select_option(label="Close it as needing no answer")
    await expect(kind).to_be_focused()
    await page.get_by_label("Reason agents read").fill("spam")
    await audit(page)
    await page.get_by_role("button", name="Create rule").click()
    await expect(page.locator("#announce")).to_contain_text("Rule Casino spam created.")
    await expect(page.get_by_role("button", name="Edit rule Casino spam")).to_be_focused()
    await expect(page.locator("#rule-form")).to_be_hidden()
    (rule,) = await _rules(world, lead)
    assert rule["when"]["words"] == ["casino"]
    assert rule["then"] == [{"kind": "close", "reason": "spam"}]

    spam, plain = await world.ingest(
        customer("r1", SPAM, "501", minutes=2), customer("r2", PLAIN, "502", minutes=1)
    )
    closed = await _triaged(world, spam)
    assert not closed["needs_answer"]
    applied = await _rules_applied(page, world, spam)
    await expect(applied).to_have_text(["rule “Casino spam”: closed as no answer (spam)"])
    await expect(page.locator("#conv-meta")).to_contain_text("no answer needed")
    await world.queue_settles(1)  # only the parcel waits for an answer
    assert [i["conversation_id"] for i in await world.queue()] == [plain]

    # Edit: another word, and a tag; the next crypto message is closed and tagged.
    await page.goto(f"{world.base}#/tags")
    await page.get_by_role("button", name="Edit rule Casino spam").click()
    await expect(page.get_by_label("Rule name")).to_have_value("Casino spam")
    await expect(page.get_by_label("Reason agents read")).to_have_value("spam")
    await page.get_by_label("Words or phrases, one per line (any of them)").fill("casino\ncrypto")
    await page.get_by_role("button", name="Add an action").click()
    await expect(page.locator("#rule-kind-1")).to_be_focused()
    await page.locator("#rule-tag-1").select_option(label="Spam")
    await shot(page, "rules-editing")
    await page.get_by_role("button", name="Save rule").click()
    await expect(page.locator("#announce")).to_contain_text("Rule Casino spam saved.")
    (edited,) = await _rules(world, lead)
    assert edited["id"] == rule["id"] and edited["when"]["words"] == ["casino", "crypto"]

    (crypto,) = await world.ingest(customer("r3", CRYPTO, "503"))
    await _triaged(world, crypto)
    applied = await _rules_applied(page, world, crypto)
    await expect(applied).to_have_text(
        ["rule “Casino spam”: closed as no answer (spam)", "rule “Casino spam”: tagged “Spam”"]
    )
    await expect(page.locator("#conv-tags .tag-chip")).to_have_text(["Spam×"])
    await shot(page, "rules-applied")
    tab.assert_clean()


async def test_the_editor_cancels_keeps_to_a_phone_and_agents_never_see_it(
    world: World, browser: Browser
) -> None:
    lead = await world.agent("lea@acme.test", "lead")
    await world.agent("ana@acme.test")
    rule = {
        "name": "Insults on Facebook",
        "when": {"platforms": ["facebook"], "abuse": True},
        "then": [{"kind": "mark_abuse", "hide": True}, {"kind": "set_priority", "priority": "P3"}],
    }
    assert (await world.triage.post("/v1/rules", headers=bearer(lead), json=rule)).status == 201
    tab = await open_tab(browser, PHONE, is_mobile=True, has_touch=True)
    page = tab.page
    await sign_in(tab, world, "lea@acme.test")
    await page.goto(f"{world.base}#/tags")
    edit = page.get_by_role("button", name="Edit rule Insults on Facebook")
    await edit.click()
    await expect(page.get_by_role("checkbox", name="Facebook")).to_be_checked()
    await expect(page.get_by_label("Abusive", exact=True)).to_have_value("true")
    await expect(page.get_by_label("Hide the comment on platforms that allow it")).to_be_checked()
    await expect(page.locator("#rule-priority-1")).to_have_value("P3")
    await page.get_by_label("Rule name").fill("Renamed but cancelled")
    await audit(page)
    await shot(page, "rules-phone")
    await page.get_by_role("button", name="Cancel").click()
    await expect(page.locator("#rule-form")).to_be_hidden()
    await expect(edit).to_be_focused()
    assert [r["name"] for r in await _rules(world, lead)] == ["Insults on Facebook"]
    await edit.click()
    await page.get_by_role("button", name="Add an action").focus()
    await page.keyboard.press("Escape")  # cancels, and stays on the page
    await expect(page.locator("#rule-form")).to_be_hidden()
    await expect(edit).to_be_focused()
    tab.assert_clean()

    agent_tab = await open_tab(browser, WIDE)
    agent = agent_tab.page
    await sign_in(agent_tab, world, "ana@acme.test")
    await agent.goto(f"{world.base}#/tags")
    await expect(agent.get_by_role("heading", name="Only leads manage tags")).to_be_visible()
    await expect(agent.get_by_role("button", name="New rule")).to_have_count(0)
