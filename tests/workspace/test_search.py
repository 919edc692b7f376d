"""Search everywhere: one box finds accounts, tasks and notes within the person's scope,
grouped; nothing out of scope shows; on PostgreSQL each group reads its trigram index."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from playbooks.models import Note, Task
from workspace.search import search_everywhere

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def findings(book, alice, bob, charlie):
    """Each CSM's account has a task and a note that mention "renewal"."""
    today = timezone.localdate()
    for account in book.values():
        Task.objects.create(
            account=account, title=f"Renewal call with {account.name}", assignee=account.owner,
            due_date=today + dt.timedelta(days=3),
        )  # fmt: skip
        Note.objects.create(account=account, body=f"Talked renewal terms with {account.name}")
    return book


def names(results) -> dict[str, set[str]]:
    return {
        "accounts": {a.name for a in results.accounts},
        "tasks": {t.account.name for t in results.tasks},
        "notes": {n.account.name for n in results.notes},
    }


@pytest.mark.parametrize(
    ("persona", "visible"),
    [
        ("alice", {"Acme Analytics"}),
        ("maggie", {"Acme Analytics", "Borealis Bank"}),
        ("mark", {"Cobalt Cafe"}),
        ("ada", {"Acme Analytics", "Borealis Bank", "Cobalt Cafe"}),
    ],
)
def test_each_group_finds_only_what_is_in_scope(request, findings, persona, visible):
    user = request.getfixturevalue(persona)
    found = names(search_everywhere(user=user, text="renewal"))
    assert found == {"accounts": set(), "tasks": visible, "notes": visible}
    # The account group: name, domain, or the exact external id, in any letter case.
    by_name = names(search_everywhere(user=user, text="a"))  # too short: nothing
    assert by_name == {"accounts": set(), "tasks": set(), "notes": set()}
    assert names(search_everywhere(user=user, text="ACME"))["accounts"] == (
        {"Acme Analytics"} & visible
    )
    assert names(search_everywhere(user=user, text="cobalt"))["accounts"] == (
        {"Cobalt Cafe"} & visible
    )


def test_work_given_to_someone_is_found_by_them(findings, alice, bob):
    task = Task.objects.get(account=findings["alice"])
    task.assignee = bob
    task.save()
    assert names(search_everywhere(user=bob, text="renewal call"))["tasks"] == {
        "Acme Analytics",
        "Borealis Bank",
    }


def test_the_page_and_the_boxs_fragment(client_as, alice, findings):
    client = client_as(alice)
    page = client.get("/search/", {"q": "renewal"}).content.decode()
    assert "<h3>Tasks</h3>" in page and "<h3>Notes</h3>" in page
    assert "Renewal call with Acme Analytics" in page
    assert "Borealis" not in page
    fragment = client.get("/search/", {"q": "renewal"}, **HTMX).content.decode()
    assert "<html" not in fragment and 'id="search-results"' in fragment
    assert f'href="/accounts/{findings["alice"].pk}/#task-' in fragment
    assert (
        "Nothing of yours matches “zebra”."
        in client.get("/search/", {"q": "zebra"}).content.decode()
    )
    assert "Type at least 2 characters." in client.get("/search/", {"q": " x "}).content.decode()


def test_four_queries_whatever_is_found(alice, findings):
    with CaptureQueriesContext(connection) as queries:
        search_everywhere(user=alice, text="renewal")
    assert len(queries) == 4


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no trigram indexes")
def test_each_group_reads_its_trigram_index(alice, findings):
    from accounts.filters import AccountRules
    from accounts.models import Account

    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plans.append(Task.objects.filter(title__icontains="renewal").explain())
        plans.append(Note.objects.filter(body__icontains="renewal").explain())
        plans.append(AccountRules().filter_search(Account.objects.all(), "q", "acme").explain())
    assert "playbooks_task_title_trgm" in plans[0], plans[0]
    assert "playbooks_note_body_trgm" in plans[1], plans[1]
    assert "accounts_account_name_trgm" in plans[2], plans[2]


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/search/", {"q": "acme"})
    assert response.status_code == 302
