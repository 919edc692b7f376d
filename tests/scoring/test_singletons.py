"""Periodic jobs started twice at once — two beat processes, a manual run during the
nightly — do their work once: one recompute run, each account scored once."""

from __future__ import annotations

import datetime as dt
import io
import time

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from scoring.models import HealthScore, ScoringRun
from scoring.services import scoring_run_start
from tests.scoring.test_recompute_runs import accounts_with_logins, scored_once, usage_model
from tests.workers import wait_for

NOW = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)


def handled(workers, task: str) -> int:
    return workers.logs().count(f"Task scoring.tasks.{task}[") // 2  # received + succeeded


def test_two_beats_start_the_nightly_recompute_once(celery_worker_process):
    usage_model()
    accounts_with_logins(40, 12, timezone.now() - dt.timedelta(days=1))
    # The schedules as the migrations make them (a flushed test database has none), the
    # nightly sped up to every second.
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
    PeriodicTask.objects.update(enabled=False)
    for name, task in [
        ("Nightly health score recompute", "scoring.tasks.recompute_all"),
        ("Resume stale recompute runs", "scoring.tasks.resume_stale_runs"),
    ]:
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={"task": task, "interval": every_second, "crontab": None, "enabled": True},
        )

    celery_worker_process.start(concurrency=2)
    celery_worker_process.start_beat()
    celery_worker_process.start_beat()

    # Both beats send the nightly recompute every second, for several seconds.
    def sent_by_each_beat() -> list[int]:
        logs = sorted(celery_worker_process.tmp_path.glob("beat-*.log"))
        return [log.read_text().count("(scoring.tasks.recompute_all)") for log in logs]

    try:
        wait_for(
            lambda: (
                min(sent_by_each_beat()) >= 2
                and handled(celery_worker_process, "recompute_all") >= 4
            ),
            timeout=90,
        )
    except AssertionError:
        logs = celery_worker_process.logs("beat") + celery_worker_process.logs()
        raise AssertionError(f"the beats did not send and run it; logs:\n{logs}") from None
    assert len(sent_by_each_beat()) == 2

    [run] = ScoringRun.objects.all()
    wait_for(lambda: ScoringRun.objects.get(pk=run.pk).status == "succeeded", timeout=60)
    time.sleep(1)
    scored_once(run, 40)
    assert ScoringRun.objects.count() == 1


def test_two_nightly_calls_at_the_same_moment_plan_one_run(celery_worker_process):
    from scoring.tasks import recompute_all

    usage_model()
    accounts_with_logins(20, 12, timezone.now() - dt.timedelta(days=1))
    celery_worker_process.start(concurrency=2)
    for _ in range(4):  # two processes take two each, at once
        recompute_all.delay()
    wait_for(lambda: handled(celery_worker_process, "recompute_all") >= 4, timeout=60)
    wait_for(lambda: ScoringRun.objects.filter(status="succeeded").exists(), timeout=60)
    assert ScoringRun.objects.count() == 1
    scored_once(ScoringRun.objects.get(), 20)


@pytest.mark.django_db
def test_a_manual_full_recompute_during_the_nightly_helps_it_and_starts_none():
    usage_model()
    accounts_with_logins(25, 12, timezone.now() - dt.timedelta(days=1))
    nightly, created = scoring_run_start(trigger="nightly")
    assert created  # planned, its chunks not yet taken by any worker

    out = io.StringIO()
    call_command("recompute_scores", "--chunk-size", "10", stdout=out)

    assert f"Run {nightly.pk} (nightly" in out.getvalue()
    assert "following it rather than starting another" in out.getvalue()
    assert ScoringRun.objects.count() == 1
    scored_once(nightly, 25)


@pytest.mark.django_db
def test_a_scheduled_start_right_after_a_run_of_its_slot_starts_none():
    usage_model()
    accounts_with_logins(5, 12, NOW - dt.timedelta(days=1))
    first, created = scoring_run_start(trigger="nightly", now=NOW)
    assert created
    call_command("recompute_scores", stdout=io.StringIO())  # finish it (it helps)
    first.refresh_from_db()
    assert first.status == "succeeded"

    # A second beat a minute late: the same slot.
    again, created = scoring_run_start(
        trigger="nightly", now=first.created_at + dt.timedelta(minutes=1)
    )
    assert (again, created) == (first, False)
    # The next night: a new run. And a manual one is never refused for being recent.
    nxt, created = scoring_run_start(trigger="nightly", now=first.created_at + dt.timedelta(days=1))
    assert created and nxt != first
    nxt_manual = scoring_run_start(trigger="command")
    assert nxt_manual == (nxt, False)  # ... but joins the open one
    assert HealthScore.objects.filter(run=first).count() == 5
