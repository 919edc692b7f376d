"""CSM tasks as people use them: the queue's buckets, complete, snooze, reassign, notes,
who may see which task, and an account's timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import Http404

from playbooks.models import Task
from playbooks.selectors import (
    account_task_rows,
    account_tasks,
    account_timeline,
    overdue_counts_by_assignee,
    task_counts,
    task_get_visible,
    task_queue,
    tasks_visible_to,
)
from playbooks.services import (
    PlaybookError,
    note_add,
    score_events_process,
    step_runs_due_execute,
    task_cancel,
    task_complete,
    task_create_manual,
    task_reassign,
    task_snooze,
)
from scoring.services import sentiment_record
from tests.factories import UserFactory
from tests.playbooks.builders import NOW, TODAY, healthy_then, make_playbook

pytestmark = pytest.mark.django_db


def add_task(account, title, due, **fields) -> Task:
    fields.setdefault("assignee", account.owner)
    return Task.objects.create(
        account=account, title=title, due_date=TODAY + dt.timedelta(days=due), **fields
    )


def titles(tasks) -> list[str]:
    return [t.title for t in tasks]


# --- The queue ---------------------------------------------------------------------------------


def test_alices_queue_in_four_sections_in_six_queries(book, alice, django_assert_num_queries):
    acme, borealis = book["alice"], book["bob"]
    add_task(acme, "Late renewal call", -3)
    add_task(acme, "Urgent today", 0, priority="urgent")
    add_task(acme, "Low today", 0, priority="low")
    add_task(acme, "Next week", 7)
    add_task(acme, "Unassigned on my account", 1, assignee=None)
    add_task(acme, "Snoozed to Friday", -1, status="snoozed", snoozed_until=TODAY + dt.timedelta(3))
    add_task(acme, "Snooze over", -5, status="snoozed", snoozed_until=TODAY)
    add_task(borealis, "Covering for Bob", 2, assignee=alice)
    add_task(acme, "Done already", -1, status="done")
    add_task(acme, "Given to Bob", 0, assignee=book["bob"].owner)

    # The totals, a window of each section, then the cards' accounts (owner and band).
    with django_assert_num_queries(6):
        queue = task_queue(user=alice, today=TODAY)
        assert [t.account.name for t in queue.today] == ["Acme Analytics"] * 3  # no more queries
        assert {str(t.account.owner) for t in queue.today} == {str(alice)}

    assert titles(queue.overdue) == ["Late renewal call"]
    assert titles(queue.today) == ["Urgent today", "Snooze over", "Low today"]
    assert titles(queue.upcoming) == ["Unassigned on my account", "Covering for Bob", "Next week"]
    assert titles(queue.snoozed) == ["Snoozed to Friday"]
    assert task_counts(user=alice, today=TODAY) == {
        "overdue": 1,
        "today": 3,
        "upcoming": 3,
        "snoozed": 1,
    }


def test_the_navigation_badge_reads_the_section_counts_a_request_has_read(
    book, alice, django_assert_num_queries
):
    from accounts.models import User
    from playbooks.selectors import tasks_due_count

    add_task(book["alice"], "late", -2)
    add_task(book["alice"], "today", 0)
    add_task(book["alice"], "later", 3)
    fresh = User.objects.get(pk=alice.pk)  # a request's user: nothing read yet
    with django_assert_num_queries(1):
        assert tasks_due_count(user=fresh, today=TODAY) == 2
    task_counts(user=fresh, today=TODAY)
    with django_assert_num_queries(0):
        assert tasks_due_count(user=fresh, today=TODAY) == 2
    with django_assert_num_queries(1):  # another day's counts are not these
        assert tasks_due_count(user=fresh, today=TODAY + dt.timedelta(days=3)) == 3


def test_overdue_counts_per_person_for_the_team_page(book, alice, bob, charlie):
    add_task(book["alice"], "a", -1)
    add_task(book["alice"], "b", -2)
    add_task(book["bob"], "c", -1, status="snoozed", snoozed_until=TODAY - dt.timedelta(1))
    add_task(book["bob"], "d", 0)
    add_task(book["charlie"], "e", -1, status="done")

    assert overdue_counts_by_assignee(users=[alice, bob, charlie], today=TODAY) == {
        alice.pk: 2,
        bob.pk: 1,
    }


# --- Complete, snooze, reassign, cancel ------------------------------------------------------


def test_completing_a_task_records_who_and_when_once(book, alice):
    task = add_task(book["alice"], "Call", 0)

    task_complete(task=task, by=alice, now=NOW)
    task_complete(task=task, by=book["bob"].owner, now=NOW + dt.timedelta(hours=1))

    task.refresh_from_db()
    assert (task.status, task.completed_by, task.completed_at) == ("done", alice, NOW)


def test_snoozing_hides_a_task_until_its_day(book, alice):
    task = add_task(book["alice"], "Call", 0)

    task_snooze(task=task, until=TODAY + dt.timedelta(days=2), by=alice, now=NOW)

    assert titles(task_queue(user=alice, today=TODAY).snoozed) == ["Call"]
    assert titles(task_queue(user=alice, today=TODAY + dt.timedelta(days=2)).today) == ["Call"]
    with pytest.raises(PlaybookError, match="Snooze until a day after today") as error:
        task_snooze(task=task, until=TODAY, by=alice, now=NOW)
    assert error.value.field == "until"


def test_reassigning_moves_the_task_to_the_other_queue(book, alice, bob):
    task = add_task(book["alice"], "Call", 0)

    task_reassign(task=task, to=bob, by=alice, now=NOW)

    assert titles(task_queue(user=bob, today=TODAY).today) == ["Call"]
    assert task_queue(user=alice, today=TODAY).total == 0
    gone = UserFactory(username="gone", is_active=False)
    with pytest.raises(PlaybookError, match="Choose an active user"):
        task_reassign(task=task, to=gone, by=alice, now=NOW)


def test_closed_tasks_cannot_be_snoozed_reassigned_or_revived(book, alice, bob):
    done = add_task(book["alice"], "Done", 0, status="done")
    cancelled = add_task(book["alice"], "Cancelled", 0)
    task_cancel(task=cancelled, by=alice, now=NOW)

    with pytest.raises(PlaybookError, match="This task is done; it cannot be snoozed"):
        task_snooze(task=done, until=TODAY + dt.timedelta(1), by=alice, now=NOW)
    with pytest.raises(PlaybookError, match="This task is cancelled; it cannot be reassigned"):
        task_reassign(task=cancelled, to=bob, by=alice, now=NOW)
    with pytest.raises(PlaybookError, match="This task was cancelled"):
        task_complete(task=cancelled, by=alice, now=NOW)
    with pytest.raises(PlaybookError, match="This task is done; it cannot be cancelled"):
        task_cancel(task=done, by=alice, now=NOW)


def test_a_manual_task_goes_to_the_owner_unless_told(book, alice, maggie):
    task = task_create_manual(
        account=book["alice"],
        title="  Prepare the QBR  ",
        due_date=TODAY,
        created_by=maggie,
        now=NOW,
        priority="high",
    )
    assert (task.title, task.assignee, task.created_by, task.is_manual) == (
        "Prepare the QBR",
        alice,
        maggie,
        True,
    )
    with pytest.raises(PlaybookError, match="Give the task a title") as error:
        task_create_manual(
            account=book["alice"], title=" ", due_date=TODAY, created_by=maggie, now=NOW
        )
    assert error.value.field == "title"
    with pytest.raises(PlaybookError, match="'asap' is not one of low, normal, high, urgent"):
        task_create_manual(
            account=book["alice"],
            title="x",
            due_date=TODAY,
            created_by=maggie,
            now=NOW,
            priority="asap",
        )


def test_notes_need_words_and_belong_to_the_tasks_account(book, alice):
    task = add_task(book["bob"], "Bob's task", 0)
    with pytest.raises(PlaybookError, match="Write something in the note"):
        note_add(account=book["alice"], author=alice, body="  ", now=NOW)
    with pytest.raises(PlaybookError, match="That task belongs to another account"):
        note_add(account=book["alice"], author=alice, body="Hi", task=task, now=NOW)
    note = note_add(account=book["alice"], author=alice, body=" Spoke to the CFO. ", now=NOW)
    assert (note.body, note.author, note.created_at) == ("Spoke to the CFO.", alice, NOW)


# --- Who sees which task -----------------------------------------------------------------------


def test_tasks_are_visible_as_their_accounts_are_and_to_their_assignee(
    book, alice, bob, charlie, maggie, mark, ada
):
    acme = add_task(book["alice"], "acme", 0)
    borealis = add_task(book["bob"], "borealis", 0)
    cobalt = add_task(book["charlie"], "cobalt", 0)
    favour = add_task(book["alice"], "acme, for Charlie", 0, assignee=charlie)

    seen = {
        user.username: set(titles(tasks_visible_to(user=user)))
        for user in (alice, bob, charlie, maggie, mark, ada)
    }

    assert seen == {
        "alice": {"acme", "acme, for Charlie"},
        "bob": {"borealis"},
        "charlie": {"cobalt", "acme, for Charlie"},
        "maggie": {"acme", "borealis", "acme, for Charlie"},
        "mark": {"cobalt"},
        "ada": {"acme", "borealis", "cobalt", "acme, for Charlie"},
    }
    assert task_get_visible(user=charlie, pk=favour.pk) == favour
    for user, task in [(alice, borealis), (mark, acme), (bob, cobalt)]:
        with pytest.raises(Http404):
            task_get_visible(user=user, pk=task.pk)
    with pytest.raises(Http404):
        task_get_visible(user=ada, pk="nope")


# --- The account's tasks and timeline ----------------------------------------------------------


def test_an_accounts_tasks_open_first(book):
    add_task(book["alice"], "Done", -5, status="done")
    add_task(book["alice"], "Later", 5)
    add_task(book["alice"], "Soon", 1)
    assert titles(account_tasks(account=book["alice"])) == ["Soon", "Later", "Done"]


def test_one_read_of_an_accounts_tasks_gives_the_list_and_the_timeline_what_they_showed(
    book, alice, django_assert_num_queries
):
    """More tasks than a window of each: the shared read holds the first ``limit`` of the
    list and the newest ``limit`` created, done and closed, as their own queries did."""
    acme = book["alice"]
    for n in range(12):
        status = ["open", "done", "cancelled", "snoozed"][n % 4]
        extra = {
            "done": {"completed_at": NOW - dt.timedelta(hours=n), "completed_by": alice},
            "cancelled": {"closed_at": NOW - dt.timedelta(hours=30 - n)},
        }.get(status, {})
        snooze = {"snoozed_until": TODAY + dt.timedelta(days=n)} if status == "snoozed" else {}
        task = add_task(
            acme, f"T{n}", 10 - n, status=status, priority=["low", "urgent"][n % 2], **snooze
        )
        Task.objects.filter(pk=task.pk).update(created_at=NOW - dt.timedelta(days=n % 5), **extra)
    with django_assert_num_queries(1):
        rows = account_task_rows(account=acme, limit=3)
    assert all(row.account is acme for row in rows)  # no query per row for its account

    first = Task.objects.filter(account=acme).order_by("status", "pk")
    ordered = sorted(  # the list's order, spelled out: active first, by day, priority, newest
        first,
        key=lambda t: (
            t.status not in Task.ACTIVE,
            t.snoozed_until if t.status == "snoozed" else t.due_date,
            {"urgent": 0, "high": 1, "normal": 2, "low": 3}[t.priority],
            -t.pk,
        ),
    )
    assert titles(account_tasks(account=acme, limit=3, rows=rows)) == titles(ordered[:3])
    assert titles(account_tasks(account=acme, limit=3)) == titles(ordered[:3])

    entries = account_timeline(account=acme, limit=50, tasks=account_task_rows(account=acme))
    alone = account_timeline(account=acme, limit=50)
    assert [(e.kind, e.title, e.at) for e in entries] == [(e.kind, e.title, e.at) for e in alone]
    created = Task.objects.filter(account=acme).order_by("-created_at", "-id")[:3]
    done = Task.objects.filter(account=acme, status="done").order_by("-completed_at", "-id")[:3]
    closed = Task.objects.filter(account=acme, status="cancelled").order_by("-closed_at", "-id")
    # The newest three of each kind, as their own queries read them, merged: the newest three.
    candidates = sorted(
        [(t.created_at, "task_created", t.pk) for t in created]
        + [(t.completed_at, "task_done", t.pk) for t in done]
        + [(t.closed_at, "task_closed", t.pk) for t in closed[:3]],
        reverse=True,
    )
    small = account_timeline(account=acme, limit=3, tasks=rows, sentiments=[])
    assert [(e.at, e.kind, e.obj.pk) for e in small] == candidates[:3]


def test_the_timeline_tells_the_accounts_story_newest_first(
    usage, book, alice, django_assert_max_num_queries
):
    acme = book["alice"]
    make_playbook(steps=[{"kind": "create_task", "task_title": "Call {account}"}])
    healthy_then(acme, 6)  # the band change is computed as of NOW
    score_events_process(now=NOW + dt.timedelta(minutes=1))
    step_runs_due_execute(now=NOW + dt.timedelta(minutes=1))
    task = Task.objects.get()
    task_complete(task=task, by=alice, now=NOW + dt.timedelta(hours=2))
    note_add(
        account=acme,
        author=alice,
        body="They lost their champion.",
        task=task,
        now=NOW + dt.timedelta(hours=3),
    )
    sentiment_record(
        account=acme, author=alice, value=2, note="Worried", at=NOW + dt.timedelta(hours=4)
    )

    # Seven sources: score events, runs, tasks, notes, sentiment, touches, renewal outcomes.
    with django_assert_max_num_queries(7):
        entries = account_timeline(account=acme)

    assert [(e.kind, e.title) for e in entries] == [
        ("sentiment", "CSM sentiment 2/5"),
        ("note", "Note (on “Call Acme Analytics”)"),
        ("task_done", "Task done: Call Acme Analytics"),
        ("playbook_run", "Playbook “Became At-risk” fired"),
        ("task_created", "Task created: Call Acme Analytics"),
        ("score_dropped", "Score dropped −60.0"),
        ("band_changed", "Band changed: Healthy → At-risk"),
    ]
    assert entries[2].actor == alice
    assert entries[-1].detail == "Score 90.0 → 30.0"
