"""A CSM's first minutes in a real browser: log in, narrow the book down, page through
it, open an account. The list must update in place (htmx), keep a URL worth sharing,
and the browser must report no JavaScript error and no Content-Security-Policy
violation along the way."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Account, User
from tests.conftest import PASSWORD
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.e2e


@pytest.fixture
def csm1_book(transactional_db) -> dict[str, Account]:
    csm1 = UserFactory(username="csm1", first_name="Casey", role=User.Role.CSM)
    csm2 = UserFactory(username="csm2", first_name="Robin", role=User.Role.CSM)
    return {
        "acme": AccountFactory(
            name="Acme Analytics", owner=csm1, segment=Account.Segment.ENTERPRISE
        ),
        "borealis": AccountFactory(name="Borealis Bank", owner=csm1, segment=Account.Segment.SMB),
        "cobalt": AccountFactory(
            name="Cobalt Cafe",
            external_id="crm-cobalt",
            owner=csm1,
            segment=Account.Segment.SMB,
        ),
        "dynamo": AccountFactory(name="Dynamo Dental", owner=csm1, segment=Account.Segment.SMB),
        "zephyr": AccountFactory(name="Zephyr Zinc", owner=csm2, segment=Account.Segment.SMB),
    }


def rows(page):
    return page.locator("#results tbody tr")


def test_a_csm_filters_her_book_in_place_and_opens_an_account(
    page, csm1_book, browser_errors, settings
):
    settings.VITALS_ACCOUNTS_PER_PAGE = 2

    # Asking for the list first goes through the log-in form and back.
    page.goto("/accounts/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/accounts/$"))
    page.get_by_label("Username").fill("csm1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/accounts/$"))
    expect(page.locator("#results .count")).to_have_text("4 accounts")
    expect(rows(page)).to_have_count(2)  # two per page
    expect(page.get_by_role("link", name="Zephyr Zinc")).to_have_count(0)  # csm2's

    # From here on the page must never reload: a full load would drop this marker.
    page.evaluate("window.stillTheSamePage = true")

    # Typing a search narrows the list as she types; the URL follows.
    page.get_by_label("Search", exact=True).press_sequentially("bor", delay=50)
    expect(page).to_have_url(re.compile(r"/accounts/\?q=bor&sort=name$"))
    expect(rows(page)).to_have_count(1)
    expect(page.get_by_role("link", name="Borealis Bank")).to_be_visible()
    expect(page.get_by_role("link", name="Acme Analytics")).to_have_count(0)

    # Clearing it and picking a segment instead.
    page.get_by_label("Search", exact=True).fill("")
    expect(page).to_have_url(re.compile(r"/accounts/\?sort=name$"))
    page.get_by_label("Segment").select_option("smb")
    expect(page).to_have_url(re.compile(r"/accounts/\?segment=smb&sort=name$"))
    expect(page.locator("#results .count")).to_have_text("3 accounts")
    expect(page.get_by_role("link", name="Acme Analytics")).to_have_count(0)
    expect(page.locator("#export-csv")).to_have_attribute(
        "href", "/accounts/export.csv?segment=smb&sort=name"
    )

    # Paging keeps the filter, in place as well.
    page.get_by_label("Sort").select_option("-name")
    expect(page).to_have_url(re.compile(r"/accounts/\?segment=smb&sort=-name$"))
    expect(rows(page).first).to_contain_text("Dynamo Dental")
    page.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"/accounts/\?segment=smb&sort=-name&page=2$"))
    expect(rows(page)).to_have_count(1)
    expect(page.get_by_role("link", name="Borealis Bank")).to_be_visible()
    expect(page.locator("#results")).to_have_count(1)  # swapped, never nested
    assert page.evaluate("window.stillTheSamePage") is True

    # The URL is worth sharing: loading it afresh shows the same list and filters.
    page.reload()
    expect(page.get_by_label("Segment")).to_have_value("smb")
    expect(page.get_by_label("Sort")).to_have_value("-name")
    expect(page.locator("#results .pagination .current")).to_have_text("Page 2 of 2")
    expect(rows(page)).to_have_count(1)

    # Opening an account.
    page.get_by_role("link", name="Previous").click()
    page.get_by_role("link", name="Cobalt Cafe").click()
    expect(page).to_have_url(re.compile(rf"/accounts/{csm1_book['cobalt'].pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Cobalt Cafe")
    expect(page.locator(".facts")).to_contain_text("crm-cobalt")

    page.wait_for_load_state("networkidle")
    assert not browser_errors, browser_errors


def test_the_pages_load_without_errors(page, csm1_book, browser_errors):
    page.goto("/login/")
    page.get_by_label("Username").fill("csm1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My book")
    for path in ["/", "/accounts/", csm1_book["acme"].get_absolute_url(), "/password/change/"]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
    # Someone else's account looks like a missing one, and the 404 page is clean too.
    response = page.goto(csm1_book["zephyr"].get_absolute_url())
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    page.wait_for_load_state("networkidle")
    # A 404 document is itself reported on the console; anything else is a real error.
    errors = [e for e in browser_errors.console if "status of 404" not in e]
    assert not errors and not browser_errors.page, browser_errors


def test_a_csm_opens_the_top_account_of_work_on_next(page, csm1_book, browser_errors):
    """The morning: log in, read why the first account of "work on next" is first,
    open it."""
    import datetime as dt

    from django.utils import timezone

    borealis = csm1_book["borealis"]
    borealis.renewal_date = timezone.localdate() + dt.timedelta(days=3)
    borealis.arr = 768_000
    borealis.save()

    page.goto("/login/")
    page.get_by_label("Username").fill("csm1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    top = page.locator("#work-on-next .next-item").first
    expect(top).to_contain_text("Borealis Bank")
    expect(top.locator(".next-why")).to_have_text(
        re.compile(r"^Not scored · \$768k · renews in [23] days · no touch on record$")
    )
    expect(page.locator("#work-on-next .next-item")).to_have_count(4)  # csm1's own
    top.get_by_role("link", name="Borealis Bank").click()
    expect(page).to_have_url(re.compile(rf"/accounts/{borealis.pk}/$"))
