"""Tasks a CSM makes, from the account page and from the queue; the queue's filters, the
done view and the CSV of either; the counts a page shows, updated in place after an
action. Out of scope is 404 (or a refusal that names the field), and nothing is made."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from playbooks.models import Task
from tests.factories import AccountFactory
from tests.playbooks.builders import score_each

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def today() -> dt.date:
    return timezone.localdate()


def day(offset: int) -> str:
    return (today() + dt.timedelta(days=offset)).isoformat()


def add_task(account, title, due=0, **fields) -> Task:
    fields.setdefault("assignee", account.owner)
    return Task.objects.create(
        account=account, title=title, due_date=today() + dt.timedelta(days=due), **fields
    )


def csv_rows(response) -> list[dict[str, str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


# --- From the account page ------------------------------------------------------------------


def test_a_csm_adds_a_task_on_her_account_and_it_shows_among_its_tasks(client_as, alice, book):
    url = reverse("playbooks:account_task_create", args=[book["alice"].pk])
    response = client_as(alice).post(
        url,
        {"title": "Send the QBR deck", "due_date": day(3), "priority": "high", "description": "v2"},
        **HTMX,
    )

    assert response.status_code == 200
    task = Task.objects.get(title="Send the QBR deck")
    assert (task.account, task.assignee, task.created_by) == (book["alice"], alice, alice)
    assert (task.priority, task.description, task.origin_step_run) == ("high", "v2", None)
    html = response.content.decode()
    assert f'id="task-{task.pk}"' in html  # the tasks section, re-rendered with it
    assert "Added “Send the QBR deck” on Acme Analytics" in html
    assert 'id="nav-tasks-badge" hx-swap-oob="true"' in html  # the badge follows


def test_the_account_page_offers_the_new_task_form_only_in_scope(client_as, alice, bob, book):
    page = client_as(alice).get(book["alice"].get_absolute_url()).content.decode()
    assert reverse("playbooks:account_task_create", args=[book["alice"].pk]) in page

    # Work given to Bob opens Alice's account for him, but it is not his to plan.
    add_task(book["alice"], "Cover for Alice", assignee=bob)
    page = client_as(bob).get(book["alice"].get_absolute_url())
    assert page.status_code == 200
    assert b"account_task_create" not in page.content
    assert b'id="new-task"' not in page.content
    response = client_as(bob).post(
        reverse("playbooks:account_task_create", args=[book["alice"].pk]),
        {"title": "Mine now", "due_date": day(1), "priority": "normal"},
    )
    assert response.status_code == 404
    assert not Task.objects.filter(title="Mine now").exists()


@pytest.mark.parametrize(
    ("actor", "owner", "status"),
    [
        ("alice", "alice", 302),
        ("alice", "bob", 404),  # a team-mate's account
        ("alice", "charlie", 404),  # another team's
        ("maggie", "bob", 302),  # a manager: her team's
        ("maggie", "charlie", 404),
        ("ada", "charlie", 302),  # an admin: any
    ],
)
def test_who_may_add_a_task_on_which_account(request, client_as, book, actor, owner, status):
    user = request.getfixturevalue(actor)
    url = reverse("playbooks:account_task_create", args=[book[owner].pk])
    response = client_as(user).post(
        url, {"title": "Check in", "due_date": day(1), "priority": "normal"}
    )
    assert response.status_code == status
    assert Task.objects.filter(title="Check in").exists() == (status == 302)
    if status == 302:
        assert Task.objects.get(title="Check in").assignee == book[owner].owner  # the owner's


def test_bad_input_says_what_beside_each_field_and_adds_nothing(client_as, alice, charlie, book):
    url = reverse("playbooks:account_task_create", args=[book["alice"].pk])
    response = client_as(alice).post(
        url,
        {"title": "  ", "due_date": "someday", "priority": "whenever", "assignee": charlie.pk},
        **HTMX,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Give the task a title." in html
    assert "Enter a valid date." in html
    assert "Select a valid choice. whenever is not one of the available choices." in html
    assert "Choose someone on your teams; that person is not one of them." in html
    assert '<details class="new-task" open>' in html  # the form stays open, with its input
    assert not Task.objects.exists()


def test_a_plain_form_redirects_back_with_the_outcome(client_as, alice, book):
    url = reverse("playbooks:account_task_create", args=[book["alice"].pk])
    client = client_as(alice)
    response = client.post(url, {"title": "", "due_date": day(1), "priority": "normal"})
    assert response.status_code == 302
    assert response["Location"] == book["alice"].get_absolute_url()
    page = client.get(response["Location"]).content.decode()
    assert "Task not added — Title: Give the task a title." in page

    response = client.post(url, {"title": "Call", "due_date": day(1), "priority": "normal"})
    page = client.get(response["Location"]).content.decode()
    assert "Added “Call” on Acme Analytics" in page


def test_no_task_on_an_account_that_has_churned(client_as, alice, book):
    account = book["alice"]
    account.churned_at = today() - dt.timedelta(days=2)
    account.save()
    response = client_as(alice).post(
        reverse("playbooks:account_task_create", args=[account.pk]),
        {"title": "Win back", "due_date": day(1), "priority": "normal"},
        **HTMX,
    )
    assert "Acme Analytics churned on" in response.content.decode()
    assert "its work is closed" in response.content.decode()
    assert not Task.objects.exists()


# --- From the queue -----------------------------------------------------------------------------


def queue_create(client, data, **extra):
    base = {"due_date": day(2), "priority": "normal", "next": "/tasks/"}
    return client.post(reverse("playbooks:create"), {**base, **data}, **extra)


def test_from_the_queue_a_csm_names_her_account_by_external_id_or_name(client_as, alice, book):
    client = client_as(alice)
    queue_create(client, {"account": "acme", "title": "By id"}, **HTMX)
    response = queue_create(client, {"account": "acme analytics", "title": "By name"}, **HTMX)

    assert set(Task.objects.values_list("title", "account__external_id")) == {
        ("By id", "acme"),
        ("By name", "acme"),
    }
    html = response.content.decode()
    assert "Added “By name” on Acme Analytics" in html
    assert 'id="new-task"' in html  # a fresh form to add the next
    assert 'id="count-upcoming" hx-swap-oob="true"' not in html  # not sent from the queue


def test_the_queue_refuses_an_account_outside_the_scope_like_a_missing_one(client_as, alice, book):
    client = client_as(alice)
    for name in ("borealis", "Borealis Bank", "nowhere"):
        html = queue_create(client, {"account": name, "title": "Sneak"}, **HTMX).content.decode()
        assert f"No account of yours is named “{name}” or has that external id." in html
    assert not Task.objects.exists()


def test_two_accounts_of_the_same_name_need_the_external_id(client_as, alice, book):
    AccountFactory(name="Acme Analytics", external_id="acme-eu", owner=alice)
    client = client_as(alice)
    html = queue_create(client, {"account": "Acme Analytics", "title": "Which"}, **HTMX)
    assert "More than one of your accounts is named “Acme Analytics”" in html.content.decode()
    queue_create(client, {"account": "acme-eu", "title": "That one"}, **HTMX)
    assert Task.objects.get().account.external_id == "acme-eu"


def test_a_task_given_to_a_team_mate_lets_them_open_its_account(client_as, alice, bob, book):
    queue_create(
        client_as(alice), {"account": "acme", "title": "Cover me", "assignee": bob.pk}, **HTMX
    )
    task = Task.objects.get(title="Cover me")
    assert task.assignee == bob
    assert client_as(bob).get(book["alice"].get_absolute_url()).status_code == 200
    queue = client_as(bob).get("/tasks/").content.decode()
    assert f'id="task-{task.pk}"' in queue


def test_account_suggestions_come_from_the_persons_customers_only(client_as, alice, book):
    AccountFactory(name="Acme Old", external_id="acme-old", owner=alice, churned_at=today())
    response = client_as(alice).get(reverse("accounts:suggest"), {"account": "acm"})
    html = response.content.decode()
    assert '<option value="acme">Acme Analytics · Alice</option>' in html
    assert "acme-old" not in html  # churned
    assert client_as(alice).get(reverse("accounts:suggest"), {"account": "bore"}).content == b"\n"


# --- Filters, the done view and CSV ---------------------------------------------------------


@pytest.fixture
def work(alice, book, usage):
    """Alice's queue: overdue, today and next-week tasks of several priorities and origins,
    on a healthy and an at-risk account."""
    healthy = book["alice"]
    risky = AccountFactory(name="Risky Co", external_id="risky", owner=alice, arr=900_000)
    score_each({healthy: 18, risky: 6}, at=timezone.now())  # scores 90 and 30
    return {
        "late": add_task(risky, "Late call", due=-3, priority="urgent"),
        "today": add_task(healthy, "Today email", due=0, priority="normal"),
        "week": add_task(risky, "Week review", due=5, priority="high"),
        "month": add_task(healthy, "Month plan", due=20, priority="low"),
    }


def shown(response) -> set[str]:
    html = response.content.decode()
    return {t.title for t in Task.objects.all() if f'id="task-{t.pk}"' in html}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"Late call", "Today email", "Week review", "Month plan"}),
        ({"due": "overdue"}, {"Late call"}),
        ({"due": "today"}, {"Late call", "Today email"}),
        ({"due": "week"}, {"Late call", "Today email", "Week review"}),
        ({"priority": "high"}, {"Week review"}),
        ({"level": "at_risk"}, {"Late call", "Week review"}),
        ({"level": "healthy", "due": "month"}, {"Today email", "Month plan"}),
        ({"origin": "playbook"}, set()),
        ({"origin": "manual", "priority": "urgent"}, {"Late call"}),
    ],
)
def test_the_queue_filters_narrow_its_sections_and_counts(client_as, alice, work, query, expected):
    response = client_as(alice).get("/tasks/", query)
    assert response.status_code == 200
    assert shown(response) == expected
    html = response.content.decode()
    assert f"{len(expected)} open task{'' if len(expected) == 1 else 's'}" in html
    # The navigation's badge counts the whole queue, whatever the page's filters.
    assert '<span class="nav-badge" title="Overdue or due today">2</span>' in html


def test_a_bad_filter_is_named(client_as, alice):
    response = client_as(alice).get("/tasks/", {"priority": "asap"})
    assert response.status_code == 400
    assert "Parameter 'priority'" in response.content.decode()
    assert "asap" in response.content.decode()


def test_show_more_keeps_the_filters(client_as, alice, book, settings):
    settings.VITALS_QUEUE_SECTION_ROWS = 2
    for n in range(5):
        add_task(book["alice"], f"High {n}", due=3, priority="high")
        add_task(book["alice"], f"Low {n}", due=3, priority="low")
    client = client_as(alice)
    first = client.get("/tasks/", {"priority": "high"}).content.decode()
    link = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert link.startswith("/tasks/?priority=high&upcoming=")
    second = client.get(link)
    assert shown(second) == {"High 2", "High 3"}


def test_the_done_view_shows_what_was_finished_newest_first_a_window_at_a_time(
    client_as, alice, bob, book, settings
):
    settings.VITALS_QUEUE_SECTION_ROWS = 2
    now = timezone.now()
    for n in range(5):
        add_task(
            book["alice"], f"Done {n}", status="done", completed_at=now - dt.timedelta(hours=n)
        )
    add_task(book["alice"], "Still open")
    add_task(book["bob"], "Bob's done", status="done", completed_at=now)
    client = client_as(alice)

    first = client.get(reverse("playbooks:done"))
    html = first.content.decode()
    assert shown(first) == {"Done 0", "Done 1"}
    assert html.index("Done 0") < html.index("Done 1")
    link = html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = client.get(link, **HTMX)
    assert shown(second) == {"Done 2", "Done 3"}
    assert b"<html" not in second.content  # just the rows, put under the first ones
    assert client.get(reverse("playbooks:done"), {"after": "junk"}).status_code == 400


def test_the_queue_exports_as_csv_with_its_filters(client_as, alice, work):
    rows = csv_rows(client_as(alice).get(reverse("playbooks:export")))
    assert [row["Title"] for row in rows] == [
        "Late call",
        "Today email",
        "Week review",
        "Month plan",
    ]
    late = rows[0]
    assert late["Priority"] == "urgent"
    assert late["Status"] == "open"
    assert late["Due"] == day(-3)
    assert late["Account external id"] == "risky"
    assert late["ARR"] == "900000.00"
    assert late["Origin"] == "added by hand"
    assert late["Owner"] == "alice"

    high = csv_rows(client_as(alice).get(reverse("playbooks:export"), {"priority": "high"}))
    assert [row["Title"] for row in high] == ["Week review"]


def test_the_done_export_and_its_scope(client_as, alice, bob, book):
    add_task(book["alice"], "=HYPERLINK(1)", status="done", completed_at=timezone.now())
    add_task(book["bob"], "Bob's", status="done", completed_at=timezone.now())
    rows = csv_rows(client_as(alice).get(reverse("playbooks:export"), {"view": "done"}))
    assert [row["Title"] for row in rows] == ["'=HYPERLINK(1)"]  # no formula runs
    assert rows[0]["Completed"] == today().isoformat()
    response = client_as(alice).get(reverse("playbooks:export"), {"view": "later"})
    assert response.status_code == 400


# --- Counts update in place -----------------------------------------------------------------


def test_completing_from_the_queue_updates_its_section_counts(client_as, alice, work):
    response = client_as(alice).post(
        reverse("playbooks:complete", args=[work["late"].pk]),
        {"next": "/tasks/?priority=urgent"},
        HTTP_HX_CURRENT_URL="http://testserver/tasks/?priority=urgent",
        **HTMX,
    )
    html = response.content.decode()
    assert '<span class="count-pill" id="count-overdue" hx-swap-oob="true">0</span>' in html
    assert '<span id="queue-total" hx-swap-oob="true">0 open tasks</span>' in html
    # The badge: one task left overdue or due today (Today email).
    assert '<span class="nav-badge" title="Overdue or due today">1</span>' in html


def test_completing_from_the_home_page_updates_its_tiles(client_as, alice, work):
    response = client_as(alice).post(
        reverse("playbooks:complete", args=[work["today"].pk]),
        HTTP_HX_CURRENT_URL="http://testserver/",
        **HTMX,
    )
    html = response.content.decode()
    assert 'id="tasks-today" hx-swap-oob="true">0</span>' in html
    assert 'id="tasks-overdue" hx-swap-oob="true">1</span>' in html
    assert "count-overdue" not in html  # no queue on that page


# --- A manager opens a team member's queue ---------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "person", "status"),
    [
        ("maggie", "alice", 200),  # her team
        ("maggie", "charlie", 404),  # another team
        ("alice", "bob", 404),  # a CSM: only her own
        ("alice", "alice", 200),
        ("ada", "charlie", 200),  # an admin: anyone
        ("maggie", "nobody", 404),
    ],
)
def test_who_may_open_whose_queue(request, client_as, book, actor, person, status):
    user = request.getfixturevalue(actor)
    tasks = {who: add_task(account, f"Task of {who}") for who, account in book.items()}
    for url in ("/tasks/", reverse("playbooks:done"), reverse("playbooks:export")):
        response = client_as(user).get(url, {"person": person})
        assert response.status_code == status, (url, response.status_code)
    if status == 200:
        page = client_as(user).get("/tasks/", {"person": person}).content.decode()
        assert f'id="task-{tasks[person].pk}"' in page
        assert [t for w, t in tasks.items() if w != person and f'id="task-{t.pk}"' in page] == []


def test_a_team_members_queue_keeps_the_person_in_its_links(client_as, maggie, alice, book):
    add_task(book["alice"], "Late", due=-2)
    add_task(book["alice"], "Done one", status="done", completed_at=timezone.now())
    client = client_as(maggie)
    page = client.get("/tasks/", {"person": "alice", "priority": "normal"}).content.decode()
    assert "<h1>Alice's tasks</h1>" in page
    assert 'href="/tasks/done/?priority=normal&amp;person=alice"' in page
    assert '<input type="hidden" name="person" value="alice">' in page
    done = client.get(reverse("playbooks:done"), {"person": "alice"})
    assert "Done one" in done.content.decode()
    rows = csv_rows(client.get(reverse("playbooks:export"), {"person": "alice"}))
    assert [row["Title"] for row in rows] == ["Late"]
    team = client.get("/team/").content.decode()
    assert 'href="/tasks/?person=alice"' in team
    assert 'href="/tasks/?person=alice&amp;due=overdue"' in team


def test_the_team_page_counts_the_work_the_queues_count(client_as, maggie, alice, book):
    """A task on an account that has churned is not in the person's queue (its work is
    closed): the team page leaves it out too."""
    gone = AccountFactory(name="Gone Co", owner=alice, churned_at=today() - dt.timedelta(days=3))
    add_task(gone, "Left behind", due=-5)
    add_task(book["alice"], "Really late", due=-2)
    assert client_as(alice).get("/").content.decode().count('id="tasks-overdue">1<') == 1
    team = client_as(maggie).get("/team/").content.decode()
    row = team.split('id="member-')[1:]
    alice_row = next(r for r in row if "Alice" in r.split("</tr>")[0])
    cells = alice_row.split("</tr>")[0]
    assert '&amp;due=overdue" title="Alice\'s overdue tasks">1</a>' in cells
    assert 'title="Alice\'s queue">1</a>' in cells
