"""A CSM logs a call on her account's page in a real browser: the touches card (loaded
after the page) takes it in place, the timeline shows it with the contact she had it
with, and the header's last touch moves from "never" to "today", with no reload and no
JavaScript or CSP error."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from contacts.models import ContactRole, Touch
from contacts.services import contact_save
from tests.e2e.test_tasks import log_in
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.e2e


def test_a_csm_logs_a_touch_and_sees_it_on_the_timeline(page, transactional_db, browser_errors):
    csm1 = UserFactory(username="csm1", first_name="Casey", role=User.Role.CSM)
    acme = AccountFactory(name="Acme Analytics", owner=csm1)
    # A transactional test's database may have been emptied of the migrations' roles.
    ContactRole.objects.get_or_create(key="champion", defaults={"name": "Champion"})
    contact_save(
        account=acme,
        fields={"name": "Jane Doe", "email": "jane@acme.example", "role": "champion"},
        now=timezone.now(),
    )

    log_in(page, "csm1")
    page.goto(acme.get_absolute_url())
    expect(page.locator("#last-touch")).to_have_text("Last touch: never")
    card = page.locator("#account-touches")
    expect(card).to_contain_text("No touch logged yet.")
    page.evaluate("window.stillTheSamePage = true")

    card.get_by_text("Log a touch").click()
    card.get_by_label("Kind").select_option("call")
    card.get_by_label("Jane Doe").check()
    card.get_by_label("Note").fill("Renewal looks safe.")
    card.get_by_role("button", name="Log touch").click()

    expect(card).to_contain_text("Call logged.")
    expect(card).to_contain_text("Call with Jane Doe (Champion)")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Call with Jane Doe (Champion)")
    expect(timeline).to_contain_text("by Casey")
    expect(timeline).to_contain_text("Renewal looks safe.")
    expect(page.locator("#last-touch")).to_have_text("Last touch: today")
    assert page.evaluate("window.stillTheSamePage") is True
    touch = Touch.objects.get()
    assert touch.by == csm1 and [c.name for c in touch.contacts.all()] == ["Jane Doe"]
    assert not browser_errors, browser_errors
