"""Playbooks on real Celery workers: messages delivered twice (as after a lost worker
or a broker that redelivers) still make exactly one run per event and one task per step."""

from __future__ import annotations

import datetime as dt

from playbooks.models import Delivery, PlaybookRun, PlaybookStepRun, Task, WebhookEndpoint
from scoring.models import ScoreEvent
from tests.factories import AccountFactory, UserFactory
from tests.playbooks.builders import healthy_then, make_playbook, task_step, usage_model
from tests.workers import wait_for


def test_duplicate_messages_on_real_workers_make_one_run_and_one_task_each(
    celery_worker_process, receiver
):
    from playbooks import tasks

    usage_model()
    owner = UserFactory(username="olive", first_name="Olive")
    accounts = AccountFactory.create_batch(20, owner=owner)
    healthy_then(accounts, 6, at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    make_playbook(steps=[task_step("Call {account}", task_priority="high"), task_step("Follow up")])
    WebhookEndpoint.objects.create(name="CRM", url=receiver.url, events=["task.created"])
    band_changes = ScoreEvent.objects.filter(kind="band_changed").count()
    assert band_changes == 20

    celery_worker_process.start(concurrency=2)
    for _ in range(3):  # the same job, sent three times
        tasks.process_score_events.delay()
    wait_for(
        lambda: Task.objects.count() >= 40 and Delivery.objects.filter(status="sent").count() >= 40,
        timeout=90,
        message=f"40 tasks and their webhooks; worker logs:\n{celery_worker_process.logs()}",
    )

    # Every message again: each step and each delivery, twice more.
    for step_run_id in PlaybookStepRun.objects.values_list("pk", flat=True):
        tasks.run_step.delay(step_run_id)
        tasks.run_step.delay(step_run_id)
    for delivery_id in Delivery.objects.values_list("pk", flat=True):
        tasks.deliver.delay(delivery_id)
    tasks.process_score_events.delay()
    tasks.dispatch_due_steps.delay()

    def handled(name: str) -> int:
        return sum(
            1
            for line in celery_worker_process.logs().splitlines()
            if f"playbooks.tasks.{name}[" in line and " succeeded in " in line
        )

    # 20 first steps (each follows on to its second) + 80 duplicates; 40 + 40 deliveries.
    wait_for(
        lambda: handled("run_step") >= 100 and handled("deliver") >= 80,
        timeout=90,
        message="the duplicate messages to be handled",
    )

    assert PlaybookRun.objects.count() == band_changes
    assert set(PlaybookRun.objects.values_list("status", flat=True)) == {"done"}
    assert PlaybookStepRun.objects.count() == 40
    assert Task.objects.count() == 40
    assert Task.objects.values("origin_step_run").distinct().count() == 40
    assert Delivery.objects.count() == 40
    assert len(receiver.received) == 40
    assert len({r.headers["X-Vitals-Delivery"] for r in receiver.received}) == 40
