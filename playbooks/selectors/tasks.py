"""Which tasks a person (or a token) may see and act on, their queue and counts, who
they may give tasks to, and an account's tasks."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from django.conf import settings
from django.db import connections
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.http import Http404

from accounts.models import Account, ApiToken, User
from accounts.selectors import (
    account_get_visible,
    customers_q,
    owner_scope_q,
    team_member_ids,
)
from config.prepared import Prepared
from notifications.selectors import unread_arm, unread_known
from playbooks.models import PRIORITY_RANK, Task, priority_rank, queue_day

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

ACTIVE = (Task.Status.OPEN, Task.Status.SNOOZED)


class _Ordered(TypedDict):
    """What the queue's selectors and ``account_tasks`` add to each task."""

    when: dt.date
    rank: int


def tasks_visible_to(*, user: User, queryset: QuerySet[Task] | None = None) -> QuerySet[Task]:
    """Tasks on accounts in ``user``'s scope, and tasks assigned to ``user``."""
    qs = Task.objects.all() if queryset is None else queryset
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    # The scope over the task's account, joined: a search of a manager's tasks then
    # starts from the tasks that match and checks each one's account (3.8–7.3 ms on the
    # benchmark's 1,000,000 accounts), where an IN over the 50,144 accounts of their
    # scope built that set first (123–181 ms).
    scope = owner_scope_q(user=user, field="account__owner")
    if scope is None:
        return qs
    return qs.filter(scope | Q(assignee=user))


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
    qs = (
        queryset
        if queryset is not None
        else Task.objects.select_related("account", "assignee", *CARD_ACCOUNT_RELATED)
    )
    try:
        return tasks_visible_to(user=user, queryset=qs).get(pk=pk)
    except (Task.DoesNotExist, ValueError, TypeError):
        raise Http404("No such task.") from None


@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters: a due window (``overdue``, ``today``: due by today, ``week``
    and ``month``: due within 7 or 30 days), a priority, an origin (``playbook`` or
    ``manual``) and the account's risk level (``unscored``: not scored yet). Empty is
    everything."""

    due: str = ""
    priority: str = ""
    origin: str = ""
    level: str = ""

    WINDOW_DAYS = {"today": 0, "week": 7, "month": 30}
    UNSCORED = "unscored"

    def __bool__(self) -> bool:
        return any((self.due, self.priority, self.origin, self.level))

    def q(self, today: dt.date) -> Q:
        """The filters over tasks annotated with ``when`` (``queue_day``)."""
        q = Q()
        if self.due == "overdue":
            q &= Q(when__lt=today)
        elif self.due in self.WINDOW_DAYS:
            q &= Q(when__lte=today + dt.timedelta(days=self.WINDOW_DAYS[self.due]))
        elif self.due:
            raise ValueError(f"No due window {self.due!r}.")
        if self.priority:
            q &= Q(priority=self.priority)
        if self.origin:
            q &= Q(origin_step_run__isnull=self.origin == "manual")
        if self.level == self.UNSCORED:
            q &= Q(account__health__isnull=True) | Q(account__health__level="")
        elif self.level:
            q &= Q(account__health__level=self.level)
        return q


def queue_arms(
    *, user: User, today: dt.date, filters: QueueFilters | None = None
) -> tuple[QuerySet[WithAnnotations[Task, _Ordered]], QuerySet[WithAnnotations[Task, _Ordered]]]:
    """A person's own open and snoozed tasks, not on accounts that have churned (their
    work is closed), as two disjoint sets: those assigned to them, and the unassigned ones
    on accounts they own. Apart, each is read from an index (``task_queue_day`` walked in
    the queue's order, ``task_unassigned_active`` from their accounts); as one ``OR`` the
    planner could do neither. ``filters`` narrow both."""
    active = (
        Task.objects.filter(status__in=ACTIVE)
        .filter(customers_q(on=today, prefix="account__"))
        .annotate(when=queue_day(), rank=priority_rank())
    )
    if filters:
        active = active.filter(filters.q(today))
    return active.filter(assignee=user), active.filter(assignee__isnull=True, account__owner=user)


# The queue's sections, in the order the page shows them.
QUEUE_SECTIONS = (
    ("overdue", "Overdue"),
    ("today", "Due today"),
    ("upcoming", "Upcoming"),
    ("snoozed", "Snoozed"),
)
_QUEUE_ORDER = ("when", "rank", "id")
# A card shows its account's ARR, band, renewal and owner.
CARD_ACCOUNT_RELATED = ("account__owner", "account__health__band")
# The queue's windows read their tasks with these only: more joins would cost the windows
# their walk along task_queue_day (tests/playbooks/test_queue_indexes.py), so the
# accounts, with their owners and bands, come after, in one read for every section
# (cards_complete).
_QUEUE_RELATED = ("assignee", "origin_step_run__run__playbook")
# A card redrawn alone after an action: everything in one read.
CARD_RELATED = ("account", *_QUEUE_RELATED, *CARD_ACCOUNT_RELATED)


def cards_complete(tasks: list[Task]) -> None:
    """Give ``tasks`` their accounts with owner and latest band, in one query."""
    ids = {task.account_id for task in tasks}
    if not ids:
        return
    accounts = Account.objects.select_related("owner", "health__band").in_bulk(ids)
    for task in tasks:
        task.account = accounts[task.account_id]


def section_q(key: str, today: dt.date) -> tuple[Q, tuple[str, ...]]:
    """The tasks of section ``key`` among a person's active ones (annotated with ``when``)
    and the statuses they may have. A snoozed task comes back on its wake-up day as due
    that day."""
    if key == "overdue":
        return Q(when__lt=today), ACTIVE
    if key == "today":
        return Q(when=today), ACTIVE
    if key == "upcoming":
        return Q(when__gt=today), (Task.Status.OPEN,)
    if key == "snoozed":
        return Q(when__gt=today), (Task.Status.SNOOZED,)
    raise ValueError(f"No queue section {key!r}.")


@dataclass(frozen=True)
class QueueCursor:
    """Where a window of a queue section starts: after the task with this day, priority
    rank and id (the queue's order), ``shown`` rows into the section. A keyset, so a
    task done or added above it moves nothing: the next window starts after the last
    row seen. ``shown`` only numbers the rows on the page."""

    shown: int
    when: dt.date
    rank: int
    id: int

    _FORMAT = re.compile(r"(\d{1,9})-(\d{8})-(\d)-(\d{1,19})")

    def __str__(self) -> str:
        return f"{self.shown}-{self.when:%Y%m%d}-{self.rank}-{self.id}"

    @classmethod
    def parse(cls, text: str) -> QueueCursor:
        """The cursor ``str`` gave; ValueError saying what a cursor looks like otherwise."""
        match = cls._FORMAT.fullmatch(text)
        try:
            if match is None:
                raise ValueError
            shown, day, rank, pk = match.groups()
            return cls(int(shown), dt.datetime.strptime(day, "%Y%m%d").date(), int(rank), int(pk))
        except ValueError:
            raise ValueError(
                f"{text!r} is not a position in the queue (expected rows-YYYYMMDD-rank-id, "
                "as the queue's “Show more” links give)."
            ) from None

    @classmethod
    def after(cls, task: Task, shown: int) -> QueueCursor:
        return cls(shown, task.when, task.rank, task.pk)  # type: ignore[attr-defined]

    def q(self) -> Q:
        """Tasks after this one in the queue's order. ``when >= day`` is the bound the
        index walk starts from; the rest picks up within that day."""
        return Q(when__gte=self.when) & (
            Q(when__gt=self.when)
            | Q(when=self.when, rank__gt=self.rank)
            | Q(when=self.when, rank=self.rank, pk__gt=self.id)
        )


class _Window:
    """A window of a list of tasks, ``start`` rows into it: the rows it shows, numbered."""

    start: int
    tasks: list[Task]

    @property
    def first_row(self) -> int:
        return self.start + 1

    @property
    def last_row(self) -> int:
        return self.start + len(self.tasks)


@dataclass
class QueueSection(_Window):
    """One section of a queue: its total, and the window of its tasks on the page."""

    key: str
    label: str
    total: int
    tasks: list[Task]
    start: int = 0  # rows of the section before this window
    next: QueueCursor | None = None  # where the next window starts, if there are more


@dataclass
class TaskQueue:
    sections: list[QueueSection] = field(default_factory=list)

    def section(self, key: str) -> QueueSection:
        return next(section for section in self.sections if section.key == key)

    @property
    def overdue(self) -> list[Task]:
        return self.section("overdue").tasks

    @property
    def today(self) -> list[Task]:
        return self.section("today").tasks

    @property
    def upcoming(self) -> list[Task]:
        return self.section("upcoming").tasks

    @property
    def snoozed(self) -> list[Task]:
        return self.section("snoozed").tasks

    @property
    def total(self) -> int:
        return sum(section.total for section in self.sections)


def queue_window(
    arms,
    condition: Q,
    statuses: tuple[str, ...],
    *,
    after: QueueCursor | None,
    limit: int,
    related=_QUEUE_RELATED,
) -> QuerySet[WithAnnotations[Task, _Ordered]]:
    """In one query, the first ``limit`` tasks of ``arms`` with one of ``statuses`` that
    match ``condition`` (after ``after``), in the queue's order. Each arm and status gives
    its first ``limit`` ids, read in order from ``task_queue_day`` (or from the person's
    accounts), and only those rows are read."""
    parts = []
    for arm in arms:
        for status in statuses:
            part = arm.filter(condition, status=status)
            if after is not None:
                part = part.filter(after.q())
            parts.append(part.order_by(*_QUEUE_ORDER).values("pk")[:limit])
    if connections[Task.objects.db].features.supports_slicing_ordering_in_compound:
        # One IN over the UNION ALL of the parts: the rows are found by their ids (an
        # OR of INs would make PostgreSQL test every row of the table against both).
        first, *rest = parts
        wanted = Q(pk__in=first.union(*rest, all=True))
    else:  # SQLite takes no LIMIT in a compound statement
        wanted = Q()
        for part in parts:
            wanted |= Q(pk__in=part)
    return (
        Task.objects.filter(wanted)
        .annotate(when=queue_day(), rank=priority_rank())
        .select_related(*related)
        .order_by(*_QUEUE_ORDER)[:limit]
    )


def task_queue(
    *,
    user: User,
    today: dt.date,
    after: dict[str, QueueCursor] | None = None,
    only: str | None = None,
    rows: int | None = None,
    filters: QueueFilters | None = None,
) -> TaskQueue:
    """``user``'s queue in four sections: overdue, due today, upcoming and snoozed, each
    with its total and a window of at most ``rows`` tasks
    (``settings.VITALS_QUEUE_SECTION_ROWS`` unless given), from the start of the section
    or after its cursor in ``after``. ``only`` reads that one section's window (the
    others carry their totals and no tasks); ``filters`` narrow every section and its
    total. Each section is ordered by day, then
    priority (urgent first), then id. Tasks carry ``account``, ``assignee`` and their
    playbook (``origin_step_run.run.playbook``) without further queries.

    Queries: one for the totals (``task_counts``), then one per section that has tasks; each
    reads ``rows`` + 1 tasks at most, whatever the size of the queue; then one for the
    cards' accounts (``cards_complete``)."""
    after = after or {}
    rows = rows or settings.VITALS_QUEUE_SECTION_ROWS
    totals = task_counts(user=user, today=today, filters=filters)
    arms = queue_arms(user=user, today=today, filters=filters)
    queue = TaskQueue()
    for key, label in QUEUE_SECTIONS:
        section = QueueSection(key=key, label=label, total=totals[key], tasks=[])
        queue.sections.append(section)
        if section.total == 0 or (only is not None and key != only):
            continue
        cursor = after.get(key)
        condition, statuses = section_q(key, today)
        found: list[Task] = list(
            queue_window(arms, condition, statuses, after=cursor, limit=rows + 1)
        )
        section.start = cursor.shown if cursor else 0
        section.tasks = found[:rows]
        if len(found) > rows:
            section.next = QueueCursor.after(section.tasks[-1], section.last_row)
    cards_complete([task for section in queue.sections for task in section.tasks])
    return queue


@dataclass(frozen=True)
class DoneCursor:
    """Where a window of the done view starts: after the task completed at ``at`` (in
    microseconds since the epoch) with id ``id``, ``shown`` rows in."""

    shown: int
    at: int
    id: int

    _FORMAT = re.compile(r"(\d{1,9})-(\d{1,20})-(\d{1,19})")

    def __str__(self) -> str:
        return f"{self.shown}-{self.at}-{self.id}"

    @classmethod
    def parse(cls, text: str) -> DoneCursor:
        match = cls._FORMAT.fullmatch(text)
        if match is None:
            raise ValueError(
                f"{text!r} is not a position in the done tasks (expected rows-time-id, as "
                "the “Show more” link gives)."
            )
        shown, at, pk = (int(part) for part in match.groups())
        return cls(shown, at, pk)

    @classmethod
    def after(cls, task: Task, shown: int) -> DoneCursor:
        assert task.completed_at is not None
        delta = task.completed_at - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return cls(shown, delta // dt.timedelta(microseconds=1), task.pk)

    def q(self) -> Q:
        at = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=self.at)
        return Q(completed_at__lte=at) & (Q(completed_at__lt=at) | Q(pk__lt=self.id))


@dataclass
class DoneTasks(_Window):
    """A window of the tasks a person finished, newest first."""

    tasks: list[Task]
    start: int = 0
    next: DoneCursor | None = None


def done_tasks(*, user: User, today: dt.date, filters: QueueFilters | None = None):
    """The tasks assigned to ``user`` that are done (by them or by anyone for them),
    newest first; ``filters``' priority, origin and level apply (a due window does not:
    they are done)."""
    tasks = Task.objects.filter(
        assignee=user, status=Task.Status.DONE, completed_at__isnull=False
    ).annotate(when=queue_day(), rank=priority_rank())
    if filters:
        tasks = tasks.filter(QueueFilters(**{**filters.__dict__, "due": ""}).q(today))
    return tasks.order_by("-completed_at", "-id")


def tasks_done_window(
    *,
    user: User,
    today: dt.date,
    filters: QueueFilters | None = None,
    after: DoneCursor | None = None,
    rows: int | None = None,
) -> DoneTasks:
    """A window of ``done_tasks`` (``rows``, the queue's section size unless given) from
    the start or after ``after``, read along ``task_done_recent``: two queries, the
    window and its cards' accounts."""
    rows = rows or settings.VITALS_QUEUE_SECTION_ROWS
    tasks = done_tasks(user=user, today=today, filters=filters)
    if after is not None:
        tasks = tasks.filter(after.q())
    found = list(tasks.select_related(*_QUEUE_RELATED, "completed_by")[: rows + 1])
    window = DoneTasks(tasks=found[:rows], start=after.shown if after else 0)
    if len(found) > rows:
        window.next = DoneCursor.after(window.tasks[-1], window.last_row)
    cards_complete(window.tasks)
    return window


def queue_tasks(*, user: User, today: dt.date, filters: QueueFilters | None = None):
    """Every task of ``user``'s queue (``queue_arms``, both arms), in the queue's order:
    what the queue's CSV export writes."""
    assigned, unassigned = queue_arms(user=user, today=today, filters=filters)
    ids = assigned.order_by().values("pk").union(unassigned.order_by().values("pk"), all=True)
    return (
        Task.objects.filter(pk__in=ids)
        .annotate(when=queue_day(), rank=priority_rank())
        .order_by(*_QUEUE_ORDER)
    )


# The row of the navigation's counts that is the bell's, not a queue section's.
_UNREAD = "unread"


def _section_of(today: dt.date) -> Case:
    """The key of the section an active task (annotated with ``when``) is in."""
    return Case(
        When(when__lt=today, then=Value("overdue")),
        When(when=today, then=Value("today")),
        When(status=Task.Status.OPEN, then=Value("upcoming")),
        default=Value("snoozed"),
    )


def task_counts(
    *, user: User, today: dt.date, filters: QueueFilters | None = None
) -> dict[str, int]:
    """The sizes of ``user``'s queue sections (for the home page and the queue), in one
    query: each arm of ``queue_arms`` counted per section from its index, added up.
    Unfiltered, they are kept on the user object (one request) for the navigation's
    badge, and the same statement counts the bell's unread notifications."""
    counts = dict.fromkeys((key for key, _ in QUEUE_SECTIONS), 0)
    assigned, unassigned = (
        arm.annotate(section=_section_of(today))
        .order_by()
        .values("section")
        .annotate(n=Count("pk"))
        for arm in queue_arms(user=user, today=today, filters=filters)
    )
    if filters:
        rows = assigned.union(unassigned, all=True)
    else:
        rows = assigned.union(unassigned, unread_arm(user=user, label=_UNREAD), all=True)
        unread_known(user=user, count=0)
    for row in rows:
        if row["section"] == _UNREAD:
            unread_known(user=user, count=row["n"])
        else:
            counts[row["section"]] += row["n"]
    if not filters:
        user.__dict__["_task_counts"] = (today, counts)
    return dict(counts)


def overdue_counts_by_assignee(*, users, today: dt.date) -> dict[int, int]:
    """Overdue tasks per person (for the team page), in one query: ``{user id: count}``
    for each of ``users`` (ids or users) that has any."""
    ids = [u if isinstance(u, int) else u.pk for u in users]
    rows = (
        Task.objects.filter(assignee_id__in=ids)
        # As their queues count: not the work of accounts that have churned.
        .filter(customers_q(on=today, prefix="account__"))
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
    first = mine.annotate(closed=_closed(), when=queue_day(), rank=priority_rank()).order_by(
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


def tasks_due(*, user: User, today: dt.date, limit: int = 5) -> list[Task]:
    """The first ``limit`` of ``user``'s overdue and due-today tasks (for the home page),
    oldest day first, then by priority; in one query."""
    arms = queue_arms(user=user, today=today)
    related = ("account", "origin_step_run__run__playbook")
    return list(
        queue_window(arms, Q(when__lte=today), ACTIVE, after=None, limit=limit, related=related)
    )


def tasks_due_count(*, user: User, today: dt.date) -> int:
    """How many of ``user``'s tasks are overdue or due today (the navigation badge): from
    the section counts when this request has read them (the home page, the queue)."""
    known = user.__dict__.get("_task_counts")
    if known is not None and known[0] == today:
        return known[1]["overdue"] + known[1]["today"]
    due = 0
    unread_known(user=user, count=0)
    for section, n in _NAV_COUNTS.rows(user=user, today=today):
        if section == _UNREAD:
            unread_known(user=user, count=n)
        else:
            due += n
    return due


def _nav_counts(*, user: User, today: dt.date) -> QuerySet:
    """The navigation's numbers as rows ``(section, n)``: ``user``'s tasks overdue or due
    ``today``, counted per arm of the queue, and the bell's unread notifications."""
    assigned, unassigned = (
        arm.filter(when__lte=today)
        .annotate(section=Value("due"))
        .order_by()
        .values("section")
        .annotate(n=Count("pk"))
        for arm in queue_arms(user=user, today=today)
    )
    return assigned.union(unassigned, unread_arm(user=user, label=_UNREAD), all=True)


# Run on every page: built and compiled once (its Python cost was three times its SQL's).
_NAV_COUNTS = Prepared(
    _nav_counts,
    user=(User(pk=-1), User(pk=-2)),
    today=(dt.date(1901, 1, 1), dt.date(1902, 2, 2)),
)


def queue_person_for(*, user: User, username: str) -> User:
    """The person whose queue ``user`` asks to open: themselves, anyone on the teams they
    manage (a manager), anyone active (an admin). Http404 for anyone else, as for
    nobody by that name."""
    if username == user.get_username():
        return user
    people = User.objects.filter(username=username, is_active=True)
    if not user.is_admin:
        if not user.is_manager:
            raise Http404("No such person.")
        people = people.filter(pk__in=team_member_ids(user=user))
    person = people.first()
    if person is None:
        raise Http404("No such person.")
    return person


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
