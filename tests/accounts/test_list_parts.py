"""The account list read in parts (accounts/pagination.py, config/keyset.py): a sort on
the score or the 30-day change reads the accounts that have one, then those that have
none; every page is the same rows as the one ordered query would give, whichever page
a part ends on, on both databases; the page itself shows them in that order."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.filters import ORDERINGS, order_accounts
from accounts.models import Account
from accounts.pagination import BookPaginator
from config.keyset import parts_of, read_parts, sort_keys
from scoring.models import AccountHealth
from tests.factories import AccountFactory
from tests.scoring.builders import ragged_health


@pytest.fixture
def ragged_book(alice):
    """Seventeen accounts: some never scored (no latest health), some scored without
    data (no score), scores and changes that tie or are missing, renewal dates missing
    for some."""
    today, draw = timezone.localdate(), random.Random(11)
    accounts = [
        AccountFactory(
            name=f"Account {draw.choice('ABCDE')}",
            owner=alice,
            renewal_date=draw.choice([None, today + dt.timedelta(days=30), today]),
        )
        for _ in range(17)
    ]
    ragged_health(accounts, draw=draw, unscored_every=3)
    AccountHealth.objects.filter(account__in=Account.objects.order_by("pk")[:4]).delete()
    assert 0 < AccountHealth.objects.count() < Account.objects.count()
    assert AccountHealth.objects.filter(score=None).exists()


@pytest.mark.parametrize("sort", list(ORDERINGS))
def test_every_window_of_the_parts_is_the_ordered_querys(ragged_book, sort):
    queryset = order_accounts(Account.objects.all(), [sort])
    whole = list(queryset.values_list("pk", flat=True))
    parts = parts_of(sort_keys(queryset))
    if sort.lstrip("-") in {"score", "trend_30d", "renewal_date"}:
        assert len(parts) == 2

    for start in range(len(whole) + 2):
        for stop in range(start, len(whole) + 3):
            read = [a.pk for a in read_parts(queryset, parts, start, stop)]
            assert read == whole[start:stop], (sort, start, stop)


@pytest.mark.parametrize("per_page", [1, 4, 5, 16, 17, 50])
@pytest.mark.parametrize("sort", ["score", "-score", "trend_30d", "-trend_30d"])
def test_pages_in_parts_are_the_pages_of_the_ordered_query(ragged_book, sort, per_page):
    queryset = order_accounts(Account.objects.all(), [sort])
    plain, in_parts = (
        BookPaginator(queryset, per_page),
        BookPaginator(queryset, per_page, in_parts=True),
    )

    assert in_parts.num_pages == plain.num_pages
    for number in plain.page_range:
        assert list(in_parts.page(number)) == list(plain.page(number)), number


def test_the_list_page_shows_the_scored_accounts_then_the_others(
    ragged_book, client_as, alice, settings
):
    settings.VITALS_ACCOUNTS_PER_PAGE = 5
    expected = list(
        order_accounts(Account.objects.all(), ["-score"]).values_list("name", "health__score")
    )
    client = client_as(alice)
    shown = []
    for number in range(1, 5):
        response = client.get(reverse("accounts:list"), {"sort": "-score", "page": number})
        assert response.status_code == 200
        shown += [a.name for a in response.context["page"].object_list]
    assert shown == [name for name, _ in expected]
    assert expected[-1][1] is None  # the unscored come last
