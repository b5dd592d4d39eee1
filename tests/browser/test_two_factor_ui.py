"""Two-factor sign-in and access in a real browser (the system Chromium) against the real
triage service: an agent enrols reading the manual key (codes computed here, as an
authenticator app would), signs in with a code, with a recovery code (then it is spent),
is made to enrol by the workspace's policy, and is signed out when another session revokes
theirs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from services.triage.app import create_app as create_triage
from tests.browser.harness import PASSWORD, WIDE, audit, shot
from tests.support.authenticator import Authenticator
from tests.support.world import bearer, make_user, make_workspace, triage_settings

expect.set_options(timeout=10_000)
WRONG_CODE = "Wrong, expired or already used code."


@dataclass
class Desk:
    base: str
    triage: Any
    workspace_id: uuid.UUID
    database_url: str

    async def person(self, role: str = "agent") -> tuple[str, str]:
        """A user who signs in with PASSWORD: (e-mail, API token)."""
        email = f"{role}-{uuid.uuid4().hex[:6]}@acme.test"
        token = await make_user(
            self.database_url, self.workspace_id, role, email=email, password=PASSWORD
        )
        return email, token


@pytest.fixture
async def desk(database_url: str, aiohttp_client: Any) -> Desk:
    triage = await aiohttp_client(create_triage(triage_settings(database_url, run_consumer=False)))
    workspace = await make_workspace(database_url)
    return Desk(str(triage.make_url("/")), triage, workspace.id, database_url)


async def new_page(browser: Browser) -> Page:
    context = await browser.new_context(viewport=WIDE)  # type: ignore[arg-type]
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: errors.append(dialog.message))
    page.errors = errors  # type: ignore[attr-defined]
    return page


async def password(page: Page, desk: Desk, email: str) -> None:
    await page.goto(desk.base)
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Password").press("Enter")


async def signed_in_page(browser: Browser, desk: Desk) -> tuple[str, Page]:
    """A new agent (their email) signed in with their password on a fresh page, at the desk."""
    email, _ = await desk.person()
    page = await new_page(browser)
    await password(page, desk, email)
    await expect(page.locator("#desk")).to_be_visible()
    return email, page


async def code_step(page: Page, code: str) -> None:
    await expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    await page.get_by_label("Code", exact=True).fill(code)
    await page.get_by_role("button", name="Verify").click()


async def sign_out(page: Page) -> None:
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("E-mail")).to_be_visible()


async def enrol_in_page(page: Page) -> tuple[Authenticator, list[str]]:
    """Read the manual key (and check the QR code loaded), confirm with a first code, read
    the recovery codes."""
    qr = page.get_by_role("img", name="QR code to scan with an authenticator app")
    await expect(qr).to_be_visible()
    # Loaded and decoded as an image (the CSP allows it, the server answers SVG).
    await page.wait_for_function(
        "() => { const img = document.querySelector('img.qr');"
        " return img && img.complete && img.naturalWidth > 100; }"
    )
    app = Authenticator((await page.locator("#manual-key").inner_text()).replace(" ", ""))
    field = page.get_by_label("Code from the app")
    await field.fill(app.wrong_code())
    await page.get_by_role("button", name="Turn on two-factor").click()
    await expect(page.get_by_role("alert").filter(has_text="two-factor stays off")).to_be_visible()
    await field.fill(await app.code())
    await page.get_by_role("button", name="Turn on two-factor").click()
    codes = page.locator("#recovery-codes li")
    await expect(codes).to_have_count(10)
    return app, [c.strip() for c in await codes.all_inner_texts()]


async def test_an_agent_enrols_from_the_security_dialog_and_then_signs_in_with_a_code(
    desk: Desk, browser: Browser
) -> None:
    email, page = await signed_in_page(browser, desk)
    await page.get_by_role("button", name="Security").click()
    await expect(page.get_by_text("Two-factor sign-in is off")).to_be_visible()
    await page.locator("#tf-start").click()
    app, _ = await enrol_in_page(page)
    await audit(page)
    await shot(page, "two-factor-recovery-codes")
    await page.get_by_role("button", name="I have saved my recovery codes").click()
    await expect(page.locator("#tf-state")).to_have_text(
        "Two-factor sign-in is on. 10 recovery codes left."
    )
    await page.get_by_role("button", name="Close").click()
    await sign_out(page)

    await password(page, desk, email)
    await code_step(page, app.wrong_code())
    await expect(page.locator("#code-error")).to_have_text(WRONG_CODE)
    await expect(page.locator("#desk")).to_be_hidden()
    await shot(page, "two-factor-code-step")
    await code_step(page, await app.code())
    await expect(page.locator("#desk")).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_recovery_code_signs_in_once_and_is_then_spent(
    desk: Desk, browser: Browser
) -> None:
    email, page = await signed_in_page(browser, desk)
    await page.get_by_role("button", name="Security").click()
    await page.locator("#tf-start").click()
    _, codes = await enrol_in_page(page)
    await page.get_by_role("button", name="I have saved my recovery codes").click()
    await page.get_by_role("button", name="Close").click()
    await sign_out(page)

    await password(page, desk, email)
    await code_step(page, codes[0])
    await expect(page.locator("#desk")).to_be_visible()
    await page.get_by_role("button", name="Security").click()
    await expect(page.locator("#tf-state")).to_have_text(
        "Two-factor sign-in is on. 9 recovery codes left."
    )
    await page.get_by_role("button", name="Close").click()
    await sign_out(page)

    await password(page, desk, email)
    await code_step(page, codes[0])
    await expect(page.locator("#code-error")).to_have_text(WRONG_CODE)
    await expect(page.locator("#desk")).to_be_hidden()
    assert page.errors == []  # type: ignore[attr-defined]


async def test_the_workspace_policy_makes_an_agent_enrol_before_anything_else(
    desk: Desk, browser: Browser
) -> None:
    _, admin_token = await desk.person("admin")
    email, _ = await desk.person("agent")
    required = await desk.triage.put(
        "/v1/workspace/two-factor", headers=bearer(admin_token), json={"policy": "everyone"}
    )
    assert required.status == 200
    page = await new_page(browser)
    await password(page, desk, email)
    await expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    await expect(page.locator("#desk")).to_be_hidden()
    refused = await page.evaluate(
        "fetch('/v1/queue').then(async r => [r.status, (await r.json()).title])"
    )
    assert refused == [403, "Two-factor enrolment required"]
    await audit(page)
    await shot(page, "two-factor-enforced-enrolment")
    await enrol_in_page(page)
    await page.get_by_role("button", name="I have saved my recovery codes").click()
    await expect(page.locator("#desk")).to_be_visible()
    await expect(page.locator("#enrol-screen")).to_be_hidden()
    assert await page.evaluate("fetch('/v1/queue').then(r => r.status)") == 200
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_session_revoked_from_another_device_is_signed_out(
    desk: Desk, browser: Browser
) -> None:
    email, _ = await desk.person()
    laptop, phone = await new_page(browser), await new_page(browser)
    for page in (phone, laptop):
        await password(page, desk, email)
        await expect(page.locator("#desk")).to_be_visible()
    await expect(phone.locator("#live")).to_have_text("Live")  # the event stream is open

    await laptop.get_by_role("button", name="Security").click()
    rows = laptop.locator("#sessions-list li")
    await expect(rows).to_have_count(2)
    await expect(rows.filter(has_text="This device")).to_have_count(1)
    await rows.get_by_role("button", name="Sign out").click()
    await expect(rows).to_have_count(1)

    # Nobody touches the phone: its open stream notices within seconds.
    await expect(phone.locator("#login-error")).to_have_text(
        "Your session has ended: sign in again.", timeout=15_000
    )
    await expect(phone.locator("#desk")).to_be_hidden()
    await laptop.get_by_role("button", name="Close").click()
    await expect(laptop.locator("#desk")).to_be_visible()
    assert laptop.errors == [] and phone.errors == []  # type: ignore[attr-defined]
