"""The account list's page and the API name their parameters differently, but a band, a
level, a search and a sort mean the same accounts in the same order through either."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from scoring.services import scoring_run_create, scoring_run_execute
from tests.factories import AccountFactory
from tests.scoring.builders import add_signal, make_metric, make_model

PAGE = reverse("accounts:list")
API = "/api/v1/accounts/"


@pytest.fixture
def scored_book(alice):
    usage = make_metric("usage")
    make_model(
        "health",
        components=[{"metric": "usage", "rule": "passthrough", "weight": 100}],
        bands=[("At-risk", None, "at_risk"), ("Healthy", 50, "healthy")],
    )
    today = timezone.localdate()
    rows = [
        # name, ARR, renewal in days (None: no date), usage (None: no signal), churned
        ("Acme", 50_000, 30, 20, False),
        ("Borealis", 50_000, None, 80, False),
        ("Cobalt", 9_000, 10, 40, False),
        ("Delta", 120_000, 200, None, False),
        ("Ember", 9_000, 60, 10, True),  # at risk when it left: churned since
        ("Fjord", 75_000, None, 65, False),
    ]
    accounts = {}
    now = dt.datetime.now(dt.UTC)
    for name, arr, renewal, usage_value, _ in rows:
        account = AccountFactory(
            name=name,
            owner=alice,
            arr=Decimal(arr),
            renewal_date=None if renewal is None else today + dt.timedelta(days=renewal),
        )
        if usage_value is not None:
            add_signal(account, usage, usage_value, now - dt.timedelta(hours=1))
        accounts[name] = account
    scoring_run_execute(run=scoring_run_create())
    Account.objects.filter(name="Ember").update(churned_at=today)
    return accounts


def page_names(client, **params) -> list[str]:
    response = client.get(PAGE, params, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return [a.name for a in response.context["page"].object_list]


def api_names(api, **params) -> list[str]:
    response = api.get(API, params)
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


@pytest.mark.parametrize(
    ("page", "api"),
    [
        ({"band": "At-risk"}, {"band": "at-risk"}),
        ({"band": "none"}, {"band": "none"}),
        ({"level": "at_risk"}, {"level": "at_risk"}),
        ({"level": "unscored"}, {"level": "unscored"}),
        ({"q": "bor"}, {"search": "bor"}),
        ({"sort": "-arr"}, {"ordering": "-arr"}),
        ({"sort": "arr"}, {"ordering": "arr"}),
        ({"sort": "renewal_date"}, {"ordering": "renewal_date"}),
        ({"sort": "-renewal_date"}, {"ordering": "-renewal_date"}),
        ({"sort": "score"}, {"ordering": "score"}),
        ({"sort": "-score"}, {"ordering": "-score"}),
        ({"sort": "-name"}, {"ordering": "-name"}),
    ],
)
def test_the_page_and_the_api_list_the_same_accounts_in_the_same_order(
    client_as, alice, api_as, scored_book, page, api
):
    by_page = page_names(client_as(alice), **page)
    by_api = api_names(api_as(user=alice), **{**api, "page_size": 100})

    assert by_page == by_api


def test_the_rules_they_share(client_as, alice, api_as, scored_book):
    api = api_as(user=alice)
    # A churned account keeps its last band, but is in no band's list: customers only.
    assert api_names(api, band="At-risk") == ["Acme", "Cobalt"]
    # Ties on ARR fall back on the name; accounts with no renewal date come last.
    assert api_names(api, ordering="-arr") == [
        "Delta",
        "Fjord",
        "Acme",
        "Borealis",
        "Cobalt",
        "Ember",
    ]
    assert api_names(api, ordering="renewal_date")[-2:] == ["Borealis", "Fjord"]
    assert api_names(api, ordering="-renewal_date")[-2:] == ["Borealis", "Fjord"]
