"""What the task services tell people in the app (``notifications``): a task given to
them (made for them, by a person or a playbook, or reassigned to them), a task of theirs
overdue (``overdue_notify``, hourly), and a playbook's note on their task. Each
occurrence has its own key, so a producer that runs again tells no one twice."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q

from accounts.models import User
from accounts.selectors import customers_q
from notifications.models import Kind
from notifications.services import Draft, notify, notify_watched
from playbooks import matching
from playbooks.models import Note, Task, queue_day

# Tasks that fell overdue up to this many days ago are still told of (once each), so a
# job that was down for a while catches up.
OVERDUE_LOOKBACK = 7


def day(value: dt.date) -> str:
    """A day as the pages write it: "3 Dec"."""
    return f"{value.day} {value:%b}"


def task_url(task: Task) -> str:
    return f"{task.account.get_absolute_url()}#task-{task.pk}"


def _account_name(task: Task) -> str:
    return task.account.name


def task_given_notify(*, task: Task, by: User | str | None, now: dt.datetime) -> None:
    """Tell ``task``'s assignee it was given to them, unless they gave it themselves.
    ``by``: the person, or the playbook's name."""
    tasks_given_notify(tasks=[task], by=by, now=now)


def tasks_given_notify(*, tasks: list[Task], by: User | str | None, now: dt.datetime) -> None:
    """``task_given_notify`` for many tasks at once (a bulk creation): one insert. Each
    task needs its ``account`` (name and pk) loaded."""
    who = f"“{by}”" if isinstance(by, str) else str(by or "Someone")
    stamp = int(now.timestamp() * 1000)
    notify(
        drafts=[
            Draft(
                user_id=task.assignee_id,
                kind=Kind.TASK_ASSIGNED,
                title=f"{who} gave you “{task.title}” on {_account_name(task)}, due "
                f"{day(task.due_date)}",
                url=task_url(task),
                key=f"task:{task.pk}:to:{task.assignee_id}:{stamp}",
                account_id=task.account_id,
            )
            for task in tasks
            if task.assignee_id is not None
            and not (isinstance(by, User) and by.pk == task.assignee_id)
        ],
        now=now,
    )


def playbook_note_notify(*, note: Note, task: Task, now: dt.datetime) -> None:
    """Tell ``task``'s assignee (or the account's owner) of a playbook's note on it."""
    person = task.assignee_id or task.account.owner_id
    if person is None:
        return
    text = note.body if len(note.body) <= 120 else note.body[:119] + "…"
    notify(
        drafts=[
            Draft(
                user_id=person,
                kind=Kind.PLAYBOOK_NOTE,
                title=f"On “{task.title}” ({_account_name(task)}): {text}",
                url=task_url(task),
                key=f"note:{note.pk}",
                account_id=task.account_id,
            )
        ],
        now=now,
    )


def overdue_notify(*, now: dt.datetime, batch: int = 2000) -> int:
    """Tell each open task's person (its assignee, or its account's owner when nobody is
    assigned) and the managers watching their team, once per task and due day, when it
    has fallen overdue — within the last ``OVERDUE_LOOKBACK`` days."""
    today = matching.local_today(now)
    tasks = (
        Task.objects.filter(status__in=Task.ACTIVE)
        .filter(customers_q(on=today, prefix="account__"))
        .annotate(when=queue_day())
        .filter(when__lt=today, when__gte=today - dt.timedelta(days=OVERDUE_LOOKBACK))
        .filter(Q(assignee__isnull=False) | Q(account__owner__isnull=False))
        .select_related("account")
        .order_by("pk")
    )
    drafts = (
        Draft(
            user_id=task.assignee_id or task.account.owner_id,
            kind=Kind.TASK_OVERDUE,
            title=f"“{task.title}” on {_account_name(task)} is overdue (due {day(task.when)})",
            url=task_url(task),
            key=f"task:{task.pk}:overdue:{task.when:%Y%m%d}",
            account_id=task.account_id,
        )
        for task in tasks.iterator(chunk_size=batch)
    )
    return notify_watched(drafts=drafts, now=now, batch=batch)
