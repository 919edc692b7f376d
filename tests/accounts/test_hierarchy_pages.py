"""A parent company's page: its subsidiaries with their health and the group's rolled-up
health, counted over what the viewer may see; a subsidiary's page links to its parent
only for those who may open it. Out of scope is 404 as everywhere."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from scoring.hierarchy import account_group, group_health
from scoring.models import AccountHealth, Band, HealthScore
from tests.factories import AccountFactory
from tests.scoring.builders import make_model

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 20)


def scored(account: Account, score: float, band: str) -> None:
    band_row = Band.objects.get(name=band)
    history = HealthScore.objects.create(
        account=account,
        model=band_row.model,
        score=score,
        completeness=1,
        computed_at=timezone.now(),
    )
    AccountHealth.objects.create(
        account=account,
        health_score=history,
        model=band_row.model,
        score=score,
        band=band_row,
        level=band_row.level,
        completeness=1,
        computed_at=timezone.now(),
    )


@pytest.fixture
def acme(alice, bob, maggie):
    """Alice's Acme Group and its subsidiaries: three of hers (one Critical, one not
    scored), one that has churned, and Bob's Acme Italy, out of her book."""
    make_model(
        "health",
        components=[{"metric": "logins", "weight": 100}],
        bands=[
            ("Critical", None, "critical"),
            ("At risk", 25, "at_risk"),
            ("Neutral", 50, "neutral"),
            ("Healthy", 75, "healthy"),
        ],
    )
    group = AccountFactory(name="Acme Group", owner=alice, arr=Decimal("100000"))
    made = {"group": group}
    for key, name, owner, arr, score, band in [
        ("de", "Acme Germany", alice, "120000", 20, "Critical"),
        ("fr", "Acme France", alice, "60000", 60, "Neutral"),
        ("es", "Acme Spain", alice, "20000", None, None),
        ("it", "Acme Italy", bob, "500000", 10, "Critical"),
        ("uk", "Acme UK", alice, "90000", 5, "Critical"),
    ]:
        made[key] = AccountFactory(name=name, owner=owner, arr=Decimal(arr), parent=group)
        if score is not None:
            scored(made[key], score, band)
    scored(group, 80, "Healthy")
    made["uk"].churned_at = TODAY - dt.timedelta(days=10)
    made["uk"].save(update_fields=["churned_at"])
    return made


def reload(account: Account) -> Account:
    return Account.objects.select_related("health").get(pk=account.pk)


def test_the_group_health_is_the_arr_weighted_average_of_what_alice_sees(acme, alice):
    group = account_group(account=reload(acme["group"]), user=alice, today=TODAY)

    assert [c.name for c in group.children] == [
        "Acme France",
        "Acme Germany",
        "Acme Spain",
        "Acme UK",
    ]
    assert group.hidden_children == 1  # Acme Italy, Bob's
    health = group.health
    # By hand: (80 × 100k + 20 × 120k + 60 × 60k) / 280k = 14,000 / 280 = 50; Spain has
    # no score, the UK has churned.
    assert health.score == pytest.approx(50.0)
    assert (health.scored, health.members) == (3, 4)
    assert health.arr == Decimal("300000")
    assert health.arr_at_risk == Decimal("120000")
    assert health.at_risk_share == pytest.approx(0.4)
    assert health.worst.name == "Acme Germany" and health.worst_level_label == "Critical"


def test_their_manager_sees_the_whole_group_and_its_worst(acme, maggie):
    health = account_group(account=reload(acme["group"]), user=maggie, today=TODAY).health

    # (14,000 + 10 × 500k/1k) / 780 = 19,000 / 780
    assert health.score == pytest.approx(19000 / 780)
    assert health.arr == Decimal("800000")
    assert health.at_risk_share == pytest.approx(620 / 800)
    # Both Critical: the larger ARR first.
    assert health.worst.name == "Acme Italy"


def test_without_arr_the_group_health_is_a_plain_average(acme, alice):
    Account.objects.filter(pk__in=[acme["group"].pk, acme["de"].pk, acme["fr"].pk]).update(arr=0)
    parent = reload(acme["group"])
    children = [reload(acme["de"]), reload(acme["fr"])]
    health = group_health(parent=parent, children=children, today=TODAY)
    assert health.score == pytest.approx((80 + 20 + 60) / 3)
    assert health.at_risk_share is None


def test_alice_sees_her_subsidiaries_and_only_how_many_others(acme, client_as, alice):
    response = client_as(alice).get(reverse("accounts:detail", args=[acme["group"].pk]))
    page = response.content.decode()

    assert response.status_code == 200
    for name in ["Acme Germany", "Acme France", "Acme Spain"]:
        assert name in page
    assert "Acme Italy" not in page and "500,000" not in page
    assert "1 more subsidiary outside your book." in page
    assert "the subsidiaries in your book" in page
    assert 'id="group-score">50.0<' in page
    assert "40 %" in page
    assert "Acme Germany</a> is Critical, 120,000 ARR." in page


def test_a_subsidiary_links_to_its_parent_for_those_who_may_open_it(
    acme, client_as, alice, bob, charlie
):
    italy = reverse("accounts:detail", args=[acme["it"].pk])
    parent_url = reverse("accounts:detail", args=[acme["group"].pk])
    # Bob owns Acme Italy but not its parent: he is told there is one, not which.
    page = client_as(bob).get(italy).content.decode()
    assert "Subsidiary of a company outside your book" in page
    assert parent_url not in page and "Acme Group" not in page
    # Alice owns the parent and sees Germany's link to it.
    page = client_as(alice).get(reverse("accounts:detail", args=[acme["de"].pk])).content.decode()
    assert f'Subsidiary of <a href="{parent_url}">Acme Group</a>' in page


@pytest.mark.parametrize(
    ("persona", "key", "status"),
    [
        ("alice", "group", 200),  # own parent
        ("alice", "it", 404),  # a team-mate's subsidiary of her own parent
        ("bob", "group", 404),  # the parent of his own subsidiary
        ("bob", "it", 200),
        ("maggie", "group", 200),  # the team's
        ("maggie", "it", 200),
        ("charlie", "group", 404),  # another team's
        ("charlie", "de", 404),
        ("ada", "it", 200),
    ],
)
def test_each_account_of_a_group_answers_by_its_own_owner(
    request, acme, client_as, ada, persona, key, status
):
    user = request.getfixturevalue(persona)
    response = client_as(user).get(reverse("accounts:detail", args=[acme[key].pk]))
    assert response.status_code == status
    if status == 404:
        assert acme[key].name.encode() not in response.content


def test_the_parent_page_reads_its_subsidiaries_in_one_query(acme, client_as, alice):
    client = client_as(alice)
    url = reverse("accounts:detail", args=[acme["group"].pk])
    client.get(url)
    lone = AccountFactory(owner=alice)
    scored(lone, 70, "Neutral")
    with CaptureQueriesContext(connection) as alone:
        client.get(reverse("accounts:detail", args=[lone.pk]))
    with CaptureQueriesContext(connection) as grouped:
        client.get(url)
    # The page of a parent with five subsidiaries costs the one query of them more…
    assert len(grouped) == len(alone) + 1
    for n in range(3):
        scored(AccountFactory(owner=alice, parent=acme["group"]), 40 + n, "At risk")
    with CaptureQueriesContext(connection) as more:
        client.get(url)
    # … and no more with eight.
    assert len(more) == len(grouped)


def test_the_list_can_show_top_level_accounts_only(acme, client_as, alice):
    client = client_as(alice)
    everything = client.get(reverse("accounts:list")).content.decode()
    top = client.get(reverse("accounts:list"), {"top_level": "true"}).content.decode()

    assert "Acme Germany" in everything and "Acme Group" in everything
    assert "Acme Group" in top and "Acme Germany" not in top
    # The markers: a group, a subsidiary.
    assert 'title="Has subsidiaries">Group<' in everything
    assert 'title="A subsidiary of another account">Subsidiary<' in everything
