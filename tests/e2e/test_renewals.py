"""A CSM records a renewal outcome in a real browser: csm1 opens Renewals, records an
expansion on the row of her passed renewal, and the row moves out of the window (its
renewal a year on) in place, without a reload; the browser reports no JavaScript or CSP
error."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Account, User
from renewals.models import RenewalOutcome, RenewalReason
from tests.e2e.test_tasks import log_in
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.e2e


def test_a_csm_records_an_outcome_and_sees_the_row_move(page, transactional_db, browser_errors):
    # A transactional test flushes what the migrations seeded: the reasons are made here.
    for order, (code, name) in enumerate([("more_seats", "Expansion: more seats"),
                                          ("new_team", "Expansion: new team")]):  # fmt: skip
        RenewalReason.objects.get_or_create(
            code=code, defaults={"name": name, "applies_to": "growth", "order": order}
        )
    csm1 = UserFactory(username="csm1", first_name="Casey", role=User.Role.CSM)
    today = timezone.localdate()
    acme = AccountFactory(
        name="Acme Analytics", owner=csm1, arr=Decimal(12000),
        renewal_date=today - dt.timedelta(days=12),
    )  # fmt: skip
    AccountFactory(name="Birch Bakery", owner=csm1, renewal_date=today + dt.timedelta(days=20))

    log_in(page, "csm1")
    page.get_by_role("link", name="Renewals").click()
    expect(page).to_have_url(re.compile(r"/renewals/$"))
    row = page.locator(f"#renewal-{acme.pk}")
    expect(row).to_contain_text("renewal date passed 12 days ago, no outcome")
    page.get_by_label("Renewing within").select_option("30")
    expect(page).to_have_url(re.compile(r"within=30"))

    row.get_by_text("Record outcome").click()
    row.get_by_label("Outcome").select_option("expanded")
    row.get_by_label("New ARR").fill("15000")
    row.get_by_label("Reasons (up to 3)").select_option(["more_seats", "new_team"])
    row.get_by_role("button", name="Record").click()

    expect(page.locator("#renewals")).to_contain_text("Acme Analytics: expanded, next renewal")
    expect(page.locator(f"#renewal-{acme.pk}")).to_have_count(0)
    expect(page.locator("#renewals")).to_contain_text("Birch Bakery")
    expect(page).to_have_url(re.compile(r"/renewals/"))
    outcome = RenewalOutcome.objects.get(account=acme)
    assert (outcome.kind, outcome.arr_after) == ("expanded", Decimal("15000.00"))
    assert Account.objects.get(pk=acme.pk).arr == Decimal("15000.00")
    assert not browser_errors, browser_errors
