"""The queue a window at a time: each section shows its first rows and its honest total,
and "Show more" walks the rest, as a plain link (the page with that section's next
window) and for htmx (just the next rows). A task done between two windows moves
nothing; a cursor that is not one is a 400 that says so."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from playbooks.models import Task
from playbooks.selectors import QueueCursor, task_counts, task_queue
from playbooks.services import task_complete
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def today() -> dt.date:
    return timezone.localdate()


def add_task(account, title, due, **fields) -> Task:
    fields.setdefault("assignee", account.owner)
    return Task.objects.create(
        account=account, title=title, due_date=today() + dt.timedelta(days=due), **fields
    )


@pytest.fixture
def many(book, alice):
    """Alice's queue: 7 overdue (on two days, mixed priorities), 2 due today, 4 upcoming
    (one unassigned on her account) and 3 snoozed; plus Bob's work and her done work."""
    acme = book["alice"]
    other = AccountFactory(name="Other of Alice", owner=alice)
    priorities = ["low", "urgent", "normal", "high"]
    for n in range(7):
        add_task(acme if n % 2 else other, f"Late {n}", -1 - n % 2, priority=priorities[n % 4])
    add_task(acme, "Today 0", 0)
    add_task(acme, "Today 1", 0, status="snoozed", snoozed_until=today())  # woken today
    for n in range(3):
        add_task(acme, f"Next {n}", 1 + n)
    add_task(acme, "Next unassigned", 2, assignee=None)
    for n in range(3):
        add_task(
            acme, f"Asleep {n}", -1, status="snoozed", snoozed_until=today() + dt.timedelta(n + 1)
        )
    add_task(acme, "Done long ago", -3, status="done")
    add_task(book["bob"], "Bob's", -1)
    return alice


def titles(tasks) -> list[str]:
    return [t.title for t in tasks]


def walk(user, key: str, rows: int) -> list[list[str]]:
    """Every window of section ``key``, following its cursors."""
    windows, after = [], {}
    while True:
        section = task_queue(user=user, today=today(), after=after, rows=rows).section(key)
        windows.append(titles(section.tasks))
        if section.next is None:
            return windows
        after = {key: QueueCursor.parse(str(section.next))}


def test_each_section_shows_a_window_and_its_total(many):
    queue = task_queue(user=many, today=today(), rows=3)

    totals = {s.key: s.total for s in queue.sections}
    assert totals == {"overdue": 7, "today": 2, "upcoming": 4, "snoozed": 3}
    assert totals == task_counts(user=many, today=today())
    assert queue.total == 16
    assert {s.key: len(s.tasks) for s in queue.sections} == {
        "overdue": 3,
        "today": 2,
        "upcoming": 3,
        "snoozed": 3,
    }
    # Oldest day first (two days late: n odd), then urgent first, then oldest id.
    assert titles(queue.overdue) == ["Late 1", "Late 5", "Late 3"]
    assert [s.next is not None for s in queue.sections] == [True, False, True, False]


def test_show_more_walks_every_row_of_a_section_once_in_order(many):
    everything = titles(task_queue(user=many, today=today(), rows=100).overdue)

    windows = walk(many, "overdue", rows=3)

    assert [len(w) for w in windows] == [3, 3, 1]
    assert [title for window in windows for title in window] == everything
    assert walk(many, "upcoming", rows=2) == [
        ["Next 0", "Next 1"],
        ["Next unassigned", "Next 2"],
    ]


def test_a_task_done_between_two_windows_moves_nothing(many):
    first = task_queue(user=many, today=today(), rows=3).section("overdue")
    task_complete(task=first.tasks[0], by=many, now=timezone.now())

    after = {"overdue": first.next}
    second = task_queue(user=many, today=today(), after=after, rows=3).section("overdue")

    everything = titles(task_queue(user=many, today=today(), rows=100).overdue)
    assert titles(second.tasks) == everything[2:5]  # the row after the last one seen
    assert (second.total, second.first_row, second.last_row) == (6, 4, 6)


def test_a_cursor_says_what_it_is_and_refuses_anything_else():
    cursor = QueueCursor(25, dt.date(2026, 11, 3), 1, 48213)
    assert str(cursor) == "25-20261103-1-48213"
    assert QueueCursor.parse(str(cursor)) == cursor
    for bad in ["", "25", "25-20261303-1-4", "x-20261103-1-4", "25-20261103-1-4;drop"]:
        with pytest.raises(ValueError, match="is not a position in the queue"):
            QueueCursor.parse(bad)


def test_the_plain_link_shows_the_next_window_with_a_way_back(client_as, many, settings):
    settings.VITALS_QUEUE_SECTION_ROWS = 3
    client = client_as(many)

    html = client.get("/tasks/").content.decode()
    assert '<span class="count-pill" id="count-overdue">7</span>' in html
    assert "3 of 7 overdue" in html
    link = re.search(r'href="(/tasks/\?overdue=[^"#]+)#overdue"', html)
    assert link is not None, html

    html = client.get(link.group(1)).content.decode()
    assert "4–6 of 7 overdue" in html
    assert "Back to the first" in html
    assert "Late 1" not in html  # the first window is not on this page
    assert "Late 2" in html
    assert "Today 0" in html and "Asleep 0" in html  # the other sections start at the top


def test_htmx_gets_just_the_next_rows_of_the_section(client_as, many, settings):
    settings.VITALS_QUEUE_SECTION_ROWS = 3
    client = client_as(many)
    html = client.get("/tasks/").content.decode()
    link = re.search(r'hx-get="(/tasks/\?overdue=[^"]+)"', html).group(1)

    response = client.get(link, **HTMX)

    fragment = response.content.decode()
    assert "<html" not in fragment and "<section" not in fragment
    assert fragment.count('class="task ') == 3
    assert "6 of 7 overdue" in fragment and "Back to the first" not in fragment
    assert 'id="more-overdue"' in fragment
    assert "Today 0" not in fragment
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize(
    "query",
    ["overdue=nonsense", "snoozed=1-2-3-4", "today=1-20261103-1-4&today=2-20261103-1-5"],
)
def test_a_bad_cursor_is_a_400_naming_the_parameter(client_as, many, query):
    response = client_as(many).get(f"/tasks/?{query}")

    assert response.status_code == 400
    key = query.split("=")[0]
    assert f"Parameter {key!r}" in response.content.decode()
