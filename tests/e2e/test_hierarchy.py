"""A CSM opens a parent company in a real browser: its subsidiaries in her book are
listed with their health, the group's health sits above them with its worst subsidiary
called out, the one she does not own is only counted, and a subsidiary leads back to
its parent. The browser reports no error."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.models import User
from tests.accounts.test_hierarchy_pages import scored
from tests.conftest import PASSWORD
from tests.factories import AccountFactory, UserFactory
from tests.scoring.builders import make_model

pytestmark = pytest.mark.e2e


@pytest.fixture
def group(transactional_db):
    csm1 = UserFactory(username="csm1", first_name="Casey", role=User.Role.CSM)
    csm2 = UserFactory(username="csm2", first_name="Robin", role=User.Role.CSM)
    make_model(
        "health",
        components=[{"metric": "logins", "weight": 100}],
        bands=[
            ("Critical", None, "critical"),
            ("Neutral", 50, "neutral"),
            ("Healthy", 75, "healthy"),
        ],
    )
    parent = AccountFactory(name="Acme Group", owner=csm1, arr=Decimal("100000"))
    scored(parent, 80, "Healthy")
    germany = AccountFactory(name="Acme Germany", owner=csm1, arr=Decimal("100000"), parent=parent)
    scored(germany, 20, "Critical")
    AccountFactory(name="Acme Italy", owner=csm2, arr=Decimal("900000"), parent=parent)
    return parent


def test_a_csm_opens_a_parent_company_and_sees_its_group(page, group, browser_errors):
    page.goto("/login/?next=/accounts/")
    page.get_by_label("Username").fill("csm1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/accounts/$"))

    page.get_by_label("Hierarchy").select_option("true")
    expect(page).to_have_url(re.compile(r"top_level=true"))
    expect(page.locator("#results tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Acme Group").click()

    card = page.locator("#account-group")
    expect(card.locator("#group-score")).to_have_text("50.0")  # (80 + 20) / 2, equal ARR
    expect(card.locator("#group-at-risk")).to_have_text("50 %")
    expect(card.locator("#group-worst")).to_contain_text("Acme Germany is Critical, 100,000 ARR.")
    expect(card.locator(".group-children tbody tr")).to_have_count(1)
    expect(card.locator("#group-hidden")).to_have_text("1 more subsidiary outside your book.")
    expect(page.get_by_text("Acme Italy")).to_have_count(0)

    card.get_by_role("link", name="Acme Germany").first.click()
    expect(page.locator("h1")).to_have_text("Acme Germany")
    page.locator("#account-parent").get_by_role("link", name="Acme Group").click()
    expect(page.locator("h1")).to_have_text("Acme Group")
    assert not browser_errors, browser_errors
