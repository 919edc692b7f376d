"""Query-count caps: the pages a CSM opens every day and every API list.

Each is measured on a demo book, then again on a book three times the size: the count
must stay under its cap and not grow with the book (no query per row). A cap is the
count measured when it was set; raise one only with a reason in the commit.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account, SavedView, User
from accounts.tokens import SCOPES, api_token_create
from playbooks.models import Playbook, Task
from playbooks.selectors import task_queue
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

# (who, path) -> the most queries it may make. "csm1", "manager" and "admin" are demo logins;
# "token" is an integration token with every scope.
CAPS = {
    # Work on next reads the CSM's open tasks on its accounts: one query more.
    ("csm1", "/"): 15,
    # The account list: two more for its saved views (the menu, and the teams a view may
    # be shared with).
    ("csm1", "/accounts/"): 9,
    # Counted from the book's figures: their rows and the accounts churning after today.
    ("csm1", "/accounts/?level=healthy&sort=-arr"): 10,
    # A saved view shared with her team, opened by its link: the list with its filters.
    ("csm1", "/accounts/?{saved_view}"): 10,
    # The timeline is a card loaded after the page: a query per kind of entry.
    ("csm1", "/accounts/{account}/"): 13,
    ("csm1", "/accounts/{account}/timeline/"): 11,
    # The account's touches card (a page of its own without JavaScript): the touches with
    # their contacts, and the active contacts the form offers.
    ("csm1", "/accounts/{account}/touches/"): 6,
    # A parent company's page: one query more for its subsidiaries and their health.
    ("csm1", "/accounts/{parent}/"): 14,
    # The queue: 5, one per section that has tasks (a window of it), and one for the
    # cards' accounts (owner and band), so at most 10.
    ("csm1", "/tasks/"): 10,
    ("csm1", "/tasks/?overdue={overdue}"): 10,
    # Filtered: the same windows, narrowed.
    ("csm1", "/tasks/?priority=high&origin=manual&due=month"): 10,
    # The done view: the badge's count, one window and its cards' accounts.
    ("csm1", "/tasks/done/"): 6,
    ("csm1", "/accounts/suggest/?account=a"): 3,
    # Search everywhere: the navigation's counts and one query per group.
    ("csm1", "/search/?q=ca"): 7,
    # Work on next with the CSM's tasks on each account.
    ("csm1", "/tasks/next/"): 8,
    # The bell's list: its page of notifications, the navigation's counts.
    ("csm1", "/notifications/"): 6,
    # A manager opens a team member's queue.
    ("manager", "/tasks/?person=csm1"): 12,
    ("admin", "/search/?q=ca"): 7,
    ("manager", "/"): 14,
    # With its retention card: the cohort per CSM, and the lost ARR by reason (two).
    ("manager", "/team/"): 13,
    # Renewals: the rows (owner, band), the reasons offered, the owners to filter by.
    ("csm1", "/renewals/"): 6,
    ("manager", "/renewals/?within=120"): 7,
    ("admin", "/renewals/"): 6,
    ("manager", "/accounts/"): 10,
    ("manager", "/accounts/views/"): 5,
    ("manager", "/tasks/"): 10,
    ("admin", "/accounts/"): 9,
    ("admin", "/accounts/?level=at_risk&sort=-arr"): 10,
    ("admin", "/accounts/{account}/"): 13,
    ("admin", "/tasks/"): 10,
    ("admin", "/team/"): 12,
    ("token", "/api/v1/accounts/"): 3,
    ("token", "/api/v1/saved-views/"): 2,
    ("token", "/api/v1/accounts/{external_id}/scores/"): 4,
    ("token", "/api/v1/accounts/{external_id}/touches/"): 4,
    ("token", "/api/v1/metrics/"): 4,
    ("token", "/api/v1/tasks/"): 3,
    ("token", "/api/v1/renewals/"): 3,
    ("token", "/api/v1/renewal-reasons/"): 2,
    ("token", "/api/v1/accounts/{external_id}/outcomes/"): 5,
    ("token", "/api/v1/playbooks/"): 4,
    ("token", "/api/v1/scoring-models/"): 6,
}


def seed(accounts: int) -> None:
    call_command(
        "seed_demo", "--accounts", str(accounts), "--days", "30",
        stdout=io.StringIO(), stderr=io.StringIO(),
    )  # fmt: skip


def more_configuration() -> None:
    """Three times the metrics, scoring model versions and playbooks, through the API."""
    _, raw = api_token_create(name="Config", scopes=SCOPES)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    for kind in ["metrics", "scoring-models", "playbooks"]:
        for item in api.get(f"/api/v1/{kind}/?page_size=100").json()["results"]:
            for copy in range(2):
                if kind == "scoring-models":
                    body = {"based_on": item["id"]}
                else:
                    body = {**item, "name": f"{item['name']} {copy}"}
                    if kind == "metrics":
                        body["key"] = f"{item['key']}-{copy}"
                response = api.post(f"/api/v1/{kind}/", body, format="json")
                assert response.status_code == 201, (kind, response.json())


def test_every_page_a_person_opens_is_capped_at_fifteen_queries():
    """The pages of the URL confs (not the API, the admin nor the actions) are all here,
    each within 15 queries."""
    pages_caps = {key: cap for key, cap in CAPS.items() if key[0] != "token"}
    assert max(pages_caps.values()) <= 15, pages_caps
    pages = {path.split("?")[0] for who, path in CAPS if who != "token"}
    assert pages >= {"/", "/accounts/", "/accounts/{account}/", "/tasks/", "/team/"}


def more_tasks(per_section: int) -> None:
    """``per_section`` more open tasks for csm1 in each section of her queue (overdue,
    due today, upcoming, snoozed), of every priority, and as many done, on her
    accounts."""
    csm1 = User.objects.get(username="csm1")
    accounts = list(Account.objects.filter(owner=csm1, churned_at__isnull=True)[:5])
    today = timezone.localdate()
    rows = []
    for n in range(per_section):
        account = accounts[n % len(accounts)]
        for days, status in (
            (-1 - n % 9, "open"),
            (0, "open"),
            (1 + n % 9, "open"),
            (-1, "snoozed"),
            (-1, "done"),
        ):
            rows.append(
                Task(
                    account=account,
                    assignee=csm1,
                    title=f"Extra {n}",
                    priority=Task.Priority.values[n % 4],
                    due_date=today + dt.timedelta(days=days),
                    status=status,
                    completed_at=timezone.now() if status == "done" else None,
                    snoozed_until=today + dt.timedelta(days=2 + n % 5)
                    if status == "snoozed"
                    else None,
                )
            )
    Task.objects.bulk_create(rows)


def saved_view_shared(csm1: User) -> SavedView:
    """A view csm1 saved and shared with her team, and more views around it for the
    views page and the menus to list, her own and her team-mates': a view per ten
    accounts of the book for each of them, so a larger book has more views."""
    team = csm1.teams.get()
    view, _ = SavedView.objects.update_or_create(
        owner=csm1,
        name="Customers by ARR",
        defaults={"query": "customer=active&sort=-arr", "team": team},
    )
    for member in team.members.all():
        for n in range(Account.objects.count() // 10):
            SavedView.objects.get_or_create(
                owner=member, name=f"View {n}", defaults={"query": f"sort=name&q={n}", "team": team}
            )
    return view


def count_queries(account) -> dict[tuple[str, str], int]:
    """Each page and list, opened by its role (logged in afresh: seeding resets passwords)."""
    _, raw = api_token_create(name="Caps", scopes=SCOPES)
    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    clients = {
        "csm1": client_for(User.objects.get(username="csm1")),
        "manager": client_for(User.objects.get(username="manager")),
        "admin": client_for(User.objects.get(username="admin")),
        "token": token,
    }
    # The second window of csm1's overdue tasks, as its "Show more" link gives it.
    csm1 = User.objects.get(username="csm1")
    queue = task_queue(user=csm1, today=timezone.localdate())
    overdue = queue.section("overdue").next
    assert overdue is not None, "csm1 needs more overdue tasks than a window"
    counts = {}
    saved_view = saved_view_shared(csm1)
    # csm1's parent company in the demo book, with a subsidiary she does not see.
    parent = (
        Account.objects.filter(owner=csm1, children__isnull=False).distinct().order_by("pk").first()
    )
    assert parent is not None, "the demo gives csm1 a parent company"
    for who, path in CAPS:
        url = path.format(
            account=account.pk,
            external_id=account.external_id,
            overdue=overdue,
            saved_view=saved_view.query,
            parent=parent.pk,
        )
        clients[who].get(url)  # the first request of a session warms its caches
        with CaptureQueriesContext(connection) as captured:
            response = clients[who].get(url)
        assert response.status_code == 200, (who, url, response.status_code)
        counts[who, path] = len(captured)
    return counts


@pytest.mark.slow
def test_pages_and_api_lists_stay_under_their_caps_whatever_the_size_of_the_book():
    seed(30)
    # The account the CSM opens: one of theirs, a customer with history and tasks.
    account = (
        Account.objects.filter(owner__username="csm1", churned_at__isnull=True, tasks__isnull=False)
        .order_by("pk")
        .first()
    )
    assert Playbook.objects.exists() and account.tasks.exists()
    more_tasks(per_section=30)  # more than a window in each section
    small = count_queries(account)

    seed(90)
    more_configuration()
    more_tasks(per_section=300)
    large = count_queries(account)

    grows = {key: (small[key], large[key]) for key in CAPS if large[key] > small[key]}
    over = {key: (large[key], cap) for key, cap in CAPS.items() if large[key] > cap}
    assert not grows, f"queries grow with the book (30 → 90 accounts, 120 → 1,200 tasks): {grows}"
    assert not over, f"over the cap (measured, cap): {over}"
