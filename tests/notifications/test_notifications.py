"""Notifications: who is told of what (a task given to them, a task overdue, an account
gone worse, a playbook's note), once per occurrence, as each person chose; the bell, the
list, marking read, and the settings page. Another person's notification is 404."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from accounts.services import accounts_reassign
from notifications.models import Kind, Notification, NotificationSettings
from notifications.services import level_worse_notify, notification_settings_save
from playbooks.models import Task
from playbooks.services import overdue_notify, task_create_manual, task_reassign
from tests.factories import AccountFactory
from tests.playbooks.builders import score

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def d(day: dt.date) -> str:
    """A day as notifications write it: "3 Dec"."""
    return f"{day.day} {day:%b}"


def told(user, kind=None) -> list[str]:
    rows = Notification.objects.filter(user=user)
    if kind:
        rows = rows.filter(kind=kind)
    return list(rows.order_by("id").values_list("title", flat=True))


def make_task(account, *, by, to=None, title="Call them", due=2) -> Task:
    return task_create_manual(
        account=account,
        title=title,
        due_date=timezone.localdate() + dt.timedelta(days=due),
        created_by=by,
        assignee=to,
        now=timezone.now(),
    )


# --- Who is told of what ------------------------------------------------------------------


def test_a_task_given_to_someone_tells_them_and_not_the_giver(alice, bob, book):
    task = make_task(book["alice"], by=alice, to=bob, title="Cover the QBR")
    make_task(book["alice"], by=alice, title="My own")  # to herself: nothing to tell

    [title] = told(bob, Kind.TASK_ASSIGNED)
    due = d(task.due_date)
    assert title == f"Alice gave you “Cover the QBR” on Acme Analytics, due {due}"
    assert told(alice) == []
    note = Notification.objects.get(user=bob)
    assert note.url == f"/accounts/{book['alice'].pk}/#task-{task.pk}"
    assert note.read_at is None


def test_reassigning_tells_the_new_assignee_once(alice, bob, maggie, book):
    task = make_task(book["alice"], by=alice)
    task_reassign(task=task, to=bob, by=maggie, now=timezone.now())
    task_reassign(task=task, to=bob, by=maggie, now=timezone.now())  # already his
    assert told(bob) == [f"Maggie gave you “Call them” on Acme Analytics, due {d(task.due_date)}"]


def test_a_person_who_turned_a_kind_off_is_not_told_of_it(alice, bob, book):
    notification_settings_save(user=bob, fields={"kinds": [Kind.TASK_OVERDUE]})
    make_task(book["alice"], by=alice, to=bob)
    assert told(bob) == []


def test_overdue_tasks_are_told_once_each_to_their_person_and_watching_managers(
    alice, bob, maggie, mark, book
):
    today = timezone.localdate()
    late = Task.objects.create(
        account=book["alice"], title="Late", assignee=alice, due_date=today - dt.timedelta(days=1)
    )
    Task.objects.create(  # nobody assigned: the owner is told
        account=book["bob"], title="Unassigned", due_date=today - dt.timedelta(days=2)
    )
    Task.objects.create(  # too long ago to be news
        account=book["alice"],
        title="Ancient",
        assignee=alice,
        due_date=today - dt.timedelta(days=30),
    )
    Task.objects.create(account=book["alice"], title="Today", assignee=alice, due_date=today)
    notification_settings_save(user=maggie, fields={"scope": "team"})  # Mark keeps "mine"

    overdue_notify(now=timezone.now())
    overdue_notify(now=timezone.now())  # the hourly job again: nobody is told twice

    yesterday = d(today - dt.timedelta(days=1))
    assert told(alice) == [f"“Late” on Acme Analytics is overdue (due {yesterday})"]
    assert told(bob) == [
        f"“Unassigned” on Borealis Bank is overdue (due {d(today - dt.timedelta(days=2))})"
    ]
    assert len(told(maggie)) == 2  # her team's, as she asked
    assert told(mark) == []
    # A snooze that ends and falls overdue again is a new occurrence.
    Task.objects.filter(pk=late.pk).update(
        status="snoozed",
        snoozed_until=today - dt.timedelta(days=1),
        due_date=today - dt.timedelta(days=5),
    )
    overdue_notify(now=timezone.now())
    assert len(told(alice)) == 1  # same due day (the snooze's): the same occurrence


def test_an_account_gone_worse_tells_its_owner_once(alice, maggie, book, usage):
    account = book["alice"]
    better = AccountFactory(name="Better Co", owner=alice)
    now = timezone.now()
    score([account, better], 12, at=now - dt.timedelta(days=1, hours=2))  # 60: Neutral
    score([account], 4, at=now - dt.timedelta(hours=2))  # 20: At-risk
    score([better], 18, at=now - dt.timedelta(hours=2))  # 90: Healthy (better: no news)
    notification_settings_save(user=maggie, fields={"scope": "team"})

    level_worse_notify(now=now)
    level_worse_notify(now=now)

    assert told(alice) == ["Acme Analytics is now At-risk (was Neutral) · score 20"]
    assert told(maggie) == told(alice)
    assert Notification.objects.get(user=alice).url == account.get_absolute_url()


def test_a_playbook_task_and_its_later_note_tell_the_assignee(alice, book, usage):
    from playbooks.services import (
        playbook_save,
        score_events_process_all,
        state_triggers_evaluate,
        step_runs_due_execute,
    )
    from tests.playbooks.builders import task_step

    start = timezone.now() - dt.timedelta(days=3)
    playbook_save(
        playbook=None,
        fields={
            "name": "Below 40",
            "trigger": "score_below",
            "score_threshold": 40,
            "cooldown_days": 0,
            "is_active": True,
        },
        steps=[task_step("Call {account}")],
        now=start - dt.timedelta(days=30),
    )
    for day in range(2):
        at = start + dt.timedelta(days=day)
        score(book["alice"], 6, at=at)
        score_events_process_all(now=at + dt.timedelta(minutes=5), dispatch=False)
        state_triggers_evaluate(now=at + dt.timedelta(minutes=5), dispatch=False)
        step_runs_due_execute(now=at + dt.timedelta(minutes=5))

    task = Task.objects.get()
    assert told(alice, Kind.TASK_ASSIGNED) == [
        f"“Below 40” gave you “Call Acme Analytics” on Acme Analytics, due {d(task.due_date)}"
    ]
    [note] = told(alice, Kind.PLAYBOOK_NOTE)
    assert note.startswith("On “Call Acme Analytics” (Acme Analytics): Triggered again on")


# --- Pages --------------------------------------------------------------------------------


def test_the_bell_counts_unread_and_the_list_opens_each(client_as, alice, bob, book):
    for n in range(3):
        make_task(book["alice"], by=alice, to=bob, title=f"T{n}")
    client = client_as(bob)
    home = client.get("/").content.decode()
    assert '<span class="nav-badge" id="bell-count">3</span>' in home

    inbox = client.get(reverse("notifications:inbox")).content.decode()
    first = Notification.objects.filter(user=bob).order_by("-id").first()
    assert inbox.index("T2") < inbox.index("T1") < inbox.index("T0")  # newest first
    response = client.get(reverse("notifications:open", args=[first.pk]))
    assert response.status_code == 302
    assert response["Location"] == first.url
    assert client.get(first.url.split("#")[0]).status_code == 200  # work given opens the page
    assert '<span class="nav-badge" id="bell-count">2</span>' in client.get("/").content.decode()


def test_mark_read_one_in_place_then_all(client_as, alice, bob, book):
    for n in range(2):
        make_task(book["alice"], by=alice, to=bob, title=f"T{n}")
    client = client_as(bob)
    one = Notification.objects.filter(user=bob).first()
    response = client.post(reverse("notifications:read", args=[one.pk]), **HTMX)
    html = response.content.decode()
    assert f'id="notification-{one.pk}"' in html and "Mark read" not in html
    assert 'id="nav-bell" hx-swap-oob="true"' in html
    assert '<span class="nav-badge" id="bell-count">1</span>' in html

    response = client.post(reverse("notifications:read_all"))
    assert response.status_code == 302
    assert Notification.objects.filter(user=bob, read_at__isnull=True).count() == 0
    assert "Marked 1 notification read." in client.get(response["Location"]).content.decode()


def test_another_persons_notification_is_404_and_stays_unread(client_as, alice, bob, book):
    make_task(book["alice"], by=alice, to=bob)
    theirs = Notification.objects.get(user=bob)
    client = client_as(alice)
    assert client.get(reverse("notifications:open", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("notifications:read", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("notifications:read_all")).status_code == 302
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_older_notifications_a_page_at_a_time(client_as, alice, bob, book, monkeypatch):
    monkeypatch.setattr("notifications.selectors.PAGE", 2)
    for n in range(5):
        make_task(book["alice"], by=alice, to=bob, title=f"Task {n}")
    client = client_as(bob)
    first = client.get(reverse("notifications:inbox")).content.decode()
    assert "Task 4" in first and "Task 3" in first and "Task 2" not in first
    link = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = client.get(link).content.decode()
    assert "Task 2" in second and "Task 1" in second and "Task 3" not in second
    assert client.get(reverse("notifications:inbox"), {"before": "x"}).status_code == 400


def test_the_settings_page_saves_and_names_a_bad_field(client_as, alice):
    client = client_as(alice)
    url = reverse("notifications:settings")
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {"kinds": ["task_assigned"], "scope": "mine", "digest_hour": "25", "time_zone": "UTC"},
    )
    assert response.status_code == 200
    assert "Ensure this value is less than or equal to 23." in response.content.decode()
    assert not NotificationSettings.objects.exists()

    response = client.post(
        url,
        {
            "kinds": ["task_assigned", "level_worse"],
            "scope": "mine",
            "digest": "on",
            "digest_hour": "7",
            "time_zone": "Europe/Berlin",
        },
    )
    assert response.status_code == 302
    saved = NotificationSettings.objects.get(user=alice)
    assert (saved.kinds, saved.digest, saved.digest_hour, saved.time_zone) == (
        ["task_assigned", "level_worse"],
        True,
        7,
        "Europe/Berlin",
    )


@pytest.mark.parametrize("url_name", ["notifications:inbox", "notifications:settings"])
def test_anonymous_visitors_are_sent_to_log_in(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_every_schedule_names_a_job_the_workers_know(db):
    """The migrations schedule the notification jobs and the digests; each schedule's
    task is one the Celery app has registered (a typo would never run)."""
    from django_celery_beat.models import PeriodicTask

    from config.celery import app

    app.loader.import_default_modules()
    schedules = dict(PeriodicTask.objects.values_list("task", "interval__every"))
    assert schedules["notifications.tasks.notify_score_events"] == 1
    assert schedules["playbooks.tasks.notify_overdue_tasks"] == 1
    assert schedules["workspace.tasks.send_digests"] == 15
    unknown = set(schedules) - set(app.tasks)
    assert not unknown, unknown


def test_a_task_on_each_of_a_selection_tells_each_owner(alice, bob, maggie, book):
    from accounts.models import Account
    from playbooks.services.task_ops import tasks_create_manual_bulk

    made = tasks_create_manual_bulk(
        accounts=Account.objects.filter(pk__in=[book["alice"].pk, book["bob"].pk]),
        title="Quarterly check",
        due_date=timezone.localdate() + dt.timedelta(days=3),
        created_by=maggie,
        now=timezone.now(),
    )
    assert made == 2
    assert [t.split(" on ")[1] for t in told(alice) + told(bob)] == [
        "Acme Analytics, due " + d(timezone.localdate() + dt.timedelta(days=3)),
        "Borealis Bank, due " + d(timezone.localdate() + dt.timedelta(days=3)),
    ]
    assert all(t.startswith("Maggie gave you “Quarterly check”") for t in told(alice) + told(bob))
    assert told(maggie) == []


def test_accounts_handed_over_tell_their_new_owner_once(alice, bob, maggie, book):
    now = timezone.now()
    accounts_reassign(
        accounts=Account.objects.filter(pk=book["alice"].pk), to=bob, by=maggie, now=now
    )
    [one] = Notification.objects.filter(user=bob, kind=Kind.ACCOUNTS_GIVEN)
    assert (one.title, one.url) == (
        "Maggie gave you Acme Analytics",
        book["alice"].get_absolute_url(),
    )
    assert one.account_id == book["alice"].pk

    AccountFactory.create_batch(3, owner=bob, segment="mid_market")
    accounts_reassign(
        accounts=Account.objects.filter(segment="mid_market"), to=alice, by=maggie, now=now
    )
    assert told(alice, Kind.ACCOUNTS_GIVEN) == ["Maggie gave you 3 accounts"]
    assert Notification.objects.get(user=alice).url == reverse("accounts:list")
    accounts_reassign(accounts=Account.objects.filter(owner=alice), to=maggie, by=maggie, now=now)
    assert told(maggie) == []  # took them herself: nothing to tell
    notification_settings_save(user=bob, fields={"kinds": [Kind.TASK_OVERDUE]})
    accounts_reassign(accounts=Account.objects.filter(owner=maggie), to=bob, by=maggie, now=now)
    assert len(told(bob, Kind.ACCOUNTS_GIVEN)) == 1  # turned off: only the first


def test_the_hourly_jobs_on_a_real_worker(celery_worker_process, alice, book, usage):
    """The two notification jobs, each sent twice as by two beat processes, on real
    workers: each occurrence told once."""
    from notifications import tasks as notification_tasks
    from playbooks import tasks as playbook_tasks
    from tests.workers import wait_for

    now = timezone.now()
    score(book["alice"], 12, at=now - dt.timedelta(days=1))  # 60: Neutral
    score(book["alice"], 4, at=now - dt.timedelta(hours=1))  # 20: At-risk
    Task.objects.create(
        account=book["alice"], title="Late", assignee=alice,
        due_date=timezone.localdate() - dt.timedelta(days=1),
    )  # fmt: skip
    celery_worker_process.start(concurrency=2)
    for _ in range(2):
        notification_tasks.notify_score_events.delay()
        playbook_tasks.notify_overdue_tasks.delay()
    wait_for(
        lambda: Notification.objects.filter(user=alice).count() >= 2,
        timeout=60,
        message=f"two notifications; worker logs:\n{celery_worker_process.logs()}",
    )
    wait_for(
        lambda: celery_worker_process.logs().count(" succeeded in ") >= 4,
        timeout=60,
        message="the duplicate messages to be handled",
    )
    assert sorted(Notification.objects.filter(user=alice).values_list("kind", flat=True)) == [
        "level_worse",
        "task_overdue",
    ]


def test_an_admin_sets_a_persons_notifications_in_admin(client_as, ada, alice):
    client = client_as(ada)
    url = "/admin/notifications/notificationsettings/add/"
    page = client.get(url).content.decode()
    assert 'type="checkbox" name="kinds" value="task_overdue"' in page
    response = client.post(
        url,
        {"user": alice.pk, "kinds": ["task_overdue"], "scope": "mine", "digest": "on",
         "digest_hour": "9", "time_zone": "Europe/Paris"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = NotificationSettings.objects.get(user=alice)
    assert (saved.kinds, saved.digest, saved.digest_hour, saved.time_zone) == (
        ["task_overdue"],
        True,
        9,
        "Europe/Paris",
    )
