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
