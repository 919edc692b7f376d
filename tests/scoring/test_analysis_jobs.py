"""Backtests and what-ifs as jobs: started once, run once however often their message
comes, reported on as they go, and taken up again when their worker dies."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from config.tasking import send_now
from scoring.analysis.backtest import backtest_run
from scoring.analysis.jobs import (
    TASK,
    JobTakenOver,
    _Holder,
    analysis_job_claim,
    analysis_job_run,
    analysis_job_start,
    analysis_jobs_stalled,
    analysis_params,
    backtest_job_result,
)
from scoring.errors import ScoringError
from scoring.models import AnalysisJob
from scoring.services import scoring_model_new_version
from tests.factories import AccountFactory
from tests.scoring.builders import add_signal
from tests.scoring.test_recompute_runs import usage_model
from tests.workers import wait_for

TODAY = timezone.localdate()
DATES = [TODAY - dt.timedelta(days=age) for age in (150, 120, 100)]
PARAMS = analysis_params(dates=DATES, horizon_days=30)


def book_of(n: int) -> None:
    """``n`` customers with logins every ten days up to the last date; one in four
    leaves a few days after one of the dates."""
    first = timezone.make_aware(dt.datetime.combine(DATES[0], dt.time()))
    days = (DATES[-1] - DATES[0]).days + 60
    for i in range(n):
        churned = DATES[i % 3] + dt.timedelta(days=5) if i % 4 == 0 else None
        account = AccountFactory(churned_at=churned)
        for day in range(0, days, 10):
            logins = (i % 10) + (0 if churned else 3)
            add_signal(account, "logins", logins, first - dt.timedelta(days=60 - day))


def start(model, params=PARAMS, **kwargs) -> AnalysisJob:
    job, created = analysis_job_start(
        kind=AnalysisJob.Kind.BACKTEST, model=model, params=params, **kwargs
    )
    assert created
    return job


# --- Starting ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_starting_the_same_job_while_it_runs_answers_the_running_one():
    model = usage_model()
    job = start(model, dispatch=False)
    again, created = analysis_job_start(kind="backtest", model=model, params=dict(PARAMS))
    assert (again.pk, created) == (job.pk, False)
    other, created = analysis_job_start(
        kind="backtest", model=model, params=analysis_params(dates=DATES, horizon_days=60)
    )
    assert created and other.pk != job.pk

    AnalysisJob.objects.filter(pk=job.pk).update(status=AnalysisJob.Status.SUCCEEDED)
    fresh, created = analysis_job_start(kind="backtest", model=model, params=PARAMS)
    assert created and fresh.pk not in (job.pk, other.pk)


@pytest.mark.django_db
def test_bad_parameters_start_nothing_and_say_what_is_wrong():
    model = usage_model()
    with pytest.raises(ScoringError, match="The horizon must be at least 1 day"):
        analysis_job_start(
            kind="backtest", model=model, params=analysis_params(dates=None, horizon_days=0)
        )
    with pytest.raises(ScoringError, match="is not before today"):
        analysis_job_start(
            kind="backtest", model=model, params=analysis_params(dates=[TODAY], horizon_days=30)
        )
    with pytest.raises(ScoringError, match="the what-if compares a draft"):
        analysis_job_start(kind="whatif", model=model, params=PARAMS)
    assert not AnalysisJob.objects.exists()


# --- Running once ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_job_runs_once_however_often_its_message_comes():
    model = usage_model()
    book_of(12)
    job = start(model, dispatch=False)

    assert analysis_job_run(job_id=job.pk) is True
    assert analysis_job_run(job_id=job.pk) is False  # a duplicated or retried delivery

    job.refresh_from_db()
    assert (job.status, job.attempts, job.token) == ("succeeded", 1, "")
    result = backtest_job_result(job)
    fresh = backtest_run(model=model, dates=DATES, horizon_days=30)
    assert job.done == job.total == sum(p.customers for p in fresh.points) == 12 + 11 + 10
    assert [(p.date, p.customers, p.churned, p.auc) for p in result.report.points] == [
        (p.date, p.customers, p.churned, p.auc) for p in fresh.points
    ]


@pytest.mark.django_db
def test_a_held_job_is_left_to_its_holder_until_it_falls_silent():
    model = usage_model()
    job = start(model, dispatch=False)
    now = timezone.now()
    with override_settings(VITALS_ANALYSIS_STALL_AFTER=30):
        first = analysis_job_claim(job_id=job.pk, now=now)
        assert first is not None
        assert analysis_job_claim(job_id=job.pk, now=now + dt.timedelta(seconds=10)) is None
        second = analysis_job_claim(job_id=job.pk, now=now + dt.timedelta(seconds=31))
    assert second not in (None, first)
    # The first holder, back from the dead, can neither report nor finish.
    stale = _Holder(AnalysisJob.objects.get(pk=job.pk), first, steps=1)
    with pytest.raises(JobTakenOver):
        stale.report("Backtest", 1, 2)
    assert stale.end(status="succeeded", result={}) is False
    assert AnalysisJob.objects.get(pk=job.pk).attempts == 2


@pytest.mark.django_db
def test_the_watchdog_sends_silent_jobs_again_and_fails_those_tried_too_often():
    model = usage_model()
    now = timezone.now()
    lost = start(model, dispatch=True)  # its message never arrived
    silent = start(model, params=analysis_params(dates=DATES, horizon_days=60))
    tried = start(model, params=analysis_params(dates=DATES, horizon_days=90))
    alive = start(model, params=analysis_params(dates=DATES, horizon_days=120))
    AnalysisJob.objects.filter(pk__in=[lost.pk, silent.pk, tried.pk, alive.pk]).update(
        created_at=now - dt.timedelta(minutes=5), dispatched_at=now - dt.timedelta(minutes=5)
    )
    AnalysisJob.objects.filter(pk=silent.pk).update(
        status="running", heartbeat_at=now - dt.timedelta(seconds=40), attempts=1
    )
    AnalysisJob.objects.filter(pk=tried.pk).update(
        status="running", heartbeat_at=now - dt.timedelta(seconds=40), attempts=3
    )
    AnalysisJob.objects.filter(pk=alive.pk).update(
        status="running", heartbeat_at=now - dt.timedelta(seconds=5), attempts=1
    )
    with override_settings(VITALS_ANALYSIS_STALL_AFTER=30, VITALS_ANALYSIS_MAX_ATTEMPTS=3):
        assert sorted(analysis_jobs_stalled(now=now)) == sorted([lost.pk, silent.pk])
        assert analysis_jobs_stalled(now=now + dt.timedelta(seconds=10)) == []  # just sent
    tried.refresh_from_db()
    assert tried.status == "failed" and "stopped 3 times" in tried.error


# --- Real workers ------------------------------------------------------------------------------


def test_progress_shows_mid_run_and_a_killed_workers_job_is_taken_up_again(
    celery_worker_process, monkeypatch, ada, client_as
):
    """A real worker reports its progress chunk by chunk (seen on the admin's job
    panel), is SIGKILLed mid-job, and the watchdog hands the job to another worker,
    which finishes it: the report is the one a backtest in this process gives."""
    from scoring.tasks import resume_stale_jobs

    model = usage_model()
    book_of(300)
    monkeypatch.setenv("VITALS_BACKTEST_CHUNK_SIZE", "3")  # 300 progress reports
    monkeypatch.setenv("VITALS_ANALYSIS_STALL_AFTER", "2")
    first = celery_worker_process.start(concurrency=1)
    job = start(model)  # sent at once: no transaction is open
    panel = reverse("admin:scoring_scoringmodel_analysis_job", args=[model.pk, job.pk])
    admin = client_as(ada)

    def running_part_way() -> bool:
        job.refresh_from_db()
        return job.status == "running" and 0 < job.done < job.total

    wait_for(running_part_way, timeout=60, interval=0.05, message="progress mid-run")
    html = admin.get(panel).content.decode()
    assert 'data-status="running"' in html and f'hx-get="{panel}"' in html
    shown = re.search(rf"Backtest of Usage v1: (\d+) of {job.total} accounts", html)
    assert shown and int(shown[1]) >= job.done > 0, html
    celery_worker_process.kill(first)
    job.refresh_from_db()
    assert job.status == "running" and job.done < job.total, "finished before the kill"

    celery_worker_process.start(concurrency=1)

    def finished() -> bool:
        resume_stale_jobs()  # as beat does every 10 seconds
        return AnalysisJob.objects.get(pk=job.pk).status == "succeeded"

    with override_settings(VITALS_ANALYSIS_STALL_AFTER=2):
        wait_for(finished, timeout=120, interval=0.5, message=celery_worker_process.logs())
    job.refresh_from_db()
    assert job.attempts == 2
    fresh = backtest_run(model=model, dates=DATES, horizon_days=30)
    assert [(p.customers, p.churned, p.auc) for p in backtest_job_result(job).report.points] == [
        (p.customers, p.churned, p.auc) for p in fresh.points
    ]
    html = admin.get(panel).content.decode()
    assert 'data-status="succeeded"' in html and "hx-get" not in html
    assert "backtest-report" in html


def test_a_duplicated_message_runs_the_job_once_on_real_workers(celery_worker_process):
    model = usage_model()
    book_of(30)
    celery_worker_process.start(concurrency=2)
    job = start(model)
    send_now(TASK, [(job.pk,), (job.pk,)])  # two more deliveries of the same job
    wait_for(
        lambda: AnalysisJob.objects.get(pk=job.pk).status == "succeeded",
        timeout=60,
        message=celery_worker_process.logs(),
    )
    wait_for(
        lambda: celery_worker_process.logs().count("succeeded in") >= 3,
        timeout=30,
        message="the three deliveries handled",
    )
    job.refresh_from_db()
    assert job.attempts == 1


@pytest.mark.django_db
def test_a_what_if_job_reports_the_band_moves_and_both_backtests():
    model = usage_model()
    book_of(12)
    draft = scoring_model_new_version(model=model)
    job, _ = analysis_job_start(kind="whatif", model=draft, params=PARAMS, dispatch=False)
    assert analysis_job_run(job_id=job.pk) is True
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert job.stage.startswith("Step 3 of 3: Backtest of Usage v1")
    assert job.result["active_id"] == model.pk
    assert (
        len(job.result["draft_report"]["points"]) == len(job.result["active_report"]["points"]) == 3
    )


@pytest.mark.django_db
def test_the_admin_lists_jobs_with_a_link_to_each_report(ada, client_as):
    model = usage_model()
    job = start(model, dispatch=False, requested_by=ada)
    admin = client_as(ada)
    listing = admin.get(reverse("admin:scoring_analysisjob_changelist")).content.decode()
    change = reverse("admin:scoring_analysisjob_change", args=[job.pk])
    assert "Usage v1" in listing and f'href="{change}"' in listing
    page = admin.get(change).content.decode()
    backtest = reverse("admin:scoring_scoringmodel_backtest", args=[model.pk])
    assert f'href="{backtest}?job={job.pk}"' in page
