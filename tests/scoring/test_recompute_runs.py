"""Recompute runs: chunks, counters, events, idempotency, and real workers that die."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.test import override_settings

from accounts.models import Account
from scoring.models import AccountHealth, HealthScore, ScoreEvent, ScoringRun, ScoringRunChunk
from scoring.services import scoring_chunk_process, scoring_run_create, scoring_run_execute
from tests.factories import AccountFactory
from tests.scoring.builders import add_signal, make_model
from tests.workers import wait_for

NOW = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)


def usage_model():
    return make_model(
        "usage",
        components=[
            {
                "metric": "logins",
                "rule": "linear",
                "params": {"worst": 0, "best": 20},
                "weight": 100,
            }
        ],
        bands=[("At-risk", 0), ("Neutral", 50), ("Healthy", 75)],
    )


def accounts_with_logins(n: int, logins: float, at: dt.datetime) -> list[Account]:
    accounts = AccountFactory.create_batch(n)
    for account in accounts:
        add_signal(account, "logins", logins, at)
    return accounts


@pytest.mark.django_db
def test_a_run_scores_every_account_once_and_records_itself():
    usage_model()
    accounts_with_logins(7, 18, NOW - dt.timedelta(days=1))
    run = scoring_run_create(as_of=NOW, chunk_size=3)
    assert (run.chunks_total, run.accounts_total) == (3, 7)

    run = scoring_run_execute(run=run)

    assert run.status == ScoringRun.Status.SUCCEEDED
    assert run.accounts_scored == 7
    assert run.chunks_done == 3
    assert run.finished_at >= run.started_at
    assert HealthScore.objects.filter(run=run).count() == 7
    assert set(AccountHealth.objects.values_list("score", flat=True)) == {90.0}


@pytest.mark.django_db
def test_processing_a_chunk_twice_adds_nothing():
    usage_model()
    accounts_with_logins(4, 10, NOW - dt.timedelta(days=1))
    run = scoring_run_create(as_of=NOW, chunk_size=2)
    chunk = run.chunks.first()

    assert scoring_chunk_process(chunk_id=chunk.pk) is True
    assert scoring_chunk_process(chunk_id=chunk.pk) is False  # a redelivered message

    run.refresh_from_db()
    assert run.accounts_scored == 2
    assert HealthScore.objects.filter(run=run).count() == 2


@pytest.mark.django_db
def test_a_band_change_and_a_score_drop_are_each_recorded_once():
    usage_model()
    [account] = accounts_with_logins(1, 18, NOW - dt.timedelta(days=3))  # 90: Healthy
    scoring_run_execute(run=scoring_run_create(as_of=NOW - dt.timedelta(days=2)))
    add_signal(account, "logins", 6, NOW - dt.timedelta(hours=5))  # 30: At-risk

    run = scoring_run_execute(run=scoring_run_create(as_of=NOW))

    events = {
        e.kind: e for e in ScoreEvent.objects.filter(run=run).select_related("from_band", "to_band")
    }
    assert set(events) == {"band_changed", "score_dropped"}
    change = events["band_changed"]
    assert (change.from_band.name, change.to_band.name) == ("Healthy", "At-risk")
    assert (change.score_before, change.score_after) == (90, 30)
    assert run.band_changes == 1 and run.score_drops == 1
    health = AccountHealth.objects.get(account=account)
    assert health.score == 30
    assert health.trend_7d is None  # no score 7 days before the run

    # A third run with no new data changes nothing and records nothing.
    again = scoring_run_execute(run=scoring_run_create(as_of=NOW + dt.timedelta(hours=1)))
    assert again.band_changes == 0 and ScoreEvent.objects.count() == 2


@pytest.mark.django_db
def test_trends_compare_with_the_score_days_earlier():
    usage_model()
    [account] = accounts_with_logins(1, 10, NOW - dt.timedelta(days=40))  # 50
    scoring_run_execute(run=scoring_run_create(as_of=NOW - dt.timedelta(days=31)))
    add_signal(account, "logins", 16, NOW - dt.timedelta(days=10))  # 80
    scoring_run_execute(run=scoring_run_create(as_of=NOW - dt.timedelta(days=8)))
    add_signal(account, "logins", 14, NOW - dt.timedelta(days=1))  # 70

    scoring_run_execute(run=scoring_run_create(as_of=NOW))

    health = AccountHealth.objects.get(account=account)
    assert health.score == 70
    assert health.trend_7d == pytest.approx(-10)
    assert health.trend_30d == pytest.approx(20)
    assert health.trend_90d is None


@pytest.mark.django_db
def test_the_most_specific_active_model_scores_an_account():
    usage_model()
    make_model(
        "enterprise",
        segment="enterprise",
        components=[
            {
                "metric": "logins",
                "rule": "linear",
                "params": {"worst": 0, "best": 40},
                "weight": 100,
            }
        ],
        bands=[("Low", 0), ("High", 50)],
    )
    smb = AccountFactory(segment="smb")
    big = AccountFactory(segment="enterprise")
    for account in (smb, big):
        add_signal(account, "logins", 20, NOW - dt.timedelta(days=1))

    scoring_run_execute(run=scoring_run_create(as_of=NOW))

    scores = dict(AccountHealth.objects.values_list("account_id", "score"))
    assert scores == {smb.pk: 100.0, big.pk: 50.0}


@pytest.mark.django_db
def test_segment_and_single_account_runs_touch_only_their_scope():
    usage_model()
    smb = accounts_with_logins(2, 10, NOW - dt.timedelta(days=1))
    big = AccountFactory(segment="enterprise")
    add_signal(big, "logins", 10, NOW - dt.timedelta(days=1))

    seg = scoring_run_execute(
        run=scoring_run_create(scope="segment", segment="enterprise", as_of=NOW)
    )
    one = scoring_run_execute(run=scoring_run_create(scope="account", account=smb[0], as_of=NOW))

    assert list(HealthScore.objects.filter(run=seg).values_list("account_id", flat=True)) == [
        big.pk
    ]
    assert list(HealthScore.objects.filter(run=one).values_list("account_id", flat=True)) == [
        smb[0].pk
    ]


@pytest.mark.django_db
def test_a_single_account_run_whose_account_was_deleted_finishes_with_nothing_scored():
    usage_model()
    [account] = accounts_with_logins(1, 10, NOW - dt.timedelta(days=1))
    run = scoring_run_create(scope="account", account=account, as_of=NOW)
    account.delete()  # the run keeps its scope; its account becomes NULL

    run = scoring_run_execute(run=run)

    assert run.status == ScoringRun.Status.SUCCEEDED
    assert (run.account_id, run.accounts_scored) == (None, 0)
    assert not HealthScore.objects.filter(run=run).exists()


@pytest.mark.django_db
def test_churned_accounts_are_not_scored():
    usage_model()
    [gone] = accounts_with_logins(1, 10, NOW - dt.timedelta(days=3))
    gone.churned_at = (NOW - dt.timedelta(days=2)).date()
    gone.save(update_fields=["churned_at"])
    run = scoring_run_execute(run=scoring_run_create(as_of=NOW))
    assert run.accounts_total == 0
    assert not HealthScore.objects.exists()


@pytest.mark.django_db
def test_recompute_scores_command_reports_the_run(capsys):
    usage_model()
    accounts = accounts_with_logins(3, 20, NOW - dt.timedelta(days=1))
    call_command("recompute_scores", "--as-of", NOW.isoformat())
    call_command("recompute_scores", "--account", accounts[0].external_id)
    out = capsys.readouterr().out
    assert "3 of 3 accounts scored" in out
    assert "1 of 1 accounts scored" in out


@pytest.mark.django_db
def test_a_past_dated_recompute_says_whether_the_latest_scores_changed(capsys):
    usage_model()
    accounts = accounts_with_logins(3, 20, NOW - dt.timedelta(days=40))
    earlier, later = NOW - dt.timedelta(days=30), NOW - dt.timedelta(days=10)
    call_command("recompute_scores", "--as-of", later.isoformat())
    assert "it is now the latest score of 3 accounts." in capsys.readouterr().out

    call_command("recompute_scores", "--as-of", earlier.isoformat())
    out = capsys.readouterr().out
    assert "3 of 3 accounts scored" in out
    assert (
        f"History written as of {earlier:%Y-%m-%d %H:%M} UTC, but the latest scores did not "
        f"change: 3 accounts have a newer score (the newest from {later:%Y-%m-%d %H:%M} UTC)"
    ) in out
    assert set(AccountHealth.objects.values_list("computed_at", flat=True)) == {later}

    newcomer = AccountFactory(contract_start=(NOW - dt.timedelta(days=60)).date())
    add_signal(newcomer, "logins", 5, NOW - dt.timedelta(days=40))
    call_command("recompute_scores", "--as-of", earlier.isoformat())
    out = capsys.readouterr().out
    assert "but it is now the latest score of 1 account: 3 accounts have a newer score" in out
    assert AccountHealth.objects.get(account=newcomer).computed_at == earlier
    assert len(accounts) == 3


@pytest.mark.django_db
def test_recompute_scores_command_rejects_unknown_accounts():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No account with external id 'nope'"):
        call_command("recompute_scores", "--account", "nope")


def scored_once(run: ScoringRun, total: int) -> None:
    run.refresh_from_db()
    assert run.status == ScoringRun.Status.SUCCEEDED
    assert run.accounts_scored == run.accounts_total == total
    assert run.chunks_done == run.chunks_total
    per_account = HealthScore.objects.filter(run=run).values("account").annotate(n=Count("id"))
    assert len(per_account) == total
    assert {row["n"] for row in per_account} == {1}


def finish_with_the_watchdog(run: ScoringRun, workers, *, timeout: float = 120) -> None:
    """Wait for the run, calling the watchdog as beat would (with a short stall window)."""
    from scoring.tasks import resume_stale_runs

    def done() -> bool:
        resume_stale_runs()
        return ScoringRun.objects.get(pk=run.pk).status == ScoringRun.Status.SUCCEEDED

    with override_settings(VITALS_RECOMPUTE_STALL_AFTER=2):
        wait_for(done, timeout=timeout, interval=0.5, message=f"the run; logs:\n{workers.logs()}")
    time.sleep(1)  # any duplicate message still in flight would land now


def test_a_killed_workers_chunk_is_scored_again_and_nothing_twice(celery_worker_process):
    """SIGKILL a worker mid-chunk: its chunk is free again as soon as its database
    session ends; the run's other messages and the watchdog finish the run, with every
    account scored exactly once."""
    from scoring.tasks import scoring_run_dispatch

    usage_model()
    accounts_with_logins(300, 12, NOW - dt.timedelta(days=1))
    run = scoring_run_create(as_of=NOW, chunk_size=10)
    assert run.chunks_total == 30

    first = celery_worker_process.start(concurrency=2)
    assert scoring_run_dispatch(run.pk) == 30
    wait_for(
        lambda: ScoringRunChunk.objects.filter(run=run, done=True).count() >= 3,
        timeout=60,
        message="the first chunks",
    )
    celery_worker_process.kill(first)
    done_at_kill = ScoringRunChunk.objects.filter(run=run, done=True).count()
    assert done_at_kill < 30, "the worker finished before it could be killed"

    second = celery_worker_process.start(concurrency=2)
    finish_with_the_watchdog(run, celery_worker_process)
    celery_worker_process.kill(second)

    scored_once(run, 300)


def test_messages_lost_with_the_broker_are_sent_again_by_the_watchdog(celery_worker_process):
    """Every queued message of a run vanishes (a broker restarted empty): the run stops
    moving, and the watchdog sends its free chunks again."""
    from config.celery import app
    from scoring.tasks import scoring_run_dispatch

    usage_model()
    accounts_with_logins(60, 12, NOW - dt.timedelta(days=1))
    run = scoring_run_create(as_of=NOW, chunk_size=10)
    scoring_run_dispatch(run.pk)
    app.control.purge()  # no worker has seen them: all six messages are gone
    assert ScoringRunChunk.objects.filter(run=run, done=True).count() == 0

    celery_worker_process.start(concurrency=2)
    finish_with_the_watchdog(run, celery_worker_process)
    scored_once(run, 60)


@pytest.mark.django_db
def test_the_watchdog_waits_while_a_run_moves_and_sends_once_it_stops():
    from scoring.services import scoring_run_stalled_chunks

    usage_model()
    accounts_with_logins(30, 12, NOW - dt.timedelta(days=1))
    run = scoring_run_create(as_of=NOW, chunk_size=10)
    chunks = ScoringRunChunk.objects.filter(run=run)
    chunks.update(dispatched_at=NOW)
    with override_settings(VITALS_RECOMPUTE_STALL_AFTER=20):
        assert scoring_run_stalled_chunks(run_id=run.pk, now=NOW + dt.timedelta(seconds=10)) == []
        # A chunk claimed a moment ago is busy: the run is alive.
        chunks.filter(index=0).update(claimed_at=NOW + dt.timedelta(seconds=29))
        assert scoring_run_stalled_chunks(run_id=run.pk, now=NOW + dt.timedelta(seconds=30)) == []
        # Nothing claimed, finished or sent for 20 s: every free chunk, once.
        later = NOW + dt.timedelta(seconds=50)
        assert len(scoring_run_stalled_chunks(run_id=run.pk, now=later)) == 3
        assert scoring_run_stalled_chunks(run_id=run.pk, now=later) == []
        assert set(chunks.values_list("dispatched_at", flat=True)) == {later}


@pytest.mark.django_db
def test_a_claim_takes_the_first_free_chunk_and_leaves_a_fresh_claim_alone():
    from scoring.services.workers import CLAIM_GRACE, scoring_chunk_claim

    usage_model()
    accounts_with_logins(30, 12, NOW - dt.timedelta(days=1))
    run = scoring_run_create(as_of=NOW, chunk_size=10)
    first, second, third = run.chunks.order_by("index")

    assert scoring_chunk_claim(run_id=run.pk, now=NOW) == first.pk
    assert scoring_chunk_claim(run_id=run.pk, now=NOW) == second.pk
    scoring_chunk_process(chunk_id=second.pk)
    assert scoring_chunk_claim(run_id=run.pk, now=NOW) == third.pk
    assert scoring_chunk_claim(run_id=run.pk, now=NOW) is None
    # The first one's claimer never came back: after the grace, it is free again.
    assert scoring_chunk_claim(run_id=run.pk, now=NOW + CLAIM_GRACE * 2) == first.pk
