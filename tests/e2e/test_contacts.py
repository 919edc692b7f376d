"""A CSM keeps an account's contacts on its page in a real browser: adds one, edits it in
place, makes it primary — the page never reloads — and a wrong email is said beside its
field. The browser must report no JavaScript or CSP error."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import User
from contacts.models import Contact, ContactRole
from tests.e2e.test_tasks import SCREENSHOTS, log_in
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.e2e


def test_a_csm_adds_and_edits_a_contact_in_place(page, transactional_db, browser_errors):
    # The migrations' roles may be gone: another transactional test's flush empties them.
    ContactRole.objects.get_or_create(key="champion", defaults={"name": "Champion"})
    csm1 = UserFactory(username="csm1", first_name="Casey", role=User.Role.CSM)
    acme = AccountFactory(name="Acme Analytics", owner=csm1)
    log_in(page, "csm1")
    page.goto(acme.get_absolute_url())
    card = page.locator("#account-contacts")
    expect(card).to_contain_text("No contacts yet.")
    page.evaluate("window.stillTheSamePage = true")

    card.get_by_text("Add a contact").click()
    form = card.locator("#new-contact")
    form.get_by_label("Name").fill("Dana Scully")
    form.get_by_label("Email").fill("dana@acme.example")
    form.get_by_label("Role").select_option(label="Champion")
    form.get_by_role("button", name="Add contact").click()
    expect(card).to_contain_text("Added Dana Scully.")
    dana = Contact.objects.get(account=acme)

    card.locator(f"#contact-{dana.pk}").get_by_role("link", name="Edit").click()
    edit = card.locator("#edit-contact")
    edit.get_by_label("Email").fill("not-an-email")
    edit.get_by_role("button", name="Save").click()
    expect(card.locator("#edit-contact .errorlist")).to_contain_text("is not an email address")
    edit = card.locator("#edit-contact")
    edit.get_by_label("Email").fill("dana.scully@acme.example")
    edit.get_by_label("Title").fill("VP Operations")
    edit.get_by_label("Primary contact").check()
    page.screenshot(path=str(SCREENSHOTS / "contact-edit.png"), full_page=True)
    edit.get_by_role("button", name="Save").click()
    expect(card).to_contain_text("Saved Dana Scully.")
    row = card.locator(f"#contact-{dana.pk}")
    expect(row).to_contain_text("VP Operations")
    expect(row).to_contain_text("Primary")
    expect(row).to_contain_text("dana.scully@acme.example")
    assert page.evaluate("window.stillTheSamePage") is True
    dana.refresh_from_db()
    assert (dana.email, dana.title, dana.is_primary) == (
        "dana.scully@acme.example",
        "VP Operations",
        True,
    )
    assert not browser_errors, browser_errors
