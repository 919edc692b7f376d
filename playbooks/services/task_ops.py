"""What people do with tasks and notes: create, complete, snooze, reassign, cancel, note.

The pages and the API check access first (``playbooks.selectors.tasks_visible_to``) and
then call these. Completing a task tells the endpoints subscribed to ``task.completed``
exactly once (the delivery's idempotency key), however often it is clicked.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import QuerySet

from accounts.models import Account, User
from accounts.selectors import is_customer
from playbooks import matching
from playbooks.models import Note, Priority, Task
from playbooks.services.common import PlaybookError, TaskClosed
from playbooks.services.outbound import task_event_enqueue, task_events_enqueue
from playbooks.services.telling import task_given_notify, tasks_given_notify

TITLE_MAX = 200
NOTE_MAX = 10_000
CLOSED = Task.CLOSED


def _locked(task: Task) -> Task:
    """The task re-read under a row lock, so two clicks cannot both change it."""
    return (
        Task.objects.select_for_update(of=("self",))
        .select_related("account", "assignee", "origin_step_run__run__playbook")
        .get(pk=task.pk)
    )


@transaction.atomic
def task_create_manual(
    *,
    account: Account,
    title: str,
    due_date: dt.date,
    created_by: User | None,
    now: dt.datetime,
    assignee: User | None = None,
    description: str = "",
    priority: str = Priority.NORMAL,
    dispatch: bool = True,
) -> Task:
    """A task made by hand; it goes to ``assignee``, or else the account's owner."""
    title = (title or "").strip()
    if not title:
        raise PlaybookError("Give the task a title.", field="title")
    if len(title) > TITLE_MAX:
        raise PlaybookError(
            f"At most {TITLE_MAX} characters (this has {len(title)}).", field="title"
        )
    if priority not in Priority.values:
        raise PlaybookError(
            f"{priority!r} is not one of {', '.join(Priority.values)}.", field="priority"
        )
    if due_date is None:
        raise PlaybookError("Give the due date.", field="due_date")
    if assignee is not None and not assignee.is_active:
        raise PlaybookError(f"{assignee} is not an active user.", field="assignee")
    if not is_customer(account.churned_at, on=matching.local_today(now)):
        raise PlaybookError(
            f"{account.name} churned on {account.churned_at:%d %b %Y}; its work is closed.",
            field="account",
        )
    task = Task.objects.create(
        account=account,
        title=title,
        description=(description or "").strip(),
        priority=priority,
        due_date=due_date,
        assignee=assignee or account.owner,
        created_by=created_by,
        created_at=now,
    )
    task_event_enqueue(task=task, event="task.created", now=now, dispatch=dispatch)
    task_given_notify(task=task, by=created_by, now=now)
    return task


@transaction.atomic
def task_complete(*, task: Task, by: User | None, now: dt.datetime, dispatch: bool = True) -> Task:
    """Mark the task done (a second click changes nothing and sends nothing)."""
    task = _locked(task)
    if task.status == Task.Status.DONE:
        return task
    if task.status in (Task.Status.CANCELLED, Task.Status.RESOLVED):
        raise TaskClosed(
            f"This task was {task.get_status_display().lower()}"
            f"{f' ({task.close_reason})' if task.close_reason else ''}; it cannot be completed."
        )
    task.status = Task.Status.DONE
    task.snoozed_until = None
    task.completed_at = now
    task.completed_by = by
    task.save(update_fields=["status", "snoozed_until", "completed_at", "completed_by"])
    task_event_enqueue(task=task, event="task.completed", now=now, dispatch=dispatch)
    return task


@transaction.atomic
def task_snooze(*, task: Task, until: dt.date | None, by: User | None, now: dt.datetime) -> Task:
    """Hide the task from the queue until ``until``, when it comes back as due that day."""
    task = _locked(task)
    if task.status in CLOSED:
        raise TaskClosed(f"This task is {task.get_status_display().lower()}; it cannot be snoozed.")
    today = matching.local_today(now)
    if until is None or until <= today:
        raise PlaybookError("Snooze until a day after today.", field="until")
    task.status = Task.Status.SNOOZED
    task.snoozed_until = until
    task.save(update_fields=["status", "snoozed_until"])
    return task


@transaction.atomic
def task_reassign(*, task: Task, to: User, by: User | None, now: dt.datetime) -> Task:
    task = _locked(task)
    if task.status in CLOSED:
        raise TaskClosed(
            f"This task is {task.get_status_display().lower()}; it cannot be reassigned."
        )
    if to is None or not to.is_active:
        raise PlaybookError("Choose an active user to give the task to.", field="assignee")
    if task.assignee_id == to.pk:
        return task
    task.assignee = to
    task.save(update_fields=["assignee"])
    task_given_notify(task=task, by=by, now=now)
    return task


@transaction.atomic
def task_cancel(*, task: Task, by: User | None, now: dt.datetime) -> Task:
    task = _locked(task)
    if task.status in (Task.Status.DONE, Task.Status.RESOLVED):
        raise TaskClosed(
            f"This task is {task.get_status_display().lower()}; it cannot be cancelled."
        )
    task.status = Task.Status.CANCELLED
    task.snoozed_until = None
    task.closed_at = now
    task.save(update_fields=["status", "snoozed_until", "closed_at"])
    return task


def note_add(
    *,
    account: Account,
    author: User | None,
    body: str,
    now: dt.datetime,
    task: Task | None = None,
) -> Note:
    body = (body or "").strip()
    if not body:
        raise PlaybookError("Write something in the note.", field="body")
    if len(body) > NOTE_MAX:
        raise PlaybookError(
            f"At most {NOTE_MAX:,} characters (this has {len(body):,}).", field="body"
        )
    if task is not None and task.account_id != account.pk:
        raise PlaybookError("That task belongs to another account.", field="task")
    return Note.objects.create(account=account, author=author, body=body, task=task, created_at=now)


# --- Tasks on many accounts at once (the account list's bulk action) --------------------

# Accounts read and tasks inserted per round: memory stays flat on a large selection.
BULK_BATCH = 1000


@transaction.atomic
def tasks_create_manual_bulk(
    *,
    accounts: QuerySet[Account],
    title: str,
    due_date: dt.date,
    created_by: User | None,
    now: dt.datetime,
    description: str = "",
    priority: str = Priority.NORMAL,
    dispatch: bool = True,
) -> int:
    """``task_create_manual`` on each of ``accounts``, set-based; returns how many tasks.

    The same task as one by one — each goes to its account's owner (none for an account
    without one), the same checks and messages, one ``task.created`` per task to the
    subscribed endpoints — but the input is checked once, the accounts are read
    ``BULK_BATCH`` at a time with their owners (one query each), their tasks inserted
    in one statement and their events in one more (``task_events_enqueue``). All or
    nothing: it runs in one transaction. ``accounts`` must already be in the actor's
    scope; this does not look at who may see what.
    """
    fields = _manual_fields_checked(title=title, priority=priority, due_date=due_date)
    fields["description"] = (description or "").strip()
    created = 0
    rows = accounts.order_by("pk").values_list(
        "pk", "external_id", "name", "owner_id", "owner__username"
    )
    last = 0
    while batch := list(rows.filter(pk__gt=last)[:BULK_BATCH]):
        last = batch[-1][0]
        tasks = []
        for pk, external_id, name, owner_id, username in batch:
            task = Task(**fields, created_by=created_by, created_at=now)
            task.account = Account(pk=pk, external_id=external_id, name=name)
            task.assignee = None if owner_id is None else User(pk=owner_id, username=username)
            tasks.append(task)
        Task.objects.bulk_create(tasks)
        task_events_enqueue(tasks=tasks, event="task.created", now=now, dispatch=dispatch)
        tasks_given_notify(tasks=tasks, by=created_by, now=now)
        created += len(tasks)
    return created


def _manual_fields_checked(*, title: str, priority: str, due_date: dt.date) -> dict:
    """The fields every task of a bulk creation shares, checked as ``task_create_manual``
    checks them (its messages, its fields)."""
    title = (title or "").strip()
    problems = [
        ("title", not title, "Give the task a title."),
        ("title", len(title) > TITLE_MAX,
         f"At most {TITLE_MAX} characters (this has {len(title)})."),
        ("priority", priority not in Priority.values,
         f"{priority!r} is not one of {', '.join(Priority.values)}."),
        ("due_date", due_date is None, "Give the due date."),
    ]  # fmt: skip
    for field, wrong, message in problems:
        if wrong:
            raise PlaybookError(message, field=field)
    return {"title": title, "priority": priority, "due_date": due_date}
