"""The interactive API docs in a real browser: Swagger UI renders every operation from
our own static files, under the site's Content-Security-Policy, without errors."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_swagger_ui_renders_the_api_without_errors_or_outside_requests(live_server, browser):
    # The package's one browser (tests/e2e/conftest.py): a second Playwright started in
    # the same process while it is open would fail.
    problems: list[str] = []
    outside: list[str] = []
    context = browser.new_context()
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on(
            "console",
            lambda message: problems.append(message.text) if message.type == "error" else None,
        )
        page.on(
            "request",
            lambda request: (
                None if request.url.startswith(live_server.url) else outside.append(request.url)
            ),
        )
        page.goto(f"{live_server.url}/api/docs/")
        page.wait_for_selector(".opblock", timeout=15_000)
        operations = page.locator(".opblock-summary-path").all_inner_texts()
        page.get_by_role("button", name="Authorize").first.click()
        page.wait_for_selector("text=bearerAuth", timeout=5_000)
    finally:
        context.close()

    assert problems == []  # a CSP violation is reported as a console error
    assert outside == []
    assert "/api/v1/accounts/bulk/" in "".join(operations).replace("\u200b", "")
    assert len(operations) == 43
    assert "/api/v1/signals/" in "".join(operations).replace("\u200b", "")
