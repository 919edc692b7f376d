"""The queue's windows are read from indexes on PostgreSQL: each section's window walks
``task_queue_day`` (assignee, status, day, priority, id) for the person's tasks in the
queue's order and stops at the window's size — no sort of their tasks, whatever their
number — and the unassigned work on their accounts is found from their accounts
(``task_unassigned_active``). The planner is told to avoid table scans, as it would on a
large table; the person's tasks are many enough that a sort would be worth avoiding."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection

from accounts.models import Account
from playbooks.models import Task
from playbooks.selectors.tasks import QueueCursor, queue_arms, queue_window, section_q
from tests.factories import AccountFactory
from tests.plans import plan_of

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's plans"),
]

TODAY = dt.date(2026, 11, 20)


def nodes(plan: dict, ancestors: tuple = ()):
    """Every node of a JSON plan with the node types above it."""
    yield plan, ancestors
    for child in plan.get("Plans", []):
        yield from nodes(child, (*ancestors, plan["Node Type"]))


def summary(plan: dict) -> str:
    """The plan's nodes, one a line: type, index and condition (for a failure's message)."""
    return "\n".join(
        "  " * len(above)
        + " ".join(
            str(node.get(k, "")) for k in ("Node Type", "Index Name", "Index Cond", "Filter")
        )
        for node, above in nodes(plan)
    )


@pytest.fixture
def busy(book, alice, bob):
    """Alice with 3,000 active tasks across the four sections (a few unassigned on her
    accounts), in a table of 18,000: Bob's work, and unassigned work on accounts nobody
    owns; in a book of 20,000 accounts."""
    # A book much larger than anyone's share of it.
    Account.objects.bulk_create(
        [Account(external_id=f"book-{n}", name=f"Book {n}") for n in range(20000)],
        batch_size=5000,
    )
    rows = []
    for owner, count in ((alice, 3000), (bob, 12000), (None, 3000)):
        # Nobody's work is spread over many accounts, as on a large book.
        accounts = AccountFactory.create_batch(300 if owner is None else 3, owner=owner)
        for n in range(count):
            snoozed = n % 5 == 0
            rows.append(
                Task(
                    account=accounts[n % len(accounts)],
                    title=f"Task {n}",
                    assignee=None if owner is None or (owner == alice and n % 97 == 0) else owner,
                    priority=["low", "normal", "high", "urgent"][n % 4],
                    due_date=TODAY + dt.timedelta(days=n % 9 - 4),
                    status="snoozed" if snoozed else "open",
                    snoozed_until=TODAY + dt.timedelta(days=n % 7 - 3) if snoozed else None,
                )
            )
    Task.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE playbooks_task, accounts_account")
    return alice


SECTIONS = ["overdue", "today", "upcoming", "snoozed"]


@pytest.mark.parametrize("key", SECTIONS)
@pytest.mark.parametrize("deeper", [False, True], ids=["first", "after-a-cursor"])
def test_each_window_walks_the_queue_index_in_order(busy, key, deeper):
    arms = queue_arms(user=busy, today=TODAY)
    condition, statuses = section_q(key, TODAY)
    after = None
    if deeper:  # from the middle of the section, as "Show more" reads it
        middle = list(queue_window(arms, condition, statuses, after=None, limit=60))[-1]
        after = QueueCursor.after(middle, 60)
    window = queue_window(arms, condition, statuses, after=after, limit=26)

    plan = plan_of(window)

    walks = [
        (node, above)
        for node, above in nodes(plan)
        if node.get("Index Name") == "task_queue_day"
        and f"assignee_id = {busy.pk}" in node.get("Index Cond", "")
    ]
    # The rows are read by their ids, not by a scan of the tasks.
    (outer,) = [n for n, _ in nodes(plan) if n.get("Alias") == "playbooks_task"]
    assert outer.get("Index Name") == "playbooks_task_pkey", summary(plan)
    # One ordered walk per status of the section, each under its LIMIT with no sort
    # between: the window reads its rows and stops.
    assert len(walks) == len(statuses), summary(plan)
    for node, above in walks:
        assert node["Node Type"] == "Index Scan", summary(plan)
        from_limit = above[len(above) - 1 - above[::-1].index("Limit") :]
        assert "Sort" not in from_limit and "Incremental Sort" not in from_limit, summary(plan)
    # The window's rows are Alice's, in the queue's order, as a sort of them all says.
    key_of = lambda t: (t.when, t.rank, t.pk)  # noqa: E731
    mine = [t for arm in arms for t in arm.filter(condition, status__in=statuses)]
    if after is not None:
        mine = [t for t in mine if key_of(t) > (after.when, after.rank, after.id)]
    assert [t.pk for t in window] == [t.pk for t in sorted(mine, key=key_of)[:26]]


def test_the_unassigned_work_is_found_from_the_persons_accounts(busy):
    unassigned = queue_arms(user=busy, today=TODAY)[1]

    plan = json.dumps(plan_of(unassigned.filter(status="open").values("pk")))

    # From her accounts, not from everyone's unassigned work.
    assert "task_unassigned_active" in plan, plan
