"""The Celery tasks called as a worker would, twice over (a retried task, a redelivered
message): nothing is created twice."""

from __future__ import annotations

import datetime as dt
from unittest.mock import patch

import pytest
from django.core.management import call_command

from playbooks import services, tasks
from playbooks.models import Delivery, Playbook, PlaybookRun, PlaybookStepRun, Task, WebhookEndpoint
from tests.factories import AccountFactory
from tests.playbooks.builders import healthy_then, make_playbook, task_step

pytestmark = pytest.mark.django_db


@pytest.fixture
def at_risk(usage, alice):
    """Three of Alice's accounts have just become At-risk (real time: tasks read the clock)."""
    accounts = AccountFactory.create_batch(3, owner=alice)
    healthy_then(accounts, 6, at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    return accounts


def test_processing_events_twice_makes_one_run_per_event(at_risk):
    make_playbook(
        steps=[task_step("Call {account}"), task_step("Review", assignee_rule="owner_manager")]
    )

    assert tasks.process_score_events() == 3
    assert tasks.process_score_events() == 0

    assert PlaybookRun.objects.count() == 3
    assert PlaybookStepRun.objects.count() == 3  # the first steps; the second come after


def test_running_a_step_twice_makes_one_set_of_tasks(at_risk, maggie):
    make_playbook(
        steps=[task_step("Call {account}"), task_step("Review", assignee_rule="owner_manager")]
    )
    tasks.process_score_events()

    for step_run_id in list(PlaybookStepRun.objects.values_list("pk", flat=True)):
        assert tasks.run_step(step_run_id) == 2  # the step and the one right after it
        assert tasks.run_step(step_run_id) == 0

    assert Task.objects.count() == 6
    assert (
        sorted(Task.objects.values_list("assignee__username", flat=True))
        == ["alice"] * 3 + ["maggie"] * 3
    )
    assert set(PlaybookRun.objects.values_list("status", flat=True)) == {"done"}


def test_state_triggers_twice_fire_once(at_risk):
    make_playbook("Low", trigger=Playbook.Trigger.SCORE_BELOW, score_threshold=50)
    assert tasks.evaluate_state_triggers() == 3
    assert tasks.evaluate_state_triggers() == 0


def test_a_failing_delivery_is_sent_again_by_the_tick_once_due(
    at_risk, receiver, django_capture_on_commit_callbacks
):
    receiver.statuses = [502, 200]
    WebhookEndpoint.objects.create(name="CRM", url=receiver.url, events=["account.band_changed"])
    tasks.process_score_events()
    delivery = Delivery.objects.order_by("pk").first()

    assert tasks.deliver(delivery.pk) == "retry"
    assert tasks.deliver(delivery.pk) == "skipped"  # a duplicate before the retry is due

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, 502)
    # No message waits for the retry (no countdown): the row says when, and the tick sends
    # it once due (never before).
    assert delivery.dispatched_at is None
    sent: list[int] = []
    with (
        patch("config.tasking.send_now", lambda name, calls: sent.extend(c[0] for c in calls)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        before, due = delivery.next_attempt_at - dt.timedelta(seconds=1), delivery.next_attempt_at
        services.due_work_dispatch(now=before, redispatch_after=3600)
        assert delivery.pk not in sent
        services.due_work_dispatch(now=due, redispatch_after=3600)
    assert sent.count(delivery.pk) == 1
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
    assert tasks.deliver(delivery.pk) == "sent"
    assert tasks.deliver(delivery.pk) == "skipped"
    assert len(receiver.received) == 2


def test_a_step_that_crashes_is_failed_not_retried_forever(at_risk, monkeypatch):
    make_playbook()
    tasks.process_score_events()
    step_run = PlaybookStepRun.objects.first()

    def boom(*args, **kwargs):
        raise KeyError("surprise")

    monkeypatch.setattr("playbooks.services.steps._apply", boom)
    with pytest.raises(KeyError):
        tasks.run_step(step_run.pk)

    step_run.refresh_from_db()
    assert (step_run.status, step_run.error) == ("failed", "KeyError: 'surprise'")
    assert step_run.run.status == "failed"
    assert tasks.dispatch_due_steps() == {
        "steps_sent": 0,
        "steps_executed": 0,
        "deliveries_attempted": 0,
        "tasks_closed": 0,
        "tasks_woken": 0,
    }


def test_the_command_does_the_workers_job_in_process(at_risk, capsys):
    make_playbook()
    call_command("run_playbooks")
    call_command("run_playbooks")
    out = capsys.readouterr().out
    assert "Score events: 6 processed, 3 runs." in out
    assert "Steps executed: 3." in out
    assert "Score events: 0 processed, 0 runs." in out
    assert Task.objects.count() == 3
