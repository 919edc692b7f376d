"""Which tasks a person (or a token) may see and act on, their queue and counts, who
they may give tasks to, and an account's tasks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone

from accounts.models import Account, ApiToken, User
from accounts.selectors import (
    account_get_visible,
    account_scope_q,
    customers_q,
)
from playbooks.models import PRIORITY_RANK, Task

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

ACTIVE = (Task.Status.OPEN, Task.Status.SNOOZED)


def _priority_rank() -> Case:
    return Case(
        *(When(priority=p, then=Value(rank)) for p, rank in PRIORITY_RANK.items()),
        default=Value(9),
        output_field=IntegerField(),
    )


class _Ordered(TypedDict):
    """What ``_queue_tasks`` and ``account_tasks`` add to each task."""

    when: dt.date
    rank: int


def _when() -> Case:
    """The day a task is due in the queue: a snoozed task's wake-up day, else its due date."""
    return Case(When(status=Task.Status.SNOOZED, then=F("snoozed_until")), default=F("due_date"))


def tasks_visible_to(*, user: User, queryset: QuerySet[Task] | None = None) -> QuerySet[Task]:
    """Tasks on accounts in ``user``'s scope, and tasks assigned to ``user``."""
    qs = Task.objects.all() if queryset is None else queryset
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    scope = account_scope_q(user=user)
    if scope is None:
        return qs
    in_scope = Account.objects.filter(scope).values("pk")
    return qs.filter(Q(account__in=in_scope) | Q(assignee=user))


def tasks_visible_to_token(
    *, token: ApiToken, queryset: QuerySet[Task] | None = None
) -> QuerySet[Task]:
    """What an API token reaches: its user's tasks (``tasks_visible_to``), or every task
    for a token without a user."""
    if token.user is None:
        return Task.objects.all() if queryset is None else queryset
    return tasks_visible_to(user=token.user, queryset=queryset)


def task_get_visible_to_token(*, token: ApiToken, pk: int, queryset: QuerySet[Task]) -> Task:
    """The task ``pk`` if ``token`` reaches it; Http404 otherwise (never 403)."""
    try:
        return tasks_visible_to_token(token=token, queryset=queryset).get(pk=pk)
    except (Task.DoesNotExist, ValueError, TypeError):
        raise Http404("No such task.") from None


def account_get_for_work(
    *, user: User, pk: int, queryset: QuerySet[Account] | None = None
) -> tuple[Account, bool]:
    """The account ``pk`` if ``user`` may see it, or if work on it was given to them (a
    task assigned to them, whoever owns the account): ``(account, in_scope)``. Http404
    otherwise, exactly as for a missing account. Work given to someone lets them open
    the account page to do it; it does not put the account in their book."""
    try:
        return account_get_visible(user=user, pk=pk, queryset=queryset), True
    except Http404:
        pass
    if user.is_authenticated and user.is_active:
        qs = Account.objects.all() if queryset is None else queryset
        account = qs.filter(pk=pk, tasks__assignee=user).distinct().first()
        if account is not None:
            return account, False
    raise Http404("No such account.")


def task_get_visible(*, user: User, pk: int, queryset: QuerySet[Task] | None = None) -> Task:
    """The task ``pk`` if ``user`` may see it; Http404 otherwise (never 403)."""
    qs = queryset if queryset is not None else Task.objects.select_related("account", "assignee")
    try:
        return tasks_visible_to(user=user, queryset=qs).get(pk=pk)
    except (Task.DoesNotExist, ValueError, TypeError):
        raise Http404("No such task.") from None


def _queue_tasks(
    *, user: User, today: dt.date | None = None
) -> QuerySet[WithAnnotations[Task, _Ordered]]:
    """A person's own open and snoozed tasks: assigned to them, or unassigned on an
    account they own; not on accounts that have churned (their work is closed)."""
    today = today or timezone.localdate()
    return (
        Task.objects.filter(status__in=ACTIVE)
        .filter(customers_q(on=today, prefix="account__"))
        .filter(Q(assignee=user) | Q(assignee__isnull=True, account__owner=user))
        .annotate(when=_when(), rank=_priority_rank())
    )


@dataclass
class TaskQueue:
    overdue: list[Task] = field(default_factory=list)
    today: list[Task] = field(default_factory=list)
    upcoming: list[Task] = field(default_factory=list)
    snoozed: list[Task] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.overdue) + len(self.today) + len(self.upcoming) + len(self.snoozed)


def task_queue(*, user: User, today: dt.date) -> TaskQueue:
    """``user``'s queue in four buckets, in one query: overdue, due today, upcoming and
    snoozed. A snoozed task comes back on its wake-up day as due that day. Each bucket is
    ordered by day, then priority (urgent first). Tasks carry ``account``, ``assignee``
    and their playbook (``origin_step_run.run.playbook``) without further queries."""
    queue = TaskQueue()
    tasks = (
        _queue_tasks(user=user, today=today)
        .select_related("account", "assignee", "origin_step_run__run__playbook")
        .order_by("when", "rank", "id")
    )
    for task in tasks:
        snoozed_until = task.snoozed_until
        if task.status == Task.Status.SNOOZED and snoozed_until and snoozed_until > today:
            queue.snoozed.append(task)
        elif task.when < today:
            queue.overdue.append(task)
        elif task.when == today:
            queue.today.append(task)
        else:
            queue.upcoming.append(task)
    return queue


def task_counts(*, user: User, today: dt.date) -> dict[str, int]:
    """The sizes of ``user``'s queue buckets (for the home page), in one query."""
    awake = Q(status=Task.Status.OPEN) | Q(status=Task.Status.SNOOZED, snoozed_until__lte=today)
    return _queue_tasks(user=user, today=today).aggregate(
        overdue=Count("pk", filter=awake & Q(when__lt=today)),
        today=Count("pk", filter=awake & Q(when=today)),
        upcoming=Count("pk", filter=awake & Q(when__gt=today)),
        snoozed=Count("pk", filter=Q(status=Task.Status.SNOOZED, snoozed_until__gt=today)),
    )


def overdue_counts_by_assignee(*, users, today: dt.date) -> dict[int, int]:
    """Overdue tasks per person (for the team page), in one query: ``{user id: count}``
    for each of ``users`` (ids or users) that has any."""
    ids = [u if isinstance(u, int) else u.pk for u in users]
    rows = (
        Task.objects.filter(assignee_id__in=ids)
        .filter(
            Q(status=Task.Status.OPEN, due_date__lt=today)
            | Q(status=Task.Status.SNOOZED, snoozed_until__lt=today)
        )
        .values("assignee_id")
        .annotate(n=Count("pk"))
    )
    return {row["assignee_id"]: row["n"] for row in rows}


# What a task card and a timeline entry show of a task, loaded with it.
ACCOUNT_TASK_RELATED = ("assignee", "created_by", "completed_by", "origin_step_run__run__playbook")


def _closed() -> Case:
    """0 for an open or snoozed task, 1 for a closed one: the account's work comes first."""
    return Case(
        When(status__in=ACTIVE, then=Value(0)), default=Value(1), output_field=IntegerField()
    )


_RANK_OF: dict[str, int] = {priority.value: rank for priority, rank in PRIORITY_RANK.items()}


def _account_tasks_key(task: Task) -> tuple:
    """``account_tasks``'s order in Python: open and snoozed first, by day, priority, newest."""
    when = task.snoozed_until if task.status == Task.Status.SNOOZED else task.due_date
    closed = 0 if task.status in ACTIVE else 1
    return (closed, when, _RANK_OF.get(task.priority, 9), -task.pk)


def account_task_rows(*, account: Account, limit: int = 50) -> list[Task]:
    """In one query, every task of ``account`` that its page shows: the first ``limit`` of
    ``account_tasks`` and the newest ``limit`` created, done and closed ones of its
    timeline (``account_timeline``), at most four times ``limit`` rows, each with
    ``ACCOUNT_TASK_RELATED`` and the account itself (no query per row). Pass them to
    both as ``rows``/``tasks``."""
    # Through the account's manager, so that each task's ``account`` is ``account``.
    mine = account.tasks.all()
    first = mine.annotate(closed=_closed(), when=_when(), rank=_priority_rank()).order_by(
        "closed", "when", "rank", "-id"
    )
    created = mine.order_by("-created_at", "-id")
    done = mine.filter(status=Task.Status.DONE, completed_at__isnull=False).order_by(
        "-completed_at", "-id"
    )
    closed = mine.filter(
        status__in=[Task.Status.RESOLVED, Task.Status.CANCELLED], closed_at__isnull=False
    ).order_by("-closed_at", "-id")
    wanted = Q()
    for part in (first, created, done, closed):
        wanted |= Q(pk__in=part.values("pk")[:limit])
    return list(mine.filter(wanted).select_related(*ACCOUNT_TASK_RELATED).order_by())


def account_tasks(
    *, account: Account, limit: int = 50, rows: list[Task] | None = None
) -> list[Task]:
    """An account's tasks: open and snoozed first (by day), then the latest closed ones.
    ``rows`` (``account_task_rows``, shared with the timeline) saves the query."""
    if rows is None:
        rows = account_task_rows(account=account, limit=limit)
    return sorted(rows, key=_account_tasks_key)[:limit]


def _awake_due_q(today: dt.date) -> Q:
    """Open tasks due by ``today`` and snoozed tasks whose wake-up day has come."""
    return Q(status=Task.Status.OPEN, due_date__lte=today) | Q(
        status=Task.Status.SNOOZED, snoozed_until__lte=today
    )


def tasks_due(*, user: User, today: dt.date, limit: int = 5) -> list[Task]:
    """The first ``limit`` of ``user``'s overdue and due-today tasks (for the home page),
    oldest day first, then by priority; in one query."""
    return list(
        _queue_tasks(user=user, today=today)
        .filter(_awake_due_q(today))
        .select_related("account", "origin_step_run__run__playbook")
        .order_by("when", "rank", "id")[:limit]
    )


def tasks_due_count(*, user: User, today: dt.date) -> int:
    """How many of ``user``'s tasks are overdue or due today (the navigation badge)."""
    return _queue_tasks(user=user, today=today).filter(_awake_due_q(today)).count()


def task_assignees_for(*, user: User) -> QuerySet[User]:
    """Whom ``user`` may hand a task to: an admin anyone active; a manager the members
    of the teams they manage and themselves; a CSM their team-mates, their teams'
    managers and themselves."""
    people = User.objects.filter(is_active=True)
    if not user.is_authenticated or not user.is_active:
        return people.none()
    if user.is_admin:
        return people.order_by("first_name", "username")
    if user.is_manager:
        scope = Q(teams__managers=user)
    else:
        scope = Q(teams__members=user) | Q(managed_teams__members=user)
    return people.filter(scope | Q(pk=user.pk)).distinct().order_by("first_name", "username")
