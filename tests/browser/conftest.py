"""The one Chromium every browser test drives (the system's, see ``harness.chromium_path``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from tests.browser.harness import CHROMIUM_ARGS, chromium_path


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()  # fails, with how to install it, when Chromium is missing
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()
