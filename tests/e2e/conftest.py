"""A real browser for the e2e tests: Debian's chromium driven by Playwright.

One browser for all the tests in this folder (starting it is the slow part; it is closed
when they are done, so nothing after them runs beside Playwright), a fresh context
(cookies, storage) per test, and a page that records every console error and uncaught exception
so a test can assert there were none. A CSP violation is reported as a console error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@dataclass
class BrowserErrors:
    console: list[str] = field(default_factory=list)
    page: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.console or self.page)


@pytest.fixture(scope="package")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"The browser tests need Debian's chromium at {CHROMIUM} "
            "(apt-get install chromium; bin/test installs it)."
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop in this thread, and Django refuses ORM
    # calls from a thread with a running loop. The tests only make plain, synchronous
    # ORM calls between browser steps, so that refusal does not protect anything here.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            yield launched
            launched.close()


@pytest.fixture
def browser_errors() -> BrowserErrors:
    return BrowserErrors()


@pytest.fixture
def page(browser, live_server, browser_errors):
    """A page in a fresh browser context, pointed at the live server."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 800})
    context.set_default_timeout(10_000)
    new_page = context.new_page()
    new_page.on(
        "console",
        lambda message: (
            browser_errors.console.append(f"{message.text} ({message.location.get('url')})")
            if message.type == "error"
            else None
        ),
    )
    new_page.on("pageerror", lambda error: browser_errors.page.append(str(error)))
    yield new_page
    context.close()
