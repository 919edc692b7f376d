"""The account search is served by indexes on PostgreSQL: the plan of the list's search
(name or domain containing the text, or the exact external id) reads them. The planner
is told to avoid a table scan and a walk along an index, as it would on a large book;
on a few rows it would rightly scan anyway."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.filters import AccountFilter
from accounts.models import Account
from tests.factories import AccountFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no trigram indexes"),
]


def test_the_search_of_the_account_list_reads_its_indexes():
    AccountFactory(name="Acme Analytics", domain="acme.example", external_id="crm-1")
    AccountFactory(name="Birch Bakery", domain="birch.example", external_id="crm-2")
    search = AccountFilter({"q": "acme"}, queryset=Account.objects.all()).qs
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        # Nor walk the whole name index for its order: on a large book a search reads
        # the few rows it finds and sorts them.
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = search.explain()

    assert [a.name for a in search] == ["Acme Analytics"]
    for index in [
        "accounts_account_name_trgm",
        "accounts_account_domain_trgm",
        "accounts_account_external_id_upper",
    ]:
        assert index in plan, plan
