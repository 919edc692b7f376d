"""Tasks made by hand on many accounts at once (the account list's bulk action): the same
tasks and the same ``task.created`` events as ``task_create_manual`` one by one, checked
once and written set-based."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import config.tasking
from accounts.models import Account
from playbooks.models import Delivery, Task, WebhookEndpoint
from playbooks.services.common import PlaybookError
from playbooks.services.task_ops import task_create_manual, tasks_create_manual_bulk
from tests.factories import AccountFactory

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
DUE = dt.date(2026, 11, 9)


def bulk(accounts, **fields) -> int:
    values = {"title": "Check renewal", "due_date": DUE, "created_by": None, "now": NOW}
    return tasks_create_manual_bulk(accounts=accounts, **{**values, **fields})


def test_each_account_gets_its_task_for_its_owner(book, ada):
    unowned = AccountFactory(name="Nobody's", owner=None)
    accounts = Account.objects.filter(pk__in=[book["alice"].pk, book["bob"].pk, unowned.pk])
    created = bulk(accounts, created_by=ada, priority="high", description="  Ask about seats.  ")
    assert created == 3
    tasks = {t.account.name: t for t in Task.objects.select_related("account", "assignee")}
    assert {name: t.assignee and t.assignee.username for name, t in tasks.items()} == {
        "Acme Analytics": "alice",
        "Borealis Bank": "bob",
        "Nobody's": None,
    }
    for task in tasks.values():
        assert (task.title, task.priority, task.due_date) == ("Check renewal", "high", DUE)
        assert (task.description, task.created_by, task.created_at) == (
            "Ask about seats.",
            ada,
            NOW,
        )
        assert task.status == Task.Status.OPEN and task.origin_step_run is None


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"title": "  "}, "title", "Give the task a title."),
        ({"title": "x" * 201}, "title", "At most 200 characters (this has 201)."),
        ({"priority": "asap"}, "priority", "'asap' is not one of low, normal, high, urgent."),
        ({"due_date": None}, "due_date", "Give the due date."),
    ],
)
def test_bad_input_is_refused_as_one_by_one_and_nothing_is_made(book, fields, field, message):
    one = {"title": "Check renewal", "due_date": DUE, "priority": "normal", **fields}
    with pytest.raises(PlaybookError) as single:
        task_create_manual(account=book["alice"], created_by=None, now=NOW, **one)
    with pytest.raises(PlaybookError) as many:
        bulk(Account.objects.all(), **fields)
    assert (many.value.field, many.value.message) == (single.value.field, single.value.message)
    assert (many.value.field, many.value.message) == (field, message)
    assert not Task.objects.exists()


def test_the_events_are_those_one_by_one_would_send(
    book, monkeypatch, django_capture_on_commit_callbacks
):
    crm = WebhookEndpoint.objects.create(
        name="CRM", url="https://crm.example/h", events=["task.created"]
    )
    WebhookEndpoint.objects.create(
        name="Other", url="https://o.example/h", events=["task.completed"]
    )
    sent = []
    monkeypatch.setattr(config.tasking, "send_now", lambda name, calls: sent.append((name, calls)))

    single = task_create_manual(
        account=book["charlie"], title="Check renewal", due_date=DUE, created_by=None, now=NOW
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert bulk(Account.objects.filter(pk__in=[book["alice"].pk, book["bob"].pk])) == 2

    tasks = list(Task.objects.exclude(pk=single.pk).order_by("pk"))
    deliveries = {d.idempotency_key: d for d in Delivery.objects.all()}
    assert set(deliveries) == {f"event:task.created:{t.pk}:{crm.pk}" for t in [single, *tasks]}

    def body(task: Task) -> dict:
        payload = json.loads(deliveries[f"event:task.created:{task.pk}:{crm.pk}"].payload)
        payload.pop("id")
        payload["data"]["task"].pop("id")
        payload["data"]["task"].pop("account")
        payload["data"]["task"].pop("assignee")
        return payload

    # The bulk tasks' bodies are the single task's, but for their own id, account and owner.
    assert body(tasks[0]) == body(tasks[1]) == body(single)
    alice_body = json.loads(deliveries[f"event:task.created:{tasks[0].pk}:{crm.pk}"].payload)
    assert alice_body["data"]["task"]["account"]["external_id"] == "acme"
    assert alice_body["data"]["task"]["assignee"] == "alice"
    bulk_ids = sorted(deliveries[f"event:task.created:{t.pk}:{crm.pk}"].pk for t in tasks)
    [(name, calls)] = sent  # one send for the batch, a call per delivery
    assert (name, sorted(calls)) == ("playbooks.tasks.deliver", [(pk,) for pk in bulk_ids])


def test_no_query_per_account(db, alice):
    WebhookEndpoint.objects.create(name="CRM", url="https://crm.example/h", events=["task.created"])
    AccountFactory.create_batch(3, owner=alice)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            bulk(Account.objects.all())
        return len(captured)

    few = count()
    AccountFactory.create_batch(40, owner=alice)
    assert count() == few
    assert Task.objects.count() == 3 + 43
    assert Delivery.objects.count() == 3 + 43


def test_a_large_selection_is_read_in_batches(db, alice, monkeypatch):
    monkeypatch.setattr("playbooks.services.task_ops.BULK_BATCH", 4)
    AccountFactory.create_batch(10, owner=alice)
    assert bulk(Account.objects.all(), now=timezone.now()) == 10
    assert Task.objects.values("account").distinct().count() == 10
