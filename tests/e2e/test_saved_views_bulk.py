"""A manager's afternoon on the account list, in a real browser: she narrows the list
down, saves it as a view shared with her team, opens it again from the menu, ticks two
accounts and hands them to a CSM — confirming the count first. Plain forms and links all
the way; the browser reports no error."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Account, SavedView, User
from tests.conftest import PASSWORD
from tests.factories import AccountFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.e2e


@pytest.fixture
def team_book(transactional_db) -> dict[str, Account]:
    manager = UserFactory(username="manager", first_name="Morgan", role=User.Role.MANAGER)
    csm1 = UserFactory(username="csm1", first_name="Casey", role=User.Role.CSM)
    csm2 = UserFactory(username="csm2", first_name="Robin", role=User.Role.CSM)
    team = TeamFactory(name="Enterprise")
    team.members.add(csm1, csm2)
    team.managers.add(manager)
    return {
        "acme": AccountFactory(name="Acme Analytics", owner=csm1, segment="enterprise"),
        "borealis": AccountFactory(name="Borealis Bank", owner=csm1, segment="smb"),
        "cobalt": AccountFactory(name="Cobalt Cafe", owner=csm1, segment="smb"),
        "dynamo": AccountFactory(name="Dynamo Dental", owner=csm1, segment="smb"),
    }


def rows(page):
    return page.locator("#results tbody tr")


def test_a_manager_saves_a_view_opens_it_and_reassigns_two_accounts(
    page, team_book, browser_errors
):
    page.goto("/login/?next=/accounts/")
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/accounts/$"))
    expect(rows(page)).to_have_count(4)

    # Narrowing the list (in place) and saving it, shared with her team.
    page.get_by_label("Segment").select_option("smb")
    expect(page).to_have_url(re.compile(r"/accounts/\?segment=smb&sort=name$"))
    expect(rows(page)).to_have_count(3)
    page.get_by_text("Save this view").click()
    page.locator("#saved-views").get_by_label("Name").fill("SMB book")
    page.locator("#saved-views").get_by_label("Share with").select_option(label="Enterprise")
    page.get_by_role("button", name="Save view").click()
    expect(page).to_have_url(re.compile(r"/accounts/\?segment=smb&sort=name$"))
    expect(page.locator(".messages")).to_contain_text("Saved the view “SMB book”.")
    view = SavedView.objects.get()
    assert (view.name, view.query, view.team.name) == (
        "SMB book",
        "segment=smb&sort=name",
        "Enterprise",
    )

    # Opening it again from the whole list's menu: a plain link with its filters.
    page.goto("/accounts/")
    expect(rows(page)).to_have_count(4)
    page.locator(".views-menu summary").click()
    page.get_by_role("link", name="SMB book").click()
    expect(page).to_have_url(re.compile(r"/accounts/\?segment=smb&sort=name$"))
    expect(page).to_have_title(re.compile(r"^SMB book · Accounts"))
    expect(rows(page)).to_have_count(3)
    expect(page.get_by_label("Segment")).to_have_value("smb")

    # Ticking two accounts and handing them to Robin, with the count confirmed first.
    page.get_by_label("Select Borealis Bank").check()
    page.get_by_label("Select Dynamo Dental").check()
    page.get_by_role("button", name="Reassign owner…").click()
    expect(page.locator(".selection")).to_have_text(
        "2 accounts selected: Borealis Bank, Dynamo Dental."
    )
    page.get_by_label("New owner").select_option(label="Robin")
    page.get_by_role("button", name="Review").click()
    expect(page.locator(".confirm")).to_have_text("Reassign 2 accounts to Robin?")
    assert Account.objects.get(pk=team_book["borealis"].pk).owner.username == "csm1"
    page.get_by_role("button", name="Yes, reassign 2 accounts").click()

    # Back on the view, with what was done.
    expect(page).to_have_url(re.compile(r"/accounts/\?segment=smb&sort=name$"))
    expect(page.locator(".messages")).to_contain_text("Reassigned 2 accounts to Robin.")
    owners = dict(Account.objects.values_list("name", "owner__username"))
    assert owners == {
        "Acme Analytics": "csm1",
        "Borealis Bank": "csm2",
        "Cobalt Cafe": "csm1",
        "Dynamo Dental": "csm2",
    }
    expect(rows(page).filter(has_text="Dynamo Dental")).to_contain_text("Robin")

    page.wait_for_load_state("networkidle")
    assert not browser_errors, browser_errors
