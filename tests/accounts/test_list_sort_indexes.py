"""Each sort of the account list on an account column (name, ARR, renewal, either way) is
read in order from an index on PostgreSQL, in each scope: the whole book (an admin), a
manager's teams, one CSM's book; alone, under the segment, stage and customer filters,
and under the owner filter. The plan of the first page has no sort of the rows it reads
(an incremental sort of ties within the index's order is fine: it reads a page's worth).

The book is 20,000 accounts of 20 CSMs (a CSM owns a twentieth, a manager's two a tenth),
large enough that walking an index beats sorting; the planner is also told to avoid a
table scan, as on a large book. Accounts without a renewal date keep coming last."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection

from accounts.filters import SORT_LABELS, AccountFilter, account_list_filter
from accounts.models import Account, User
from accounts.selectors import accounts_visible_to
from tests.factories import UserFactory
from tests.plans import plan_of

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's plans"),
]

COLUMN_SORTS = [key for key in SORT_LABELS if key.lstrip("-") in {"name", "arr", "renewal_date"}]
FILTERS = [{}, {"segment": "smb"}, {"lifecycle_stage": "mature"}, {"customer": "active"}]
TODAY = dt.date(2026, 11, 20)


@pytest.fixture
def big_book(alice, bob, maggie):
    csms = [alice, bob] + [UserFactory(username=f"csm{n}") for n in range(18)]
    segments = [choice for choice, _ in Account.Segment.choices]
    stages = [choice for choice, _ in Account.Stage.choices]
    Account.objects.bulk_create(
        [
            Account(
                external_id=f"acc-{n}",
                name=f"Account {(n * 7919) % 20000:05}",
                owner=csms[n % 20],
                segment=segments[n % len(segments)],
                lifecycle_stage=stages[(n // 3) % len(stages)],
                arr=Decimal((n * 104729) % 500000),
                renewal_date=None if n % 7 == 0 else TODAY + dt.timedelta(days=(n * 31) % 700),
                churned_at=TODAY - dt.timedelta(days=30) if n % 11 == 3 else None,
            )
            for n in range(20000)
        ],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_account")
    return {
        "admin": UserFactory(username="root", role=User.Role.ADMIN),
        "manager": maggie,
        "csm": alice,
    }


def node_types(plan: dict) -> list[str]:
    return [plan["Node Type"]] + [t for child in plan.get("Plans", []) for t in node_types(child)]


def first_page(user, data: dict):
    """The list's first page as the page builds it for ``user``."""
    return account_list_filter(user=user, data=data, today=TODAY).qs[:25]


def test_every_column_sort_in_every_scope_reads_an_index_in_order(big_book):
    unserved = []
    bob = User.objects.get(username="bob")
    for scope, user in big_book.items():
        for sort in COLUMN_SORTS:
            # The owner filter: one CSM's book, for those who see it.
            for extra in [*FILTERS, *([{"owner": bob.pk}] if scope != "csm" else [])]:
                plan = plan_of(first_page(user, {"sort": sort, **extra}))
                if "Sort" in node_types(plan):
                    unserved.append((scope, sort, extra, json.dumps(plan)[:600]))
    assert not unserved, "\n".join(map(str, unserved))


SCORE_SORTS = ["score", "-score", "trend_30d", "-trend_30d"]


@pytest.fixture
def scored_book(big_book):
    """The book scored, but for every ninth account: levels in turn, scores and trends
    spread out."""
    from django.utils import timezone

    from scoring.models import AccountHealth, HealthScore
    from tests.scoring.builders import make_model

    model = make_model(
        "usage", components=[{"metric": "logins", "weight": 100}], bands=[("Low", 0), ("High", 50)]
    )
    now = timezone.now()
    ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    history = HealthScore.objects.create(
        account_id=ids[0], model=model, score=1, completeness=1, computed_at=now
    )
    levels = ["healthy", "neutral", "at_risk", "critical"]
    AccountHealth.objects.bulk_create(
        [
            AccountHealth(
                account_id=pk,
                health_score=history,
                model=model,
                score=(n * 37) % 1000 / 10,
                level=levels[(n // 7) % 4],
                completeness=1,
                computed_at=now,
                trend_30d=(n * 53) % 400 / 10 - 20,
            )
            for n, pk in enumerate(ids)
            if n % 9
        ],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE scoring_accounthealth")
    return big_book


def test_score_and_trend_sorts_within_a_level_read_an_index_in_order(scored_book):
    """A level's accounts by score or trend (the home page's level tiles lead there) for
    the whole book and for one CSM: the latest-health indexes walked in order, each
    account joined by its key. Not yet served, and sorted instead: these sorts over a
    manager's teams."""
    unserved = []
    for scope in ["admin", "csm"]:
        for sort in SCORE_SORTS:
            plan = plan_of(first_page(scored_book[scope], {"sort": sort, "level": "at_risk"}))
            if "Sort" in node_types(plan):
                unserved.append((scope, sort, json.dumps(plan)[:600]))
    assert not unserved, "\n".join(map(str, unserved))

    page = list(first_page(scored_book["csm"], {"sort": "-score", "level": "at_risk"}))
    scores = [a.health.score for a in page]
    assert len(page) == 25 and scores == sorted(scores, reverse=True)
    assert {a.health.level for a in page} == {"at_risk"}


def test_the_latest_renewals_first_keep_accounts_without_a_date_last(big_book):
    page = list(first_page(big_book["csm"], {"sort": "-renewal_date"}))
    everything = AccountFilter(
        {"sort": "-renewal_date"}, queryset=accounts_visible_to(user=big_book["csm"])
    ).qs
    total = everything.count()
    last = list(everything[total - 3 : total])

    assert all(a.renewal_date is not None for a in page)
    assert [a.renewal_date for a in page] == sorted((a.renewal_date for a in page), reverse=True)
    assert all(a.renewal_date is None for a in last)


def test_score_and_trend_sorts_of_the_whole_book_read_an_index_in_order(scored_book):
    """Not narrowed to a level, a sort on the score or the 30-day change reads its first
    page from the accounts that have one (an inner join, the latest-health index walked
    in order); those without come after them, read apart (accounts/pagination.py)."""
    from accounts.pagination import BookPaginator
    from config.keyset import ordered

    unserved = []
    for scope in ["admin", "manager", "csm"]:
        for sort in SCORE_SORTS:
            queryset = AccountFilter(
                {"sort": sort},
                queryset=accounts_visible_to(user=scored_book[scope]).select_related("owner"),
                owners=User.objects.all(),
                today=TODAY,
            ).qs
            paginator = BookPaginator(queryset, 25, in_parts=True)
            first = paginator.parts[0]
            plan = plan_of(ordered(queryset.filter(first.where), first.keys)[:25])
            if "Sort" in node_types(plan):
                unserved.append((scope, sort, json.dumps(plan)[:600]))
            page = list(paginator.page(1))
            assert [a.pk for a in page] == [a.pk for a in queryset[:25]], (scope, sort)
    assert not unserved, "\n".join(map(str, unserved))
