"""A recompute on real workers turns its band changes into playbook runs and tasks at
once: scoring names the consumer task in settings, it does not import playbooks."""

from __future__ import annotations

import datetime as dt

from playbooks.models import PlaybookRun, Task
from scoring.services import scoring_run_create
from tests.factories import AccountFactory, UserFactory
from tests.playbooks.builders import make_playbook, score, usage_model
from tests.scoring.builders import add_signal
from tests.workers import wait_for


def test_a_finished_recompute_hands_its_band_changes_to_playbooks(celery_worker_process):
    from scoring.tasks import scoring_run_dispatch

    usage_model()
    owner = UserFactory(username="olive")
    accounts = AccountFactory.create_batch(5, owner=owner)
    now = dt.datetime.now(dt.UTC)
    score(accounts, 18, at=now - dt.timedelta(hours=2))  # Healthy
    for account in accounts:
        add_signal(account, "logins", 6, now - dt.timedelta(minutes=30))  # At-risk next
    make_playbook()
    celery_worker_process.start(concurrency=2)

    run = scoring_run_create(as_of=now, chunk_size=2)
    scoring_run_dispatch(run.pk)

    wait_for(lambda: Task.objects.count() == 5, timeout=60, message="five tasks")
    assert PlaybookRun.objects.count() == 5
    assert "playbooks.tasks.process_score_events" in celery_worker_process.logs()


def test_a_recompute_on_workers_closes_the_work_of_accounts_that_recovered(
    celery_worker_process,
):
    """The loop on real workers, both ways: a fall into At-risk makes a task, the
    recovery the next recompute finds resolves it — each once, however the messages
    are delivered."""
    from scoring.tasks import scoring_run_dispatch

    usage_model()
    owner = UserFactory(username="olive")
    accounts = AccountFactory.create_batch(4, owner=owner)
    now = dt.datetime.now(dt.UTC)
    score(accounts, 18, at=now - dt.timedelta(hours=3))  # Healthy
    for account in accounts:
        add_signal(account, "logins", 6, now - dt.timedelta(hours=2, minutes=30))  # At-risk
    make_playbook()
    celery_worker_process.start(concurrency=2)

    scoring_run_dispatch(scoring_run_create(as_of=now - dt.timedelta(hours=2), chunk_size=2).pk)
    wait_for(lambda: Task.objects.count() == 4, timeout=60, message="four tasks")

    for account in accounts[:3]:
        add_signal(account, "logins", 18, now - dt.timedelta(minutes=30))  # Healthy again
    scoring_run_dispatch(scoring_run_create(as_of=now, chunk_size=2).pk)

    def resolved() -> int:
        return Task.objects.filter(status=Task.Status.RESOLVED).count()

    try:
        wait_for(lambda: resolved() == 3, timeout=60, message="three tasks resolved")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{celery_worker_process.logs()[-6000:]}") from None
    assert Task.objects.count() == 4
    assert set(
        Task.objects.filter(status=Task.Status.RESOLVED).values_list("close_reason", flat=True)
    ) == {f"Resolved: back to Healthy on {now.day} {now:%b}"}
    assert Task.objects.get(status=Task.Status.OPEN).account == accounts[3]
