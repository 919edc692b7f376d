"""The account list's default page is read in order from an index on PostgreSQL, for
someone who sees the whole book: the plan of its first page walks ``account_name_id``
instead of sorting the book. The planner is told to avoid a table scan, as it would on a
large book; on a few rows it would rightly scan and sort anyway."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.filters import AccountFilter
from accounts.models import Account
from tests.factories import AccountFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's plans"),
]


def test_the_first_page_of_the_whole_book_reads_the_name_index():
    for name in ["Birch Bakery", "Acme Analytics", "Cobalt Cafe"]:
        AccountFactory(name=name)
    queryset = AccountFilter({}, queryset=Account.objects.select_related("owner", "health__band"))
    page = queryset.qs[:25]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = page.explain()

    assert [a.name for a in page] == ["Acme Analytics", "Birch Bakery", "Cobalt Cafe"]
    assert "account_name_id" in plan, plan
    assert "Sort" not in plan.replace("Incremental Sort", ""), plan
