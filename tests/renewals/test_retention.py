"""Retention figures against a small book computed by hand.

The period is 2026 ([1 Jan 2026, 1 Jan 2027)). Alice (team Enterprise with Bob) and
Charlie (team SMB). ARR history through the accounts write path, outcomes through
``outcome_record``:

    account  owner    segment     ARR at 1 Jan  in 2026                     ARR at end
    a1       alice    smb         10,000        renewed 1 Mar               10,000
    a2       alice    smb         20,000        expanded to 26,000 1 Apr    26,000
    a3       alice    enterprise  30,000        churned 1 Jun (price)       gone
    b1       bob      smb         40,000        downgraded to 30,000 1 May  30,000
                                                (price, champion_left)
    c1       charlie  enterprise  50,000        expanded to 60,000 1 Jul,   45,000
                                                downgraded to 45,000 1 Oct (budget_cut)
    new      bob      smb         (created 1 Feb 2026: not in the cohort)
    old      charlie  smb         churned 1 Dec 2025: not a customer at the start

    total: start 150,000; churned 30,000 (a3); downgraded 10,000 (b1) + 5,000 (c1);
           expanded 6,000 (a2)
           GRR = (150,000 − 30,000 − 15,000) / 150,000 = 105,000 / 150,000 = 0.7
           NRR = (105,000 + 6,000) / 150,000 = 111,000 / 150,000 = 0.74
    alice: start 60,000, churn 30,000, expansion 6,000: GRR 30/60 = 0.5, NRR 36/60 = 0.6
    bob:   start 40,000, downgrade 10,000: GRR = NRR = 0.75
    charlie: start 50,000, downgrade 5,000 (net of the year: 50,000 → 45,000):
           GRR = NRR = 0.9
    team Enterprise (alice + bob): start 100,000, churn 30,000, downgrade 10,000,
           expansion 6,000: GRR 0.6, NRR 0.66; team SMB = charlie
    segment smb (a1, a2, b1): start 70,000, down 10,000, up 6,000: GRR 60/70 = 0.8571,
           NRR 66/70 = 0.9429; enterprise (a3, c1): start 80,000, churn 30,000, down
           5,000: GRR = NRR = 45/80 = 0.5625
    lost by reason: a3 30,000 → price 30,000; b1 10,000 shared by two → price 5,000,
           champion_left 5,000; c1's downgrade 60,000 → 45,000 = 15,000 → budget_cut
           15,000 (the outcome's own loss, not the year's net). price 35,000 in all.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account
from accounts.services import accounts_bulk_upsert
from renewals.selectors import retention_figures
from renewals.services import outcome_record

pytestmark = pytest.mark.django_db

START, END = dt.date(2026, 1, 1), dt.date(2027, 1, 1)
D = Decimal


def _open(external_id, owner, segment, arr, on, **fields):
    accounts_bulk_upsert(
        rows=[{"external_id": external_id, "name": external_id.upper(), "owner": owner,
               "segment": segment, "arr": D(arr), **fields}],
        arr_effective=on,
    )  # fmt: skip
    return Account.objects.get(external_id=external_id)


def _outcome(account, kind, day, arr=None, reasons=()):
    account.refresh_from_db()
    return outcome_record(
        account=account,
        kind=kind,
        renewal_date=day,
        arr_after=arr,
        reasons=list(reasons),
        now=timezone.now(),
    )


@pytest.fixture
def year(alice, bob, charlie, maggie, mark):
    long_ago = dt.date(2024, 6, 1)
    a1 = _open("a1", alice, "smb", 10000, long_ago)
    a2 = _open("a2", alice, "smb", 20000, long_ago)
    a3 = _open("a3", alice, "enterprise", 30000, long_ago)
    b1 = _open("b1", bob, "smb", 40000, long_ago)
    c1 = _open("c1", charlie, "enterprise", 50000, long_ago)
    _open("new", bob, "smb", 99000, dt.date(2026, 2, 1))
    _open("old", charlie, "smb", 7000, long_ago, churned_at=dt.date(2025, 12, 1),
          lifecycle_stage="churned")  # fmt: skip
    _outcome(a1, "renewed", dt.date(2026, 3, 1))
    _outcome(a2, "expanded", dt.date(2026, 4, 1), 26000, ["more_seats"])
    _outcome(a3, "churned", dt.date(2026, 6, 1), reasons=["price"])
    _outcome(b1, "downgraded", dt.date(2026, 5, 1), 30000, ["price", "champion_left"])
    _outcome(c1, "expanded", dt.date(2026, 7, 1), 60000)
    _outcome(c1, "downgraded", dt.date(2026, 10, 1), 45000, ["budget_cut"])
    # After the period: not counted.
    _outcome(a1, "downgraded", dt.date(2027, 3, 1), 1000, ["price"])


def _figures(row):
    return (row.accounts, row.start_arr, row.churned_arr, row.downgraded_arr, row.expanded_arr,
            row.grr, row.nrr)  # fmt: skip


def test_the_figures_of_the_year_are_those_computed_by_hand(year):
    figures = retention_figures(start=START, end=END, by="owner")
    assert _figures(figures.total) == (
        5,
        D("150000.00"),
        D("30000.00"),
        D("15000.00"),
        D("6000.00"),
        D("0.7000"),
        D("0.7400"),
    )
    assert {row.label: _figures(row) for row in figures.rows} == {
        "Alice": (3, D(60000), D(30000), D(0), D(6000), D("0.5000"), D("0.6000")),
        "Bob": (1, D(40000), D(0), D(10000), D(0), D("0.7500"), D("0.7500")),
        "Charlie": (1, D(50000), D(0), D(5000), D(0), D("0.9000"), D("0.9000")),
    }
    assert figures.lost_by_reason == [
        ("price", "Price", D("35000.00")),
        ("budget_cut", "Budget cut", D("15000.00")),
        ("champion_left", "Champion left", D("5000.00")),
    ]


def test_by_team_and_by_segment(year):
    teams = retention_figures(start=START, end=END, by="team")
    assert {row.label: (row.grr, row.nrr) for row in teams.rows} == {
        "Enterprise": (D("0.6000"), D("0.6600")),
        "SMB": (D("0.9000"), D("0.9000")),
    }
    segments = retention_figures(start=START, end=END, by="segment")
    assert {row.label: (row.start_arr, row.grr, row.nrr) for row in segments.rows} == {
        "SMB": (D(70000), D("0.8571"), D("0.9429")),
        "Enterprise": (D(80000), D("0.5625"), D("0.5625")),
    }


def test_a_manager_sees_the_figures_of_their_team_only(year, maggie, charlie):
    figures = retention_figures(start=START, end=END, by="owner", user=maggie)
    assert [row.label for row in figures.rows] == ["Alice", "Bob"]
    assert (figures.total.start_arr, figures.total.grr) == (D(100000), D("0.6000"))
    mine = retention_figures(start=START, end=END, user=charlie)
    assert mine.total.start_arr == D(50000) and mine.lost_by_reason == [
        ("budget_cut", "Budget cut", D("15000.00"))
    ]


def test_an_account_that_came_in_during_the_period_is_left_out_and_counts_the_next(year):
    next_year = retention_figures(start=END, end=dt.date(2028, 1, 1), by="owner")
    bob = next(row for row in next_year.rows if row.label == "Bob")
    assert bob.start_arr == D(30000 + 99000)


def test_a_period_must_end_after_it_starts(db):
    with pytest.raises(ValueError):
        retention_figures(start=END, end=START)


def test_the_team_page_shows_the_managers_retention_of_the_last_twelve_months(
    year, client_as, maggie, alice
):
    today = timezone.localdate()
    page = client_as(maggie).get("/team/").content.decode()
    assert 'id="retention"' in page
    figures = retention_figures(
        start=today.replace(year=today.year - 1), end=today + dt.timedelta(days=1), user=maggie
    )
    assert [row.label for row in figures.rows] == ["Alice", "Bob"]
    grr = round(figures.total.grr * 100)
    assert f'<strong id="grr">{grr} %</strong>' in page
    assert client_as(alice).get("/team/").status_code == 404
