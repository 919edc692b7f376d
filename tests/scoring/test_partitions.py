"""Score history partitioned by month on PostgreSQL: partitions made ahead, a month
without one caught by the default partition and moved out when it is made, the table
converted with its rows by the migration, and the history's integrity held without
foreign keys to it. SQLite keeps one plain table."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import Account
from scoring import partitions
from scoring.models import AccountHealth, HealthScore, ScoreEvent
from scoring.services import scoring_run_create, scoring_run_execute
from tests.scoring.builders import add_signal
from tests.scoring.test_recompute_runs import accounts_with_logins, usage_model

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="partitions are PostgreSQL's"
)


def partition_of(score_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM scoring_healthscore WHERE id = %s", [score_id]
        )
        return cursor.fetchone()[0]


def attached() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'scoring_healthscore'::regclass"
        )
        return {name for (name,) in cursor.fetchall()}


@postgres_only
@pytest.mark.django_db
def test_the_history_is_partitioned_by_month_with_a_default_partition():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT partstrat, a.attname FROM pg_partitioned_table p JOIN pg_attribute a"
            " ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]"
            " WHERE p.partrelid = 'scoring_healthscore'::regclass"
        )
        assert cursor.fetchone() == ("r", "computed_at")
    assert "scoring_healthscore_default" in attached()


@postgres_only
@pytest.mark.django_db
def test_partitions_are_made_ahead_once():
    now = dt.datetime(2031, 11, 20, tzinfo=dt.UTC)

    created = partitions.history_partitions_ensure(now=now, ahead=3)

    months = ["203111", "203112", "203201", "203202"]
    assert created == [f"scoring_healthscore_p{m}" for m in months]
    assert set(created) <= attached()
    assert partitions.history_partitions_ensure(now=now, ahead=3) == []
    bounds = {p.name: (p.start, p.end) for p in partitions.history_partitions()}
    assert bounds["scoring_healthscore_p203112"] == (
        dt.datetime(2031, 12, 1, tzinfo=dt.UTC),
        dt.datetime(2032, 1, 1, tzinfo=dt.UTC),
    )


@postgres_only
@pytest.mark.django_db
def test_a_score_in_a_month_without_a_partition_waits_in_the_default_one_and_moves_when_it_is_made():
    usage_model()
    [account] = accounts_with_logins(1, 10, dt.datetime(2033, 4, 1, tzinfo=dt.UTC))
    run = scoring_run_execute(run=scoring_run_create(as_of=dt.datetime(2033, 5, 10, tzinfo=dt.UTC)))
    score = HealthScore.objects.get(run=run)
    assert partition_of(score.pk) == "scoring_healthscore_default"
    assert partitions.history_partitions_default_months() == [
        dt.datetime(2033, 5, 1, tzinfo=dt.UTC)
    ]

    # The job runs again later: it makes the months ahead and the month that was missed.
    created = partitions.history_partitions_ensure(
        now=dt.datetime(2033, 7, 2, tzinfo=dt.UTC), ahead=0
    )

    assert created == ["scoring_healthscore_p203305", "scoring_healthscore_p203307"]
    assert partition_of(score.pk) == "scoring_healthscore_p203305"
    assert partitions.history_partitions_default_months() == []
    # The moved row is the same row, still the account's latest.
    assert AccountHealth.objects.get(account=account).health_score_id == score.pk
    assert HealthScore.objects.get(pk=score.pk).score == score.score


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite's plain table")
@pytest.mark.django_db
def test_sqlite_keeps_one_plain_table():
    assert not partitions.is_partitioned()
    assert partitions.history_partitions() == []
    assert partitions.history_partitions_ensure(now=dt.datetime(2031, 1, 1, tzinfo=dt.UTC)) == []


@pytest.mark.django_db
def test_the_latest_health_and_events_point_at_history_rows_and_go_with_their_account():
    usage_model()
    at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    accounts = accounts_with_logins(3, 20, at)
    scoring_run_execute(run=scoring_run_create(as_of=at + dt.timedelta(days=1)))
    for account in accounts:
        add_signal(account, "logins", 2, at + dt.timedelta(days=1, hours=1))  # a score drop
    scoring_run_execute(run=scoring_run_create(as_of=at + dt.timedelta(days=2)))

    history = set(HealthScore.objects.values_list("id", flat=True))
    assert set(AccountHealth.objects.values_list("health_score_id", flat=True)) <= history
    assert ScoreEvent.objects.exists()
    assert set(ScoreEvent.objects.values_list("health_score_id", flat=True)) <= history

    accounts[0].delete()

    left = set(HealthScore.objects.values_list("id", flat=True))
    assert not HealthScore.objects.filter(account_id=accounts[0].pk).exists()
    assert set(AccountHealth.objects.values_list("health_score_id", flat=True)) <= left
    assert set(ScoreEvent.objects.values_list("health_score_id", flat=True)) <= left
    assert AccountHealth.objects.count() == 2


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_migration_converts_a_populated_table_and_back():
    usage_model()
    at = dt.datetime(2026, 9, 15, tzinfo=dt.UTC)
    accounts_with_logins(4, 12, at)
    for days in (1, 40):
        scoring_run_execute(run=scoring_run_create(as_of=at + dt.timedelta(days=days)))
    rows = sorted(HealthScore.objects.values_list("id", "account_id", "score", "computed_at"))
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("scoring", "0007_chunk_claims")])
        assert not partitions.is_partitioned()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, account_id, score, computed_at FROM scoring_healthscore ORDER BY id"
            )
            assert cursor.fetchall() == rows
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes("scoring"))

    assert partitions.is_partitioned()
    assert (
        sorted(HealthScore.objects.values_list("id", "account_id", "score", "computed_at")) == rows
    )
    months = {p.start for p in partitions.history_partitions() if p.start}
    assert {
        dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
    } <= months
    assert partition_of(rows[0][0]) == "scoring_healthscore_p202609"
    # Ids go on after the copied ones, and the recompute writes into the new table.
    scoring_run_execute(run=scoring_run_create(as_of=at + dt.timedelta(days=60)))
    assert HealthScore.objects.order_by("-id").first().pk > rows[-1][0]
    assert (
        Account.objects.count()
        == HealthScore.objects.filter(computed_at=at + dt.timedelta(days=60)).count()
    )
