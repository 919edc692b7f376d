"""The account list: search, filters, sort, pagination, htmx fragments and the CSV export.

Alice is a CSM with a small book of her own; Maggie manages Alice and Bob; Charlie is on
another team. Every assertion reads the rendered page or the exported file, the way a
person (or a spreadsheet) would.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from tests.factories import AccountFactory

LIST_URL = reverse("accounts:list")
EXPORT_URL = reverse("accounts:export")
HTMX = {"HTTP_HX_REQUEST": "true"}


def listed(response) -> list[str]:
    """Account names in the results table, top to bottom."""
    assert response.status_code == 200
    body = response.content.decode()
    return [
        html.unescape(name) for name in re.findall(r'<a href="/accounts/\d+/">([^<]+)</a>', body)
    ]


def exported(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def days_from_today(days: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


@pytest.fixture
def alices_book(alice) -> dict[str, Account]:
    """Five accounts Alice owns, different in every way the list can filter or sort by."""
    return {
        "acme": AccountFactory(
            name="Acme Analytics",
            domain="acme.io",
            external_id="crm-0001",
            owner=alice,
            segment=Account.Segment.ENTERPRISE,
            lifecycle_stage=Account.Stage.MATURE,
            arr=Decimal("250000"),
            renewal_date=days_from_today(10),
        ),
        "borealis": AccountFactory(
            name="Borealis Bank",
            domain="northwind-finance.com",
            external_id="crm-0002",
            owner=alice,
            segment=Account.Segment.MID_MARKET,
            lifecycle_stage=Account.Stage.RENEWING,
            arr=Decimal("48000"),
            renewal_date=days_from_today(45),
        ),
        "cobalt": AccountFactory(
            name="Cobalt Cafe",
            domain="cobalt.cafe",
            external_id="crm-0003",
            owner=alice,
            segment=Account.Segment.SMB,
            lifecycle_stage=Account.Stage.ONBOARDING,
            arr=Decimal("6000"),
            renewal_date=days_from_today(120),
        ),
        "dynamo": AccountFactory(
            name="Dynamo Dental",
            domain="dynamo.dental",
            external_id="crm-0004",
            owner=alice,
            segment=Account.Segment.SMB,
            lifecycle_stage=Account.Stage.CHURNED,
            arr=Decimal("9000"),
            renewal_date=days_from_today(-5),
        ),
        "echo": AccountFactory(
            name="Echo Energy",
            domain="echo.energy",
            external_id="crm-0005",
            owner=alice,
            segment=Account.Segment.ENTERPRISE,
            lifecycle_stage=Account.Stage.ADOPTING,
            arr=Decimal("120000"),
            renewal_date=None,
        ),
    }


# --- Search and filters ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("acme", ["Acme Analytics"]),  # part of a name, any case
        ("BANK", ["Borealis Bank"]),
        ("northwind", ["Borealis Bank"]),  # part of a domain
        (".cafe", ["Cobalt Cafe"]),
        ("CRM-0004", ["Dynamo Dental"]),  # the CRM id, exactly (any case)
        ("crm-000", []),  # ... but not part of one: it would match the whole book
        ("  echo  ", ["Echo Energy"]),  # surrounding spaces are ignored
        ("zeppelin", []),
    ],
)
def test_search_looks_at_name_domain_and_external_id(
    client_as, alice, alices_book, search, expected
):
    response = client_as(alice).get(LIST_URL, {"q": search})
    assert listed(response) == expected


def test_an_empty_search_lists_the_whole_book(client_as, alice, alices_book):
    response = client_as(alice).get(LIST_URL, {"q": ""})
    assert len(listed(response)) == 5


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ("enterprise", ["Acme Analytics", "Echo Energy"]),
        ("mid_market", ["Borealis Bank"]),
        ("smb", ["Cobalt Cafe", "Dynamo Dental"]),
    ],
)
def test_segment_filter(client_as, alice, alices_book, segment, expected):
    assert listed(client_as(alice).get(LIST_URL, {"segment": segment})) == expected


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("onboarding", ["Cobalt Cafe"]),
        ("adopting", ["Echo Energy"]),
        ("mature", ["Acme Analytics"]),
        ("renewing", ["Borealis Bank"]),
        ("churned", ["Dynamo Dental"]),
    ],
)
def test_lifecycle_stage_filter(client_as, alice, alices_book, stage, expected):
    assert listed(client_as(alice).get(LIST_URL, {"lifecycle_stage": stage})) == expected


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("30", ["Acme Analytics"]),  # renews in 10 days
        ("60", ["Acme Analytics", "Borealis Bank"]),  # ... and in 45
        ("90", ["Acme Analytics", "Borealis Bank"]),
        ("180", ["Acme Analytics", "Borealis Bank", "Cobalt Cafe"]),  # ... and in 120
        ("overdue", ["Dynamo Dental"]),  # renewal date 5 days ago
    ],
)
def test_renewal_window_filter(client_as, alice, alices_book, window, expected):
    # Echo Energy has no renewal date: it belongs to no window.
    assert listed(client_as(alice).get(LIST_URL, {"renewal": window})) == expected


def test_renewal_window_includes_today_and_its_last_day(client_as, alice):
    AccountFactory(name="Today", owner=alice, renewal_date=days_from_today(0))
    AccountFactory(name="Day thirty", owner=alice, renewal_date=days_from_today(30))
    AccountFactory(name="Day thirty-one", owner=alice, renewal_date=days_from_today(31))
    AccountFactory(name="Yesterday", owner=alice, renewal_date=days_from_today(-1))
    client = client_as(alice)
    assert listed(client.get(LIST_URL, {"renewal": "30"})) == ["Day thirty", "Today"]
    assert listed(client.get(LIST_URL, {"renewal": "overdue"})) == ["Yesterday"]


def test_filters_combine(client_as, alice, alices_book):
    response = client_as(alice).get(LIST_URL, {"segment": "enterprise", "renewal": "30", "q": "a"})
    assert listed(response) == ["Acme Analytics"]


def test_the_filter_form_shows_the_chosen_values(client_as, alice, alices_book):
    body = client_as(alice).get(LIST_URL, {"segment": "smb", "q": "co"}).content.decode()
    assert '<option value="smb" selected>SMB</option>' in body
    assert 'name="q" value="co"' in body


# --- The owner filter stays inside the scope ----------------------------------------------


@pytest.fixture
def team_book(book, alice, bob):
    AccountFactory(name="Amber Airlines", owner=alice)
    AccountFactory(name="Birch Bakery", owner=bob)
    return book


def owner_choices(response) -> list[str]:
    body = response.content.decode()
    select = re.search(r'<select name="owner"[^>]*>(.*?)</select>', body, re.S).group(1)
    return [html.unescape(label) for label in re.findall(r"<option[^>]*>([^<]*)</option>", select)]


def test_a_manager_filters_by_an_owner_on_her_team(client_as, maggie, alice, team_book):
    client = client_as(maggie)
    assert listed(client.get(LIST_URL)) == [
        "Acme Analytics",
        "Amber Airlines",
        "Birch Bakery",
        "Borealis Bank",
    ]
    assert listed(client.get(LIST_URL, {"owner": alice.pk})) == ["Acme Analytics", "Amber Airlines"]


def test_the_owner_filter_offers_only_owners_in_scope(client_as, maggie, mark, ada, team_book):
    # A manager: her team, and herself (a manager may own accounts too).
    # Managers and admins find the accounts nobody owns, to hand them out.
    assert owner_choices(client_as(maggie).get(LIST_URL)) == [
        "Any owner", "No owner", "Alice", "Bob", "Maggie",
    ]  # fmt: skip
    assert owner_choices(client_as(mark).get(LIST_URL)) == [
        "Any owner",
        "No owner",
        "Charlie",
        "Mark",
    ]
    # An admin: everyone who owns an account.
    assert owner_choices(client_as(ada).get(LIST_URL)) == [
        "Any owner", "No owner", "Alice", "Bob", "Charlie",
    ]  # fmt: skip


def test_an_owner_outside_the_scope_matches_nothing(client_as, maggie, alice, charlie, team_book):
    response = client_as(maggie).get(LIST_URL, {"owner": charlie.pk})
    # Neither Charlie's accounts nor, silently, everyone else's: no rows and an error.
    assert listed(response) == []
    assert "Cobalt Cafe" not in response.content.decode()
    assert "Owner: Select a valid choice." in response.content.decode()


def test_a_csm_cannot_list_a_team_mates_book_through_the_owner_filter(
    client_as, alice, bob, team_book
):
    response = client_as(alice).get(LIST_URL, {"owner": bob.pk})
    assert listed(response) == []
    assert "Borealis Bank" not in response.content.decode()


def test_a_deactivated_csms_accounts_can_still_be_found_by_owner(client_as, maggie, bob, team_book):
    # The manager has to hand them over to someone: the filter must still find them.
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    client = client_as(maggie)
    assert "Bob" in owner_choices(client.get(LIST_URL))
    assert listed(client.get(LIST_URL, {"owner": bob.pk})) == ["Birch Bakery", "Borealis Bank"]


def test_a_bad_filter_value_is_reported_and_matches_nothing(client_as, alice, alices_book):
    response = client_as(alice).get(LIST_URL, {"segment": "galactic", "renewal": "7"})
    assert listed(response) == []
    body = response.content.decode()
    assert "Segment: Select a valid choice. galactic is not one of the available choices." in body
    assert "Renewal: Select a valid choice. 7 is not one of the available choices." in body


# --- Sort ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Acme", "Borealis", "Cobalt", "Dynamo", "Echo"]),
        ("-name", ["Echo", "Dynamo", "Cobalt", "Borealis", "Acme"]),
        ("-arr", ["Acme", "Echo", "Borealis", "Dynamo", "Cobalt"]),
        ("arr", ["Cobalt", "Dynamo", "Borealis", "Echo", "Acme"]),
        # Echo Energy has no renewal date: last in both directions.
        ("renewal_date", ["Dynamo", "Acme", "Borealis", "Cobalt", "Echo"]),
        ("-renewal_date", ["Cobalt", "Borealis", "Acme", "Dynamo", "Echo"]),
    ],
)
def test_sort_keys(client_as, alice, alices_book, sort, expected):
    names = [name.split()[0] for name in listed(client_as(alice).get(LIST_URL, {"sort": sort}))]
    assert names == expected


def test_the_default_sort_is_by_name(client_as, alice, alices_book):
    names = listed(client_as(alice).get(LIST_URL))
    assert names == sorted(names)


def test_an_unknown_sort_key_is_reported(client_as, alice, alices_book):
    response = client_as(alice).get(LIST_URL, {"sort": "shoe_size"})
    assert listed(response) == []
    assert "Sort: Select a valid choice." in response.content.decode()


# --- Pagination -------------------------------------------------------------------------------


@pytest.fixture
def two_per_page(settings):
    settings.VITALS_ACCOUNTS_PER_PAGE = 2


def test_page_two_shows_the_next_accounts(client_as, alice, alices_book, two_per_page):
    client = client_as(alice)
    assert listed(client.get(LIST_URL)) == ["Acme Analytics", "Borealis Bank"]
    page_2 = client.get(LIST_URL, {"page": 2})
    assert listed(page_2) == ["Cobalt Cafe", "Dynamo Dental"]
    assert "Page 2 of 3" in page_2.content.decode()
    assert "5 accounts" in page_2.content.decode()


@pytest.mark.parametrize(
    ("page", "expected", "label"),
    [
        ("99", ["Echo Energy"], "Page 3 of 3"),  # past the end: the last page
        ("0", ["Echo Energy"], "Page 3 of 3"),
        ("abc", ["Acme Analytics", "Borealis Bank"], "Page 1 of 3"),  # not a number: the first
    ],
)
def test_an_out_of_range_page_shows_a_real_page(
    client_as, alice, alices_book, two_per_page, page, expected, label
):
    response = client_as(alice).get(LIST_URL, {"page": page})
    assert listed(response) == expected
    assert label in response.content.decode()


def link_query(response, rel: str) -> dict[str, list[str]]:
    body = response.content.decode()
    href = re.search(rf'<a href="([^"]+)"[^>]*rel="{rel}"', body).group(1)
    return parse_qs(urlsplit(html.unescape(href)).query, keep_blank_values=True)


def test_pagination_links_carry_the_filters(client_as, alice, two_per_page):
    for number in range(5):
        AccountFactory(name=f"Smb {number}", owner=alice, segment=Account.Segment.SMB)
    AccountFactory(name="Big one", owner=alice, segment=Account.Segment.ENTERPRISE)
    client = client_as(alice)
    # As the filter form sends it through htmx (or a plain submit): with empty fields.
    first = client.get(
        LIST_URL,
        {"q": "smb", "segment": "smb", "owner": "", "renewal": "", "sort": "-name"},
    )
    assert listed(first) == ["Smb 4", "Smb 3"]
    expected_filters = {"q": ["smb"], "segment": ["smb"], "sort": ["-name"]}
    assert link_query(first, "next") == {**expected_filters, "page": ["2"]}

    # Following the link (what a shared URL does) keeps the filters and the sort.
    second = client.get(LIST_URL, {**expected_filters, "page": "2"})
    assert listed(second) == ["Smb 2", "Smb 1"]
    assert link_query(second, "prev") == {**expected_filters, "page": ["1"]}
    assert link_query(second, "next") == {**expected_filters, "page": ["3"]}


def test_the_export_link_carries_the_filters(client_as, alice, alices_book):
    body = client_as(alice).get(LIST_URL, {"segment": "smb", "page": "1", "q": ""}).content
    href = re.search(rb'id="export-csv" href="([^"]+)"', body).group(1).decode()
    assert html.unescape(href) == f"{EXPORT_URL}?segment=smb"


# --- htmx -----------------------------------------------------------------------------------


def test_an_htmx_request_gets_only_the_results_fragment(client_as, alice, alices_book):
    response = client_as(alice).get(LIST_URL, {"segment": "smb"}, **HTMX)
    assert listed(response) == ["Cobalt Cafe", "Dynamo Dental"]
    body = response.content.decode().strip()
    assert body.startswith('<div id="results"')
    assert "<html" not in body
    assert '<form class="filters"' not in body  # the filter form stays as the person left it
    # The export link and the saved views (their "save this view" query) follow the
    # filters out of band.
    assert 'id="export-csv" hx-swap-oob="true"' in body
    assert f"{EXPORT_URL}?segment=smb" in html.unescape(body)
    assert 'id="saved-views" class="saved-views" hx-swap-oob="true"' in body
    assert 'name="query" value="segment=smb&amp;sort=name"' in body
    assert "HX-Request" in response["Vary"]


def test_a_plain_request_gets_the_whole_page(client_as, alice, alices_book):
    response = client_as(alice).get(LIST_URL, {"segment": "smb"})
    body = response.content.decode()
    assert body.lstrip().startswith("<!doctype html>")
    assert "<html" in body and "</html>" in body
    assert '<form class="filters"' in body
    assert body.count('id="results"') == 1
    assert "hx-swap-oob" not in body
    assert "HX-Request" in response["Vary"]


def test_an_htmx_history_restore_gets_the_whole_page(client_as, alice, alices_book):
    # After the back button, htmx asks again for the pushed URL when its cache is gone.
    response = client_as(alice).get(
        LIST_URL, {"segment": "smb"}, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX
    )
    assert "<html" in response.content.decode()
    assert listed(response) == ["Cobalt Cafe", "Dynamo Dental"]


def test_htmx_paging_keeps_the_fragment_shape(client_as, alice, alices_book, two_per_page):
    response = client_as(alice).get(LIST_URL, {"page": "2"}, **HTMX)
    assert listed(response) == ["Cobalt Cafe", "Dynamo Dental"]
    body = response.content.decode()
    assert "<html" not in body
    assert 'hx-swap="outerHTML"' in body  # links replace the fragment, never nest it


# --- CSV export ------------------------------------------------------------------------------


def test_export_has_a_header_row_and_every_field(client_as, alice, alices_book):
    response = client_as(alice).get(EXPORT_URL, {"q": "acme"})
    assert response["Content-Disposition"] == (
        f'attachment; filename="accounts-{timezone.localdate().isoformat()}.csv"'
    )
    text = b"".join(response.streaming_content).decode()
    header = text.splitlines()[0]
    assert header == (
        "External id,Name,Domain,Owner,Parent,Segment,Plan,Lifecycle stage,ARR,"
        "Contract start,Renewal date,Churned at,Health score,Band,Risk level,30-day change"
    )
    row = next(csv.DictReader(io.StringIO(text)))
    assert row == {
        "External id": "crm-0001",
        "Name": "Acme Analytics",
        "Domain": "acme.io",
        "Owner": "alice",  # the username: it is what an import would match on
        "Parent": "",
        "Segment": "enterprise",
        "Plan": "Growth",
        "Lifecycle stage": "mature",
        "ARR": "250000.00",
        "Contract start": "2025-01-01",
        "Renewal date": days_from_today(10).isoformat(),
        "Churned at": "",
        "Health score": "",  # not scored yet: tests/scoring/test_pages.py has scores
        "Band": "",
        "Risk level": "",
        "30-day change": "",
    }


def test_export_rows_are_the_filtered_list_in_its_order(client_as, alice, alices_book):
    client = client_as(alice)
    query = {"segment": "enterprise", "sort": "-arr"}
    rows = exported(client.get(EXPORT_URL, query))
    assert [row["Name"] for row in rows] == listed(client.get(LIST_URL, query))
    assert [row["Name"] for row in rows] == ["Acme Analytics", "Echo Energy"]
    assert [row["ARR"] for row in rows] == ["250000.00", "120000.00"]

    overdue = exported(client.get(EXPORT_URL, {"renewal": "overdue"}))
    assert [row["External id"] for row in overdue] == ["crm-0004"]


def test_export_is_not_paginated(client_as, alice, alices_book, two_per_page):
    rows = exported(client_as(alice).get(EXPORT_URL, {"page": "2"}))
    assert len(rows) == 5


def test_export_stays_inside_the_scope(client_as, maggie, charlie, team_book):
    client = client_as(maggie)
    names = {row["Name"] for row in exported(client.get(EXPORT_URL))}
    assert names == {"Acme Analytics", "Amber Airlines", "Birch Bakery", "Borealis Bank"}
    response = client.get(EXPORT_URL, {"owner": charlie.pk})
    assert response.status_code == 400
    assert b"Cobalt" not in response.content


def test_export_with_a_bad_filter_says_which_and_why(client_as, alice, alices_book):
    response = client_as(alice).get(EXPORT_URL, {"renewal": "soon"})
    assert response.status_code == 400
    assert response.content.decode() == (
        "Cannot export: Renewal: Select a valid choice. soon is not one of the available choices.\n"
    )


def test_export_an_unowned_account_and_cells_a_spreadsheet_would_run(client_as, ada):
    AccountFactory(name='=HYPERLINK("http://evil.example")', domain="@evil.example", owner=None)
    (row,) = exported(client_as(ada).get(EXPORT_URL))
    assert row["Owner"] == ""
    assert row["Name"] == '\'=HYPERLINK("http://evil.example")'
    assert row["Domain"] == "'@evil.example"


# --- Query counts ---------------------------------------------------------------------------


def count_queries(client, url, params, assert_max_queries, limit, **extra) -> int:
    with assert_max_queries(limit) as captured:
        response = client.get(url, params, **extra)
        if response.streaming:
            b"".join(response.streaming_content)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("extra", [{}, HTMX], ids=["page", "htmx fragment"])
def test_the_list_does_not_query_per_account(
    client_as, maggie, alice, bob, django_assert_max_num_queries, extra
):
    # The session, the user, the manager's team members, the band choices, the count
    # (here from the book's figures: its rows and the accounts churning after today),
    # one page of accounts joined to their owners and latest health and, on the full
    # page, the owner filter's choices and the navigation's count of tasks due; the saved
    # views she may open and the teams she may share one with: eleven at most, whatever
    # the book size.
    client = client_as(maggie)
    params = {"sort": "-arr", "segment": "smb"}
    AccountFactory.create_batch(3, owner=alice)
    few = count_queries(client, LIST_URL, params, django_assert_max_num_queries, 11, **extra)
    AccountFactory.create_batch(20, owner=alice)
    AccountFactory.create_batch(20, owner=bob)
    many = count_queries(client, LIST_URL, params, django_assert_max_num_queries, 11, **extra)
    assert many == few


def test_the_export_does_not_query_per_account(
    client_as, maggie, alice, bob, django_assert_max_num_queries
):
    # The session, the user, the manager's team members, then the accounts with their
    # owners in one streamed query.
    client = client_as(maggie)
    AccountFactory.create_batch(3, owner=alice)
    few = count_queries(client, EXPORT_URL, {}, django_assert_max_num_queries, 4)
    AccountFactory.create_batch(30, owner=bob)
    assert count_queries(client, EXPORT_URL, {}, django_assert_max_num_queries, 4) == few


# --- The way in from the home page ------------------------------------------------------------


def test_home_links_each_segment_to_the_filtered_list(client_as, alice, alices_book):
    body = client_as(alice).get(reverse("home")).content.decode()
    assert f'<a href="{LIST_URL}?segment=mid_market">Mid-market</a>' in body
    assert f'<a href="{LIST_URL}?segment=smb">SMB</a>' in body
    assert f'<a href="{LIST_URL}?segment=enterprise">Enterprise</a>' in body


# --- Counts at scale --------------------------------------------------------------------------


def count_statements(queries) -> list[str]:
    """The counts of accounts among ``queries`` (not the navigation's count of tasks)."""
    return [
        q["sql"]
        for q in queries
        if "COUNT(" in q["sql"].upper() and '"playbooks_task"' not in q["sql"]
    ]


def test_a_list_within_the_exact_limit_is_counted_exactly(
    client_as, alice, alices_book, two_per_page, settings
):
    settings.VITALS_LIST_EXACT_COUNT = 5
    with CaptureQueriesContext(connection) as queries:
        body = client_as(alice).get(LIST_URL, {"page": 2, "q": "e"}).content.decode()
    assert "5 accounts" in body and "about" not in body
    assert "Page 2 of 3" in body
    # The count reads at most one row past the limit, never the whole book.
    [count] = count_statements(queries)
    assert "LIMIT 6" in count


def test_a_list_past_the_exact_limit_says_its_count_is_an_estimate(
    client_as, alice, alices_book, two_per_page, settings
):
    settings.VITALS_LIST_EXACT_COUNT = 3
    # A search: not a filter the book's figures count.
    response = client_as(alice).get(LIST_URL, {"page": 2, "q": "e"})
    body = response.content.decode()
    assert listed(response) == ["Cobalt Cafe", "Dynamo Dental"]
    paginator = response.context["page"].paginator
    if connection.vendor == "postgresql":
        # The planner's estimate, said as one; at least the rows it has seen.
        assert paginator.count_is_estimate
        assert paginator.count >= 4
        assert f"about {paginator.count} accounts" in body
        assert "Page 2 of about" in body
    else:
        # The embedded database is for small books: it counts exactly.
        assert not paginator.count_is_estimate
        assert "5 accounts" in body and "about" not in body


def test_an_estimate_below_the_rows_counted_reads_as_more_than_the_limit(
    client_as, alice, alices_book, two_per_page, settings, monkeypatch
):
    """A planner that misjudges the filters (its estimate under the rows the count has
    already seen) is not shown as "about 1": the list says "more than" the limit."""
    if connection.vendor != "postgresql":
        pytest.skip("the embedded database counts exactly")
    settings.VITALS_LIST_EXACT_COUNT = 3
    monkeypatch.setattr("accounts.pagination.estimated_rows", lambda queryset: 1)
    body = client_as(alice).get(LIST_URL, {"page": 2, "q": "e"}).content.decode()
    assert "more than 3 accounts" in body
    assert "Page 2 of more than" in body
    assert "about" not in body


@pytest.mark.parametrize("params", [{"page": 2}, {"page": 2, "sort": "-arr"}])
def test_the_whole_book_is_counted_from_the_figures(
    client_as, alice, bob, alices_book, two_per_page, settings, params
):
    """Unfiltered (in any order), the list's size is the book's figures' sum over the
    user's scope: exact past the counting limit, with no count of the accounts."""
    settings.VITALS_LIST_EXACT_COUNT = 3
    AccountFactory.create_batch(4, owner=bob)  # outside Alice's scope
    with CaptureQueriesContext(connection) as queries:
        body = client_as(alice).get(LIST_URL, params).content.decode()
    assert "5 accounts" in body and "about" not in body and "more than" not in body
    assert "Page 2 of 3" in body
    assert count_statements(queries) == []


@pytest.fixture
def scored_book(alice, bob, charlie, maggie):
    """Three owners' accounts over every segment, scored into three bands (two of one
    level), some churned, some churning after today, some never scored."""
    from scoring.services import scoring_run_create, scoring_run_execute
    from tests.scoring.builders import add_signal, make_metric, make_model

    usage = make_metric("usage")
    make_model(
        "health",
        components=[{"metric": "usage", "rule": "passthrough", "weight": 100}],
        bands=[
            ("Critical", None, "critical"),
            ("At risk", 30, "at_risk"),
            ("Watch", 50, "at_risk"),
            ("Healthy", 70, "healthy"),
        ],
    )
    segments = [choice for choice, _ in Account.Segment.choices]
    now = timezone.now()
    for n in range(40):
        account = AccountFactory(
            owner=[alice, bob, charlie, None][n % 4],
            segment=segments[n % len(segments)],
            churned_at=[None, None, None, days_from_today(-20), days_from_today(15)][n % 5],
        )
        if n % 6:
            add_signal(account, usage, (n * 17) % 100, now - dt.timedelta(hours=1))
    scoring_run_execute(run=scoring_run_create())


FIGURE_FILTERS = [
    {"level": "at_risk"},
    {"level": "critical", "segment": "smb"},
    {"level": "unscored"},
    {"band": "At risk"},
    {"band": "none"},
    {"band": "Healthy", "customer": "active"},
    {"band": "Critical", "customer": "churned"},
    {"segment": "enterprise"},
    {"customer": "churned"},
    {"customer": "active", "segment": "mid_market", "sort": "-score"},
    {"owner": "bob"},
    {"owner": "alice", "level": "healthy", "customer": "active"},
]


@pytest.mark.parametrize("user", ["alice", "maggie", "admin"])
def test_lists_filtered_by_owner_segment_level_or_churn_are_counted_from_the_figures(
    client_as, scored_book, user, settings
):
    """Exact past the counting limit, with no count of the accounts: the filters the
    figures keep. A band shared by two names of one level ("At risk", "Watch") is not
    one of them: that list counts."""
    from accounts.filters import AccountFilter
    from accounts.models import User
    from accounts.selectors import accounts_visible_to, owners_visible_to
    from tests.factories import UserFactory

    settings.VITALS_LIST_EXACT_COUNT = 1
    settings.VITALS_ACCOUNTS_PER_PAGE = 2  # a full first page: its count is not its rows
    person = (
        UserFactory(username="root", role=User.Role.ADMIN)
        if user == "admin"
        else User.objects.get(username=user)
    )
    client = client_as(person)
    for params in FIGURE_FILTERS:
        data = {**params}
        if "owner" in data:
            data["owner"] = User.objects.get(username=data["owner"]).pk
        expected = AccountFilter(
            data,
            queryset=accounts_visible_to(user=person),
            owners=owners_visible_to(user=person),
            bands=["Critical", "At risk", "Watch", "Healthy"],
        )
        if not expected.is_valid():  # an owner outside the person's scope
            continue
        with CaptureQueriesContext(connection) as queries:
            response = client.get(LIST_URL, data)
        paginator = response.context["page"].paginator
        counted = count_statements(queries)
        if params.get("band") == "At risk":
            # Two bands of its level: not the level's count (counted past a page).
            assert counted or expected.qs.count() <= 2, params
            continue
        assert (paginator.count, counted) == (expected.qs.count(), []), params
        assert not paginator.count_is_estimate


@pytest.mark.parametrize("per_page, counts", [(25, False), (2, False), (1, True)])
def test_a_first_page_that_holds_the_whole_list_is_its_count(
    client_as, alice, alices_book, settings, per_page, counts
):
    """A search that finds fewer accounts than a page: the page read one row past
    itself and found none, so the list is the page and nothing counts it. A fuller
    list counts as before."""
    settings.VITALS_ACCOUNTS_PER_PAGE = per_page
    with CaptureQueriesContext(connection) as queries:
        response = client_as(alice).get(LIST_URL, {"q": "b"})  # Borealis Bank, Cobalt Cafe
    body = response.content.decode()

    assert listed(response) == ["Borealis Bank", "Cobalt Cafe"][:per_page]
    assert "2 accounts" in body
    assert bool(count_statements(queries)) is counts
