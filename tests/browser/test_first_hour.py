"""The first hour, in a real browser (the system Chromium) against ``make run`` itself: the
banner's one-click links open the queue as each of the demo team, a used link is refused,
and the demo admin invites an agent from the Team page who joins in a second browser
context, signs in with the password they chose and claims a conversation.

Nothing is set up behind the launcher's back: every way in is read from what it printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.harness import WIDE, audit, shot
from tests.support.launcher import Launcher, launched, launcher_environment

expect.set_options(timeout=20_000)
START_SECONDS = 180  # a fresh Postgres, migrations and three children on a busy 2-core machine
LINK = re.compile(r"^\s+(admin|lead|agent)\s+(\S+@demo\.ecoute)\s+(http://\S+/#signin=\S+)$")
PASSWORD = re.compile(r"the password (\S+)$")
NEWCOMER_PASSWORD = "my own passphrase, 2026"


@dataclass
class WaysIn:
    links: list[tuple[str, str, str]]  # (role, e-mail, link)
    password: str
    desk: str


async def ways_in(launcher: Launcher) -> WaysIn:
    """The team's links and password, as the banner printed them."""
    await launcher.expect(r"Écoute is running", START_SECONDS)
    links = []
    while len(links) < 4:
        found = LINK.match(await launcher.expect(LINK.pattern, 5))
        assert found is not None
        links.append((found[1], found[2], found[3]))
    said = await launcher.expect(PASSWORD.pattern, 5)
    password = PASSWORD.search(said)
    assert password is not None
    return WaysIn(links, password[1], links[0][2].split("/#")[0])


async def window(browser: Browser) -> tuple[BrowserContext, Page, list[str]]:
    """A browser window of its own (its own cookies: one person each), and its page errors."""
    context = await browser.new_context(viewport=WIDE)  # type: ignore[arg-type]
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: errors.append(dialog.message))
    return context, page, errors


async def in_the_queue(page: Page, email: str) -> None:
    await expect(page.locator("#desk")).to_be_visible()
    await expect(page.locator("#who")).to_have_text(email)
    await expect(page.locator("#queue-list li").first).to_be_visible(timeout=60_000)
    await expect(page.locator("#desk")).not_to_have_attribute("aria-busy", "true")
    assert "#signin=" not in page.url and "ecl_" not in page.url  # the token left the address


async def test_from_the_banner_to_a_team_at_work(tmp_path: Path, browser: Browser) -> None:
    async with launched(launcher_environment(tmp_path)) as launcher:
        printed = await ways_in(launcher)
        assert [role for role, _, _ in printed.links] == ["admin", "lead", "agent", "agent"]
        pages: dict[str, Page] = {}
        errors: list[str] = []
        for role, email, link in printed.links:
            _, page, seen = await window(browser)
            errors += seen
            await page.goto(link)
            await in_the_queue(page, email)
            await expect(page.locator("#team-link")).to_be_visible(visible=role == "admin")
            pages[email] = page

        # A link works once: opened again, it signs nobody in.
        _, again, _ = await window(browser)
        await again.goto(printed.links[1][2])
        await expect(again.locator("#login-error")).to_contain_text("already used")

        # The admin invites a newcomer from the Team page; no SMTP: the link is shown.
        admin = pages["admin@demo.ecoute"]
        await admin.locator("#team-link").click()
        await expect(admin.get_by_role("heading", name="Team")).to_be_visible()
        await expect(admin.locator(".team-row", has_text="agent2@demo.ecoute")).to_be_visible()
        invite = admin.locator("#invite-form")
        await invite.get_by_label("E-mail").fill("newcomer@demo.ecoute")
        await invite.get_by_label("Name (optional)").fill("Nina")
        await invite.get_by_label("Role").select_option("agent")
        await admin.get_by_role("button", name="Send invitation").click()
        issued = admin.locator("#issued-link")
        await expect(issued).to_have_value(re.compile(r"#invitation=ecl_"))
        await expect(admin.locator("#issued-help")).to_contain_text("Not mailed")
        invitation = await issued.input_value()
        await expect(admin.locator(".team-row", has_text="newcomer@demo.ecoute")).to_be_visible()
        await audit(admin)
        await shot(admin, "first-hour-team")

        # The newcomer, in a browser of their own: chooses a password, is in.
        _, newcomer, seen = await window(browser)
        errors += seen
        await newcomer.goto(invitation)
        await expect(newcomer.get_by_role("heading", name="Join Demo care team")).to_be_visible()
        await expect(newcomer.locator("#link-email")).to_have_value("newcomer@demo.ecoute")
        await newcomer.get_by_label("New password").fill(NEWCOMER_PASSWORD)
        await newcomer.get_by_label("The same password again").fill(NEWCOMER_PASSWORD)
        await audit(newcomer)
        await newcomer.get_by_role("button", name="Set password and sign in").click()
        await in_the_queue(newcomer, "Nina")

        # Signed out, they sign in with the password they chose, and claim a conversation.
        await newcomer.get_by_role("button", name="Sign out").click()
        await newcomer.get_by_label("E-mail").fill("newcomer@demo.ecoute")
        await newcomer.get_by_label("Password").fill(NEWCOMER_PASSWORD)
        await newcomer.get_by_label("Password").press("Enter")
        await in_the_queue(newcomer, "Nina")
        await newcomer.get_by_role("button", name="Claim next").click()
        await expect(newcomer.locator("#holder")).to_contain_text("You hold it")
        await shot(newcomer, "first-hour-newcomer-claims")

        # The printed password signs the demo lead in too.
        _, lead, _ = await window(browser)
        await lead.goto(printed.desk)
        await lead.get_by_label("E-mail").fill("lead@demo.ecoute")
        await lead.get_by_label("Password").fill(printed.password)
        await lead.get_by_label("Password").press("Enter")
        await in_the_queue(lead, "lead@demo.ecoute")
        assert errors == []
