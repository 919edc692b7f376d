"""config.prepared: a statement compiled once gives, for every call, exactly the SQL and
parameters the builder would have compiled; a builder it cannot serve (one that derives a
value from its input, or changes its SQL with it) is compiled on every call instead."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from accounts.models import Account, User
from config.prepared import Prepared
from playbooks.models import Task

pytestmark = pytest.mark.django_db

DAYS = (dt.date(1901, 1, 1), dt.date(1902, 2, 2))
USERS = (User(pk=-1), User(pk=-2))


def fresh(build, **values):
    sql, params = build(**values).query.sql_with_params()
    return sql, list(params)


def tasks_due(*, user, today):
    return Task.objects.filter(assignee=user, due_date__lte=today, status="open").values("pk")


def test_the_prepared_statement_is_the_one_the_builder_compiles(alice, bob):
    prepared = Prepared(tasks_due, user=USERS, today=DAYS)
    for user, day in [(alice, dt.date(2026, 12, 1)), (bob, dt.date(2027, 1, 31))]:
        assert prepared.sql(user=user, today=day) == fresh(tasks_due, user=user, today=day)
    assert prepared._compiled["default"] is not None  # kept, not compiled again


def test_its_rows_are_the_querysets(alice, book):
    Task.objects.create(account=book["alice"], title="A", assignee=alice, due_date=DAYS[1])
    prepared = Prepared(tasks_due, user=USERS, today=DAYS)
    day = dt.date(2026, 12, 1)
    expected = [(pk,) for pk in tasks_due(user=alice, today=day).values_list("pk", flat=True)]
    assert prepared.rows(user=alice, today=day) == expected != []


def derived(*, user, today):
    return Task.objects.filter(assignee=user, due_date__lte=today + dt.timedelta(days=1))


def branching(*, user, today):
    tasks = Task.objects.filter(due_date__lte=today)
    return tasks.filter(assignee=user) if user.pk % 2 else tasks


def same_value_twice(*, user, today):
    # Two arguments that take the same stand-ins cannot be told apart.
    return Account.objects.filter(owner=user, pk=today)


@pytest.mark.parametrize("build", [derived, branching])
def test_a_builder_it_cannot_serve_is_compiled_every_time(alice, build):
    prepared = Prepared(build, user=USERS, today=DAYS)
    day = dt.date(2026, 12, 1)
    assert prepared.sql(user=alice, today=day) == fresh(build, user=alice, today=day)
    assert prepared._compiled[connection.alias] is None


def test_arguments_with_the_same_stand_ins_are_not_guessed(alice):
    prepared = Prepared(same_value_twice, user=USERS, today=(-1, -2))
    assert prepared.sql(user=alice, today=7) == fresh(same_value_twice, user=alice, today=7)
    assert prepared._compiled[connection.alias] is None


def test_the_navigation_counts_are_prepared_and_count_as_the_queue_does(alice, bob, book):
    from notifications.models import Notification
    from playbooks.selectors.tasks import _NAV_COUNTS, _nav_counts, tasks_due_count

    today = dt.date(2026, 12, 1)
    Task.objects.create(account=book["alice"], title="Late", assignee=alice, due_date=DAYS[0])
    Task.objects.create(account=book["alice"], title="Mine", due_date=today)  # her account's
    Task.objects.create(account=book["bob"], title="Bob's", assignee=bob, due_date=today)
    Notification.objects.create(user=alice, kind="task_overdue", title="x", url="/", key="k")
    assert tasks_due_count(user=alice, today=today) == 2
    assert sorted(_NAV_COUNTS.rows(user=alice, today=today)) == sorted(
        _nav_counts(user=alice, today=today).values_list("section", "n")
    )
    assert _NAV_COUNTS._compiled[connection.alias] is not None
