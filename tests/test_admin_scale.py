"""The admin's changelists of the large tables stay cheap as the tables grow: they count
their rows only up to ``VITALS_LIST_EXACT_COUNT`` (a LIMIT-ed count, never the whole
table, and no second count of the unfiltered table), say "about" when the count is the
planner's estimate, and make as many queries on a book three times the size."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from scoring.models import ScoringModel
from tests.conftest import client_for
from tests.test_admin_changelists import seed

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CHANGELISTS = [
    "/admin/accounts/account/",
    "/admin/scoring/signal/",
    "/admin/scoring/healthscore/",
    "/admin/scoring/accounthealth/",
    "/admin/scoring/scoreevent/",
    "/admin/playbooks/playbookrun/",
    "/admin/playbooks/task/",
    "/admin/playbooks/delivery/",
]


def open_changelists() -> dict[str, tuple[int, list[str], str]]:
    """Per changelist: its query count, its COUNT statements and its page."""
    client = client_for(User.objects.get(username="admin"))
    seen = {}
    for url in CHANGELISTS:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, url
        counts = [q["sql"] for q in queries if re.search(r"\bCOUNT\(", q["sql"], re.I)]
        seen[url] = (len(queries), counts, response.content.decode())
    return seen


def test_the_large_changelists_count_within_a_limit_and_do_not_grow_with_the_book(settings):
    settings.VITALS_LIST_EXACT_COUNT = 5
    seed(10)
    small = open_changelists()
    seed(30)
    large = open_changelists()

    # Score events name each component of the model versions they show: one query per
    # version on the page (the larger demo scores with more of them), none per row.
    versions = ScoringModel.objects.count()
    for url, (queries, counts, _page) in large.items():
        slack = versions if url == "/admin/scoring/scoreevent/" else 0
        assert small[url][0] <= queries <= small[url][0] + slack, (url, small[url][0], queries)
        if not counts:
            continue
        # The count reads one row past the limit; no second count of the whole table.
        assert "LIMIT 6" in counts[0], (url, counts)
        if connection.vendor == "postgresql":
            assert len(counts) == 1, (url, counts)  # past the limit: the planner's estimate
        else:
            assert len(counts) <= 2, (url, counts)  # the embedded database counts exactly
    accounts_page = large["/admin/accounts/account/"][2]
    if connection.vendor == "postgresql":
        assert re.search(r"about [\d,]+ accounts", accounts_page)
    else:
        assert "about" not in accounts_page.split('class="paginator"')[1]
