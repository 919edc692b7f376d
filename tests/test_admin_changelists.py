"""The admin's changelists of the big tables open in a number of queries that does not
grow with their rows: accounts, score history, signals, playbook runs and tasks, each
opened by an admin on a demo book and on one three times its size."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from tests.conftest import client_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CHANGELISTS = [
    "/admin/accounts/account/",
    "/admin/accounts/account/?segment__exact=smb",
    "/admin/scoring/healthscore/",
    "/admin/scoring/signal/",
    "/admin/playbooks/playbookrun/",
    "/admin/playbooks/task/",
    "/admin/playbooks/task/?status__exact=open",
]


def seed(accounts: int) -> None:
    call_command(
        "seed_demo", "--accounts", str(accounts), "--days", "7",
        stdout=io.StringIO(), stderr=io.StringIO(),
    )  # fmt: skip


def counts() -> dict[str, int]:
    client = client_for(User.objects.get(username="admin"))
    measured = {}
    for url in CHANGELISTS:
        client.get(url)  # the first request of a session warms its caches
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert b'id="result_list"' in response.content, url  # rows listed
        measured[url] = len(captured)
        if "?" in url:
            # A filtered list counts its matches, not the whole table a second time.
            counting = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"]]
            assert len(counting) == 1, (url, counting)
    return measured


def test_the_big_changelists_do_not_query_per_row():
    seed(30)
    small = counts()
    seed(90)
    large = counts()
    grows = {url: (small[url], large[url]) for url in CHANGELISTS if large[url] > small[url]}
    assert not grows, f"queries grow with the rows (30 → 90 accounts): {grows}"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's plans")
def test_the_history_changelists_are_ordered_along_an_index():
    """The page query of score history, signals and playbook runs reads the primary key
    in order (newest first) rather than sorting the table; the planner is told to avoid
    a table scan and a sort, as it would on a large table."""
    from django.contrib import admin
    from django.test import RequestFactory

    from playbooks.models import PlaybookRun
    from scoring.models import HealthScore, Signal

    seed(5)
    admin_user = User.objects.get(username="admin")
    for model in [HealthScore, Signal, PlaybookRun]:
        request = RequestFactory().get("/")
        request.user = admin_user
        changelist = admin.site._registry[model].get_changelist_instance(request)
        page = changelist.get_queryset(request)[: changelist.list_per_page]
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            # On a few rows a sort is cheapest whatever the indexes (and on the score
            # history's partitions a merge by model is): forbid it, so the plan shows
            # whether an index serves the order at all.
            cursor.execute("SET LOCAL enable_sort = off")
            plan = page.explain()
        assert "Index Scan Backward" in plan and "_pkey" in plan, (model.__name__, plan)
