"""A working day at the desk, in the system Chromium against the real services: a dense queue
(12+ rows on a 1440×900 screen, j/k from the top), handles that never break on a phone, and
no keyboard hints on a touch screen. Screens are saved under test-artifacts/browser/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.harness import PHONE, World, audit, customer, shot
from tests.browser.test_desk_ui import open_tab, press, rows, sign_in, world
from tests.support.world import bearer

# The desk tests' fixtures: the real services on real ports, and the system Chromium.
__all__ = ["world"]  # the fixture, shared with the desk tests

DESKTOP = {"width": 1440, "height": 900}
WORDS = [
    "My internet has been down since this morning, please help",
    "How do I change the date of my flight?",
    "Someone hacked my account and took money from my card, urgent!",
    "Can you tell me your opening hours?",
    "my parcel never arrived, where is it?",
    "I was charged twice for the same order",
]

# Rows wholly inside the queue pane's visible box (what the agent sees without scrolling).
ROWS_IN_VIEW = """() => {
  const pane = document.getElementById('queue-pane').getBoundingClientRect();
  const bottom = Math.min(pane.bottom, window.innerHeight);
  return [...document.querySelectorAll('#queue-list > li')].filter((row) => {
    const box = row.getBoundingClientRect();
    return box.height > 0 && box.top >= pane.top && box.bottom <= bottom + 0.5;
  }).length;
}"""

# How many lines each element's text takes: a handle broken mid-word takes two.
LINES = """(selector) => {
  const counts = [...document.querySelectorAll(selector)].map((el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
  });
  return counts.length && counts.every((n) => n > 0) ? counts : null;
}"""


async def lines_of(page: Page, selector: str) -> list[int]:
    """How many lines each element's text takes, once all are laid out (a re-render in
    between leaves none for a moment)."""
    handle = await page.wait_for_function(LINES, arg=selector)
    counts: list[int] = await handle.json_value()
    return counts


async def a_busy_morning(world: World, count: int) -> list[dict[str, Any]]:
    """``count`` customers wrote over the last hours; returns the queue in its order."""
    await world.agent("ana@acme.test")
    lead = await world.agent("lea@acme.test", role="lead")
    await world.sla_policy(lead, first_response_seconds=50 * 60)
    await world.ingest(
        *[
            customer(f"d{i}", WORDS[i % len(WORDS)], str(100 + i), minutes=7 * i + 1)
            for i in range(count)
        ]
    )
    return await world.queue_settles(count)


async def test_twelve_rows_and_more_fit_a_laptop_screen_and_j_starts_at_the_top(
    world: World, browser: Browser
) -> None:
    queued = await a_busy_morning(world, 20)
    tab = await open_tab(browser, DESKTOP)
    page = tab.page
    await sign_in(tab, world, "ana@acme.test")
    await expect(rows(page)).to_have_count(20)
    in_view = await page.evaluate(ROWS_IN_VIEW)
    print(f"queue rows visible at 1440x900: {in_view}")
    assert in_view >= 12, f"only {in_view} rows fit a 1440×900 screen"
    # Every row says what an agent triages by, on its three short lines.
    for row, item in zip((await rows(page).all())[:12], queued, strict=False):
        await expect(row.locator(".badge")).to_have_text(item["priority"])
        await expect(row.locator("time.countdown")).to_have_text(re.compile(r"left|overdue by"))
        await expect(row.locator(".where")).to_contain_text("X")
        handle = item["latest_message"]["author"]["handle"]
        await expect(row.locator(".who")).to_have_text(f"@{handle}")
        await expect(row.locator(".excerpt")).to_have_text(item["latest_message"]["text"])
        await expect(row.locator(".reasons")).to_have_text(item["reasons"][0])
    # The filters are one bar, open (no "Filters" to unfold first): saved views, then the
    # choices on one line.
    bar = await page.locator("#filters").bounding_box()
    assert bar is not None and bar["height"] < 70, bar
    tops = await page.locator("#filters select").evaluate_all(  # shown ones (Tag: if any)
        "els => els.filter(e => e.getClientRects().length)"
        ".map(e => Math.round(e.getBoundingClientRect().top))"
    )
    assert len(set(tops)) == 1, tops
    await expect(page.get_by_label("Priority")).to_be_visible()

    # Nothing is selected on arrival: the first j selects the most urgent conversation.
    await expect(page.locator("#queue-list > li[aria-current]")).to_have_count(0)
    await press(page, "j")
    await expect(rows(page).first).to_have_attribute("aria-current", "true")
    await press(page, "k")
    await expect(rows(page).first).to_have_attribute("aria-current", "true")
    await press(page, "j")
    await expect(rows(page).nth(1)).to_have_attribute("aria-current", "true")
    await audit(page)
    await shot(page, "day-queue-1440")
    tab.assert_clean()


async def test_a_whatsapp_customer_is_named_by_their_profile_not_their_phone_number(
    world: World, browser: Browser
) -> None:
    """On WhatsApp the handle is the person's phone number: the desk names them by the
    profile name WhatsApp gives, as it shows an @handle on X."""
    await world.agent("ana@acme.test")
    await world.ingest(
        {
            **customer("w1", WORDS[0], "33612345678", minutes=2),
            "platform": "whatsapp",
            "kind": "dm",
            "author": {
                "external_id": "33612345678",
                "handle": "33612345678",
                "display_name": "Valérie B.",
            },
        },
        customer("x1", WORDS[1], "502", minutes=1),
    )
    await world.queue_settles(2)
    tab = await open_tab(browser, DESKTOP)
    page = tab.page
    await sign_in(tab, world, "ana@acme.test")
    await expect(page.locator("#queue-list .who")).to_have_text(["Valérie B.", "@user502"])
    tab.assert_clean()


@pytest.mark.parametrize(
    ("platform", "label", "kind", "author_id", "held"),
    [
        ("threads", "Threads", "reply", "lea_m", False),
        ("youtube", "YouTube", "comment", "UCc-lea_m", True),
    ],
)
async def test_a_reply_on_a_newer_platform_is_named_there_and_the_platform_is_a_filter(
    world: World,
    browser: Browser,
    platform: str,
    label: str,
    kind: str,
    author_id: str,
    held: bool,
) -> None:
    """A reply to the brand's Threads post, a comment under its YouTube video: the
    conversation says where it was written, and the queue's platform filter offers the
    platform by its name. A comment YouTube holds for review says it is not public."""
    await world.agent("ana@acme.test")
    await world.ingest(
        {
            **customer("t1", WORDS[1], "lea_m", minutes=2),
            "platform": platform,
            "kind": kind,
            "author": {"external_id": author_id, "handle": "lea_m"},
            "held": held,
        },
    )
    await world.queue_settles(1)
    tab = await open_tab(browser, DESKTOP)
    page = tab.page
    await sign_in(tab, world, "ana@acme.test")
    option = page.locator("#f-platform option", has_text=re.compile(f"^{label}$"))
    await expect(option).to_have_count(1)
    await rows(page).first.locator(".row-link").click()
    await expect(page.locator("#conv-title")).to_have_text(f"@lea_m on {label}")
    note = page.locator(".msg.in .held")
    await expect(note).to_have_count(1 if held else 0)
    if held:
        await expect(note).to_contain_text("held for review, not public")
    tab.assert_clean()


async def test_on_a_touch_phone_handles_stay_whole_and_no_key_hint_shows(
    world: World, browser: Browser
) -> None:
    await world.agent("ana@acme.test")
    long_handle = "averyveryverylonghandle_of_someone"
    await world.ingest(
        {
            **customer("p1", WORDS[0], "501", minutes=3),
            "author": {"external_id": "501", "handle": long_handle},
        },
        customer("p2", WORDS[1], "502", minutes=2),
    )
    await world.queue_settles(2)
    tab = await open_tab(browser, PHONE, has_touch=True, is_mobile=True)
    page = tab.page
    await sign_in(tab, world, "ana@acme.test")
    await expect(rows(page)).to_have_count(2)
    await expect(page.locator("#claim-next")).to_be_visible()
    await expect(page.locator("#claim-next kbd")).to_be_hidden()
    assert await lines_of(page, "#queue-list .who") == [1, 1]
    await audit(page)
    await shot(page, "day-queue-390", whole=False)
    await rows(page).filter(has_text=long_handle).locator(".row-link").click()
    await expect(page.locator("#conv-title")).to_contain_text(long_handle)
    await expect(page.locator("#conv-title .who")).to_be_visible()
    assert await lines_of(page, "#conv-title .who") == [1]
    await expect(page.locator("#act-claim kbd")).to_be_hidden()
    await expect(page.locator("#reply-hint")).to_have_text(
        "Claim the conversation before you answer."
    )
    await audit(page)
    await shot(page, "day-conversation-390", whole=False)
    tab.assert_clean()


async def test_thread_times_carry_the_date_unless_today_in_the_agents_zone_and_locale(
    world: World, browser: Browser
) -> None:
    """In Tokyo, with a French browser: a message written at 20:00 UTC three days ago was
    written the next morning there, and shows that date; one from last year shows its year;
    today's note shows its time only."""
    agent = await world.agent("ana@acme.test")
    tokyo = ZoneInfo("Asia/Tokyo")
    days_ago = (datetime.now(UTC) - timedelta(days=3)).replace(hour=20, minute=0, second=0)
    last_year = days_ago - timedelta(days=400)
    old, older = await world.ingest(
        customer("t1", WORDS[0], "601") | {"created_at": rfc3339(days_ago)},
        customer("t2", WORDS[1], "602") | {"created_at": rfc3339(last_year)},
    )
    await world.queue_settles(2)
    noted = await world.triage.post(
        f"/v1/conversations/{old}/notes", headers=bearer(agent), json={"text": "Called them."}
    )
    assert noted.status == 201, await noted.text()

    tab = await open_tab(browser, DESKTOP, locale="fr-FR", timezone_id="Asia/Tokyo")
    page = tab.page
    await sign_in(tab, world, "ana@acme.test")
    await page.goto(f"{world.base}#/c/{old}")
    written = page.locator("#thread .msg.in time")
    there = days_ago.astimezone(tokyo)
    await expect(written).to_have_text(re.compile(rf"^{there.day} \S+ (à )?05:00$"))
    await expect(page.locator("#thread .note time")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    await shot(page, "day-thread-dates-1440")
    await page.goto(f"{world.base}#/c/{older}")
    await expect(page.locator("#thread .msg.in time")).to_contain_text(
        str(last_year.astimezone(tokyo).year)
    )
    tab.assert_clean()


def rfc3339(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


async def test_an_x_reply_over_280_is_blocked_before_sending_and_repeated_text_warned_early(
    world: World, browser: Browser
) -> None:
    agent = await world.agent("ana@acme.test")
    first, second = await world.ingest(
        customer("r1", WORDS[4], "701", minutes=4), customer("r2", WORDS[4], "702", minutes=2)
    )
    await world.queue_settles(2)
    pasted = "We are on it: the carrier has your parcel and will call you today."
    claimed = await world.triage.post(f"/v1/conversations/{first}/claim", headers=bearer(agent))
    assert claimed.status == 200
    sent = await world.triage.post(
        f"/v1/conversations/{first}/replies", headers=bearer(agent), json={"text": pasted}
    )
    assert sent.status == 202

    tab = await open_tab(browser, DESKTOP)
    page = tab.page
    await sign_in(tab, world, "ana@acme.test")
    await page.goto(f"{world.base}#/c/{second}")
    await expect(page.locator("#conv-title")).to_contain_text("@user702")
    await press(page, "c")
    await expect(page.locator("#holder")).to_contain_text("You hold it")
    box = page.locator("#reply-text")
    count = page.locator("#reply-count")
    await expect(count).to_have_text("0 / 280 characters")
    await box.fill("Sorry for the wait! " * 15)  # 300 characters
    await expect(count).to_have_text("300 / 280 characters")
    await expect(count).to_have_class(re.compile(r"\bover\b"))
    warnings = page.locator("#reply-warnings")
    await expect(warnings).to_contain_text("A reply on X may be at most 280 characters")
    await shot(page, "day-reply-over-1440")
    await box.press("Control+Enter")
    await expect(page.locator("#alert")).to_contain_text(
        "Reply not sent: A reply on X may be at most 280 characters"
    )
    await expect(page.locator("#thread .reply")).to_have_count(0)
    assert await world.scalar("SELECT count(*) FROM triage.replies") == 1

    # The answer pasted from another conversation is flagged while typing, before it goes.
    await box.fill(pasted)
    await expect(warnings).to_contain_text("same text was sent to 1 other conversation")
    await expect(count).to_have_text(f"{len(pasted)} / 280 characters")
    assert await world.scalar("SELECT count(*) FROM triage.replies") == 1
    # A link counts as 23, however long: this personal answer fits and goes.
    words = "Hi! Your parcel is at the depot, track it here: "
    personal = words + "https://acme.example/t/" + "9" * 260
    await box.fill(personal)
    await expect(count).to_have_text(f"{len(words) + 23} / 280 characters")
    await expect(warnings).to_be_empty()
    await box.press("Control+Enter")
    await expect(page.locator("#thread .reply")).to_have_count(1)
    await expect(page.locator("#thread .reply .text")).to_have_text(personal)
    await audit(page)
    tab.assert_clean()

    phone = await open_tab(browser, PHONE, has_touch=True, is_mobile=True)
    await sign_in(phone, world, "ana@acme.test")
    await phone.page.goto(f"{world.base}#/c/{second}")
    await phone.page.locator("#reply-text").fill("Sorry for the wait! " * 15)
    await expect(phone.page.locator("#reply-count")).to_have_text("300 / 280 characters")
    await audit(phone.page)
    await phone.page.locator("#send-reply").scroll_into_view_if_needed()
    await shot(phone.page, "day-reply-over-390", whole=False)
    phone.assert_clean()


async def test_saved_views_are_chips_in_the_filter_bar(world: World, browser: Browser) -> None:
    agent = await world.agent("ana@acme.test")
    held, _, _ = await world.ingest(
        customer("v1", WORDS[0], "801", minutes=5),
        customer("v2", WORDS[3], "802", minutes=4),
        customer("v3", "Ma box ne marche plus depuis ce matin", "803", minutes=3)
        | {"channel": "support-fr"},
    )
    await world.queue_settles(3)
    claimed = await world.triage.post(f"/v1/conversations/{held}/claim", headers=bearer(agent))
    assert claimed.status == 200
    tab = await open_tab(browser, DESKTOP)
    page = tab.page
    await sign_in(tab, world, "ana@acme.test")
    await expect(rows(page)).to_have_count(3)
    views = page.get_by_role("group", name="Saved views")
    chips = views.get_by_role("button")
    await expect(chips).to_have_text(
        ["All", "Mine", "Unassigned", "support-en", "support-fr", "English", "French"]
    )
    await expect(views.get_by_role("button", name="All")).to_have_attribute("aria-pressed", "true")

    async def view(name: str, handles: list[str]) -> None:
        await views.get_by_role("button", name=name, exact=True).click()
        await expect(views.get_by_role("button", name=name, exact=True)).to_have_attribute(
            "aria-pressed", "true"
        )
        await expect(rows(page).locator(".who")).to_have_text([f"@user{h}" for h in handles])

    await view("Mine", ["801"])
    await view("Unassigned", ["802", "803"])
    await view("support-fr", ["803"])
    await shot(page, "day-views-1440")
    await view("French", ["803"])
    await view("English", ["801", "802"])
    await view("All", ["801", "802", "803"])
    await audit(page)
    tab.assert_clean()
