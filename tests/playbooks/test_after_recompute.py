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
