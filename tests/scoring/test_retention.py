"""The retention policy: compaction keeps exactly what the tiers say, over random
histories, again and again; what the latest health and score events point at stays;
raw signals are removed only where no roll-up window reaches, so scores as of the dates
kept are exact, and backtests and score_as_of refuse the dates that are not."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection

from scoring import partitions
from scoring.analysis.asof import account_score_as_of, as_of_moment
from scoring.analysis.backtest import backtest_run
from scoring.analysis.preview import score_rows_as_of
from scoring.errors import ScoringError
from scoring.models import (
    AccountHealth,
    CompactionRun,
    HealthScore,
    RetentionPolicy,
    ScoreEvent,
    Signal,
)
from scoring.services import (
    history_compact,
    retention_policy_save,
    retention_tiers,
    scoring_run_create,
    scoring_run_execute,
)
from tests.factories import AccountFactory
from tests.scoring.builders import add_signal, make_model
from tests.scoring.test_recompute_runs import usage_model

NOW = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)


def week_end(at: dt.datetime) -> dt.datetime:
    monday = (at - dt.timedelta(days=at.weekday())).replace(hour=0, minute=0, second=0)
    return monday + dt.timedelta(days=7)


def month_end(at: dt.datetime) -> dt.datetime:
    return dt.datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=dt.UTC)


def expected(rows, *, policy: RetentionPolicy, now: dt.datetime, protected: set[int]) -> set[int]:
    """The policy's text, in Python: what compaction must leave of ``rows``
    (id, account id, computed_at)."""
    tiers = retention_tiers(policy=policy, now=now)
    if tiers is None:
        return {r[0] for r in rows}
    kept = set()
    for rid, account, at in rows:
        if rid in protected or at >= tiers.daily:
            kept.add(rid)
            continue
        if tiers.monthly is not None and at < tiers.monthly:
            continue
        if at >= tiers.weekly:
            limit = min(week_end(at), tiers.daily)
        else:
            limit = min(month_end(at), tiers.weekly)
        later = any(a == account and (qat, qid) > (at, rid) and qat < limit for qid, a, qat in rows)
        if not later:
            kept.add(rid)
    return kept


def random_history(rng: random.Random, model, accounts) -> None:
    scores = []
    for account in accounts:
        at = NOW - dt.timedelta(days=rng.randint(300, 1500))
        while at < NOW:
            scores.append(
                HealthScore(
                    account=account,
                    model=model,
                    score=rng.uniform(0, 100),
                    completeness=1.0,
                    computed_at=at.replace(microsecond=0),
                )
            )
            at += dt.timedelta(
                seconds=rng.choice([3600, 86400, 86400, 3 * 86400, 20 * 86400])
                + rng.randint(0, 7200)
            )
    HealthScore.objects.bulk_create(scores)
    rows = list(
        HealthScore.objects.filter(account__in=accounts).values_list(
            "id", "account_id", "computed_at"
        )
    )
    for account in accounts:
        mine = [r for r in rows if r[1] == account.pk]
        latest = max(mine, key=lambda r: (r[2], r[0]))
        AccountHealth.objects.create(
            account=account,
            health_score_id=rng.choice([latest, *mine])[0],
            model=model,
            score=1.0,
            completeness=1.0,
            computed_at=latest[2],
        )
        for rid, _, at in rng.sample(mine, min(3, len(mine))):
            ScoreEvent.objects.create(
                kind="band_changed", account=account, health_score_id=rid, created_at=at
            )


POLICIES = [
    RetentionPolicy(daily_days=400, weekly_days=730, monthly_days=None),
    RetentionPolicy(daily_days=92, weekly_days=0, monthly_days=365),
    RetentionPolicy(daily_days=100, weekly_days=200, monthly_days=0),
    RetentionPolicy(daily_days=120, weekly_days=60, monthly_days=300),
    RetentionPolicy(keep_everything=True),
]


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(10))
def test_compaction_keeps_exactly_what_the_policy_says(seed):
    rng = random.Random(seed)
    model = usage_model()
    accounts = AccountFactory.create_batch(rng.randint(1, 3))
    random_history(rng, model, accounts)
    policy = POLICIES[seed % len(POLICIES)]
    now = NOW - dt.timedelta(seconds=rng.randint(0, 86400 * 3))
    tiers = retention_tiers(policy=policy, now=now)
    rows = list(HealthScore.objects.values_list("id", "account_id", "computed_at"))
    protected = set(AccountHealth.objects.values_list("health_score_id", flat=True))
    events = ScoreEvent.objects.all()
    if tiers and tiers.monthly is not None:
        events = events.filter(created_at__gte=tiers.monthly)
    protected |= set(events.values_list("health_score_id", flat=True))
    want = expected(rows, policy=policy, now=now, protected=protected)

    run = history_compact(now=now, policy=policy, slice_size=2)

    assert set(HealthScore.objects.values_list("id", flat=True)) == want
    assert run.scores_removed == len(rows) - len(want) and run.finished_at
    # Nothing left points at a removed score.
    assert set(AccountHealth.objects.values_list("health_score_id", flat=True)) <= want
    assert set(ScoreEvent.objects.values_list("health_score_id", flat=True)) <= want
    # Again, at once or a little later (looking only where the tiers' edges moved):
    # what the later moment's tiers say of the rows left, and a full pass finds no more.
    assert history_compact(now=now, policy=policy).scores_removed == 0
    later = now + dt.timedelta(days=rng.randint(0, 5), seconds=rng.randint(1, 86400))
    rows = list(HealthScore.objects.values_list("id", "account_id", "computed_at"))
    protected = set(AccountHealth.objects.values_list("health_score_id", flat=True))
    events = ScoreEvent.objects.all()
    tiers = retention_tiers(policy=policy, now=later)
    if tiers and tiers.monthly is not None:
        events = events.filter(created_at__gte=tiers.monthly)
    protected |= set(events.values_list("health_score_id", flat=True))
    again = history_compact(now=later, policy=policy)
    assert not again.full or policy.keep_everything
    assert set(HealthScore.objects.values_list("id", flat=True)) == expected(
        rows, policy=policy, now=later, protected=protected
    )
    assert history_compact(now=later, policy=policy, full=True).scores_removed == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's")
@pytest.mark.django_db
def test_months_past_every_tier_are_dropped_whole_unless_a_latest_health_is_there():
    model = usage_model()
    old, kept = AccountFactory.create_batch(2)
    partitions.history_partitions_ensure(
        now=NOW, since=dt.datetime(2023, 1, 1, tzinfo=dt.UTC), ahead=0
    )
    for account in (old, kept):
        HealthScore.objects.bulk_create(
            HealthScore(account=account, model=model, score=50.0, completeness=1.0, computed_at=at)
            for at in [dt.datetime(2023, 2, d, tzinfo=dt.UTC) for d in (1, 2)]
            + [dt.datetime(2023, 3, 5, tzinfo=dt.UTC), NOW - dt.timedelta(days=1)]
        )
    # A churned account's last score, long ago, in March 2023.
    march = HealthScore.objects.get(account=kept, computed_at__month=3, computed_at__year=2023)
    AccountHealth.objects.create(
        account=kept,
        health_score=march,
        model=model,
        score=50.0,
        completeness=1.0,
        computed_at=march.computed_at,
    )
    ScoreEvent.objects.create(
        kind="band_changed",
        account=old,
        health_score=HealthScore.objects.filter(account=old).first(),
        created_at=dt.datetime(2023, 2, 1, tzinfo=dt.UTC),
    )
    policy = RetentionPolicy(daily_days=100, weekly_days=100, monthly_days=100)

    run = history_compact(now=NOW, policy=policy)

    assert "scoring_healthscore_p202302" in run.partitions_dropped
    assert "scoring_healthscore_p202303" not in run.partitions_dropped
    names = {p.name for p in partitions.history_partitions()}
    assert "scoring_healthscore_p202302" not in names
    assert not ScoreEvent.objects.exists()
    assert set(HealthScore.objects.values_list("computed_at", flat=True)) == {
        march.computed_at,
        NOW - dt.timedelta(days=1),
    }


@pytest.mark.django_db
def test_trends_and_the_90_day_chart_are_the_same_after_compaction_under_the_default_policy():
    usage_model()
    [account] = AccountFactory.create_batch(1)
    rng = random.Random(7)
    start = NOW - dt.timedelta(days=500)
    for day in range(0, 500, 9):
        add_signal(account, "logins", rng.uniform(0, 20), start + dt.timedelta(days=day))
    for day in range(0, 500, 3):
        scoring_run_execute(run=scoring_run_create(as_of=start + dt.timedelta(days=day)))
    chart_from = NOW - dt.timedelta(days=91)

    def chart():
        return list(
            HealthScore.objects.filter(computed_at__gte=chart_from).values_list("id", "score")
        )

    def score_at_or_before(days: int) -> float:
        moment = NOW - dt.timedelta(days=days)
        return HealthScore.objects.filter(computed_at__lte=moment).order_by("-computed_at")[0].score

    before_chart = chart()
    before = {days: score_at_or_before(days) for days in (7, 30, 90)}

    history_compact(now=NOW, policy=RetentionPolicy())

    assert HealthScore.objects.filter(computed_at__lt=NOW - dt.timedelta(days=400)).count() < 30
    assert chart() == before_chart
    scoring_run_execute(run=scoring_run_create(as_of=NOW))
    after = AccountHealth.objects.get(account=account)
    for days, trend in [(7, after.trend_7d), (30, after.trend_30d), (90, after.trend_90d)]:
        assert trend == pytest.approx(after.score - before[days])


def model_with_windows():
    return make_model(
        "windows",
        components=[
            {
                "metric": {"key": "logins", "rollup": "sum", "window_days": 30},
                "rule": "linear",
                "params": {"worst": 0, "best": 60},
                "weight": 60,
            },
            {
                "metric": {"key": "nps", "rollup": "latest"},
                "rule": "linear",
                "params": {"worst": -100, "best": 100},
                "weight": 40,
            },
        ],
        bands=[("At-risk", 0), ("Healthy", 60)],
    )


@pytest.mark.django_db
def test_signals_retention_keeps_what_roll_up_windows_read_and_as_of_scores_stay_exact():
    model = model_with_windows()
    accounts = AccountFactory.create_batch(4, contract_start=(NOW - dt.timedelta(days=400)).date())
    rng = random.Random(3)
    for account in accounts:
        for day in range(0, 300, 2):
            add_signal(account, "logins", rng.randint(0, 5), NOW - dt.timedelta(days=day, hours=5))
        # NPS answered rarely: the last answer is old, and still the latest value.
        add_signal(account, "nps", rng.randint(-100, 100), NOW - dt.timedelta(days=250))
        add_signal(account, "nps", rng.randint(-100, 100), NOW - dt.timedelta(days=280))
    ids = [a.pk for a in accounts]
    days = [NOW.date() - dt.timedelta(days=d) for d in (1, 20, 40, 60, 61, 90, 150)]
    before = {
        d: score_rows_as_of(model=model, account_ids=ids, as_of=as_of_moment(d)) for d in days
    }
    policy = RetentionPolicy(keep_everything=True, signals_enabled=True, signals_margin_days=60)
    retention_policy_save(policy=policy)

    run = history_compact(now=NOW, policy=policy)

    cutoff = NOW - dt.timedelta(days=30 + 60)
    assert run.signals_cutoff == cutoff and run.signals_removed > 0
    assert not Signal.objects.filter(
        metric__key="logins", timestamp__lt=cutoff - dt.timedelta(days=2)
    ).exists()
    # Each account's latest NPS before the cutoff is kept; the older one is not.
    assert Signal.objects.filter(metric__key="nps").count() == len(accounts)
    assert set(Signal.objects.filter(metric__key="nps").values_list("timestamp", flat=True)) == {
        NOW - dt.timedelta(days=250)
    }
    for d in days:
        if as_of_moment(d) >= cutoff + dt.timedelta(days=30):
            assert (
                score_rows_as_of(model=model, account_ids=ids, as_of=as_of_moment(d)) == before[d]
            )
    # Idempotent: nothing more to remove.
    assert history_compact(now=NOW, policy=policy).signals_removed == 0

    lost = NOW.date() - dt.timedelta(days=90)
    with pytest.raises(ScoringError) as refused:
        backtest_run(
            model=model, dates=[lost, NOW.date() - dt.timedelta(days=20)], today=NOW.date()
        )
    message = str(refused.value)
    assert f"{lost:%Y-%m-%d}" in message and "retention policy" in message
    assert f"{NOW.date() - dt.timedelta(days=20):%Y-%m-%d}" not in message.split("The earliest")[0]
    with pytest.raises(ScoringError, match="can no longer be scored exactly"):
        account_score_as_of(account=accounts[0], as_of=as_of_moment(lost), model=model)
    kept = account_score_as_of(
        account=accounts[0], as_of=as_of_moment(NOW.date() - dt.timedelta(days=20)), model=model
    )
    assert kept.score == before[NOW.date() - dt.timedelta(days=20)][0][1]


@pytest.mark.django_db
def test_the_backtest_command_names_the_dates_it_can_no_longer_reproduce():
    model = model_with_windows()
    CompactionRun.objects.create(
        started_at=NOW, as_of=NOW, policy="test", signals_cutoff=NOW - dt.timedelta(days=90)
    )
    with pytest.raises(CommandError, match=r"retention policy.*2026-08-01"):
        call_command("backtest", model.key, "--as-of", "2026-08-01")


@pytest.mark.django_db
def test_an_invalid_policy_is_refused_and_nothing_is_saved():
    with pytest.raises(ValidationError) as refused:
        retention_policy_save(policy=RetentionPolicy(daily_days=30))
    assert "daily_days" in refused.value.message_dict
    assert not RetentionPolicy.objects.exists()
    assert RetentionPolicy.current().daily_days == 400


@pytest.mark.django_db
def test_the_admin_edits_the_one_policy(client_as, ada):
    client = client_as(ada)
    page = client.get("/admin/scoring/retentionpolicy/")
    assert page.status_code == 302
    url = page["Location"]
    form = {
        "daily_days": "30",
        "weekly_days": "700",
        "monthly_days": "",
        "signals_margin_days": "90",
    }
    refused = client.post(url, form)
    assert refused.status_code == 200 and "At least 92 days" in refused.content.decode()
    assert not RetentionPolicy.objects.exists()
    form["daily_days"] = "200"
    assert client.post(url, form).status_code == 302
    assert RetentionPolicy.current().daily_days == 200 and RetentionPolicy.objects.count() == 1


@pytest.mark.django_db
def test_the_compact_history_command_reports_what_it_removed():
    import io

    out = io.StringIO()
    call_command("compact_history", "--as-of", "2026-11-20T03:00:00Z", stdout=out)
    assert "Policy: every score for 400 days" in out.getvalue()
    assert "0 scores removed" in out.getvalue()


@pytest.mark.django_db
def test_the_daily_history_job_makes_partitions_ahead_and_compacts():
    from django.utils import timezone

    from scoring.tasks import maintain_history

    run_id = maintain_history()

    run = CompactionRun.objects.get(pk=run_id)
    assert run.finished_at and run.policy.startswith("every score for 400 days")
    if partitions.is_partitioned():
        ahead = partitions.month_start(timezone.now())
        for _ in range(3):
            ahead = partitions.next_month(ahead)
        assert partitions.partition_name(ahead) in {p.name for p in partitions.history_partitions()}


@pytest.mark.django_db
def test_the_backtest_page_says_which_dates_it_can_no_longer_reproduce(client_as, ada):
    from django.urls import reverse

    from scoring.models import AnalysisJob

    model = model_with_windows()
    CompactionRun.objects.create(
        started_at=NOW, as_of=NOW, policy="test", signals_cutoff=NOW - dt.timedelta(days=90)
    )
    url = reverse("admin:scoring_scoringmodel_backtest", args=[model.pk])

    page = client_as(ada).post(url, {"as_of": "2026-08-01", "horizon": "30", "segment": ""})

    # Refused on the form, before a job is started.
    html = page.content.decode()
    assert page.status_code == 200
    assert "2026-08-01 can no longer be scored exactly" in html
    assert "retention policy" in html
    assert not AnalysisJob.objects.exists()


@pytest.mark.django_db
def test_a_compaction_stopped_half_way_is_finished_by_the_next(monkeypatch):
    from scoring.services import history

    rng = random.Random(11)
    model = usage_model()
    accounts = AccountFactory.create_batch(3)
    random_history(rng, model, accounts)
    policy = RetentionPolicy(daily_days=100, weekly_days=200, monthly_days=None)
    rows = list(HealthScore.objects.values_list("id", "account_id", "computed_at"))
    protected = set(AccountHealth.objects.values_list("health_score_id", flat=True)) | set(
        ScoreEvent.objects.values_list("health_score_id", flat=True)
    )
    real = history._scores_compact_sql
    calls = []

    def dies_on_the_second_slice(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("worker lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(history, "_scores_compact_sql", dies_on_the_second_slice)
    with pytest.raises(RuntimeError):
        history_compact(now=NOW, policy=policy, slice_size=1)
    stopped = CompactionRun.objects.get()
    assert stopped.finished_at is None and stopped.scores_removed > 0
    monkeypatch.setattr(history, "_scores_compact_sql", real)

    history_compact(now=NOW, policy=policy, slice_size=1)

    assert set(HealthScore.objects.values_list("id", flat=True)) == expected(
        rows, policy=policy, now=NOW, protected=protected
    )
