"""Keeping the history bounded: the retention policy (``scoring.models.RetentionPolicy``)
applied to score history and raw signals, and the history partitions made ahead.

``history_maintain`` is what the daily job runs (``scoring.tasks.maintain_history``):
partitions first (``scoring.partitions``), then ``history_compact``.

Compaction, given a moment ``now`` and the policy:

- score history: a score older than the daily tier is removed when a later score of the
  same account lies in its bucket (its week in the weekly tier, its month in the monthly
  tier, each bucket cut at the tier's edges); what is left is each bucket's last score.
  Scores older than every tier (a finite monthly tier) are removed. A score the latest
  health or a score event points at is never removed, except score events older than
  every tier, which go with their scores. On PostgreSQL a monthly partition entirely
  older than every tier that nothing points at is dropped whole (the fast path).
- raw signals (``signals_enabled``): signals older than the longest roll-up window of any
  model version plus the policy's margin are removed, except each account's latest
  signal of each metric before that moment, which latest-value and days-since roll-ups
  still read. Scores as of a moment at least the longest window after the cutoff are
  computed from the same signals as before, exactly; earlier ones are not, and
  backtests and ``score_as_of`` refuse them (``scoring.analysis.asof``).

Both work through the accounts in slices of ids, one transaction each: a stopped run
has finished slices and untouched ones, and running again (or twice) removes nothing
more than the policy says. Which rows a run keeps depends only on the rows and ``now``.
A run looks only at the stretches of history where the tiers' edges moved since the
last run, with a full pass at least weekly (``_windows``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max

from accounts.models import Account
from scoring import partitions, sql
from scoring.models import (
    CompactionRun,
    Metric,
    RetentionPolicy,
    ScoreEvent,
    ScoringComponent,
    ScoringRun,
    look_back_days,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tiers:
    """The edges of the policy's tiers at a moment: daily from ``daily``, weekly from
    ``weekly`` to ``daily``, monthly from ``monthly`` (None: for ever) to ``weekly``."""

    daily: dt.datetime
    weekly: dt.datetime
    monthly: dt.datetime | None


def retention_tiers(*, policy: RetentionPolicy, now: dt.datetime) -> Tiers | None:
    """The tiers of ``policy`` at ``now``; None when it keeps everything."""
    if policy.keep_everything:
        return None
    daily = now - dt.timedelta(days=policy.daily_days)
    weekly = daily - dt.timedelta(days=policy.weekly_days)
    monthly = None
    if policy.monthly_days is not None:
        monthly = weekly - dt.timedelta(days=policy.monthly_days)
    return Tiers(daily, weekly, monthly)


def longest_window_days() -> int:
    """Days of signals the longest roll-up of any metric or model version looks back
    over (twice the window for a change against the previous window)."""
    longest = 0
    for model in (Metric, ScoringComponent):
        for rollup, window in model.objects.values_list("rollup", "window_days").distinct():
            longest = max(longest, look_back_days(rollup, window))
    return longest


def signals_cutoff(*, policy: RetentionPolicy, now: dt.datetime) -> dt.datetime | None:
    """Raw signals before this moment may be removed; None when signal retention is off."""
    if not policy.signals_enabled:
        return None
    return now - dt.timedelta(days=longest_window_days() + policy.signals_margin_days)


def _bucket_end(vendor: str, column: str, unit: str) -> str:
    """The end of the week (Monday 00:00 UTC) or month ``column`` falls in."""
    if vendor == "postgresql":
        start = f"date_trunc('{unit}', {column} AT TIME ZONE 'UTC')"
        return f"(({start} + interval '1 {unit}') AT TIME ZONE 'UTC')"
    if unit == "week":
        return f"datetime({column}, 'start of day', 'weekday 0', '+1 day')"
    return f"datetime({column}, 'start of month', '+1 month')"


# A full pass over every score older than the daily tier at least this often; in
# between, only the stretches where the tiers' edges moved since the last run.
FULL_PASS_DAYS = 7

Windows = list[tuple[dt.datetime, dt.datetime]]


def _windows(*, policy: RetentionPolicy, tiers: Tiers, now: dt.datetime) -> Windows | None:
    """The stretches of history whose scores can have changed status since the last
    finished compaction under the same policy, or None for a full pass.

    A score outside them that the last run kept keeps its status: its bucket and the
    bucket's end are the same at both moments (a week ends at most 7 days after any
    score in it, a month 31). A full pass runs when there is no such run, the policy
    changed, the clock went back, a recompute dated before the last run's daily edge
    has run since (it wrote scores anywhere in the past), or the last full pass is
    ``FULL_PASS_DAYS`` old (a latest health that moved off an old score)."""
    described = policy.describe()
    done = CompactionRun.objects.filter(finished_at__isnull=False, policy=described).exclude(
        scores_daily_cutoff=None
    )
    last = done.order_by("-started_at", "-id").first()
    last_full = done.filter(full=True).order_by("-started_at", "-id").first()
    if last is None or last_full is None or last.as_of > now:
        return None
    if last_full.as_of < now - dt.timedelta(days=FULL_PASS_DAYS):
        return None
    if ScoringRun.objects.filter(
        created_at__gte=last.started_at, as_of__lt=last.scores_daily_cutoff
    ).exists():
        return None
    before = retention_tiers(policy=policy, now=last.as_of)
    if before is None:
        return None
    windows = [
        (before.daily - dt.timedelta(days=7), tiers.daily),
        (before.weekly - dt.timedelta(days=31), tiers.weekly),
    ]
    if before.monthly is not None and tiers.monthly is not None:
        windows.append((before.monthly, tiers.monthly))
    return windows


def _within(vendor: str, column: str, windows: Windows | None) -> sql.Sql:
    """`` AND (column in one of the windows)``, or nothing for a full pass."""
    if windows is None:
        return sql.Sql()
    ranges = " OR ".join(f"({column} >= %s AND {column} < %s)" for _ in windows)
    return sql.Sql().add(
        f" AND ({ranges})", *[sql.ts(vendor, at) for window in windows for at in window]
    )


def _older_scores(
    vendor: str, prefix: str, first_id: int, last_id: int, before: object, windows: Windows | None
) -> sql.Sql:
    """Scores (columns ``prefix``…) of accounts ``first_id``..``last_id`` computed before
    ``before`` (a bound timestamp), within ``windows`` when given: the rows compaction
    looks at, for its SELECT and its DELETE alike (so the DELETE's range stays
    index-bounded on the partitions)."""
    scope = sql.Sql().add(
        f"{prefix}account_id >= %s AND {prefix}account_id <= %s AND {prefix}computed_at < %s",
        first_id,
        last_id,
        before,
    )
    within = _within(vendor, f"{prefix}computed_at", windows)
    return scope.add(within.text, *within.params)


def _scores_compact_sql(
    vendor: str, tiers: Tiers, first_id: int, last_id: int, windows: Windows | None = None
) -> sql.Sql:
    """DELETE the scores of accounts ``first_id``..``last_id`` that the tiers drop (only
    within ``windows`` when given)."""
    least = "LEAST" if vendor == "postgresql" else "min"
    daily, weekly = sql.ts(vendor, tiers.daily), sql.ts(vendor, tiers.weekly)
    in_weekly = "r.computed_at >= %s"
    # Where r's bucket ends: its week's end in the weekly tier, its month's end in the
    # monthly one, and never past the tier's own end.
    limit = (
        f"CASE WHEN {in_weekly} THEN {least}({_bucket_end(vendor, 'r.computed_at', 'week')}, %s)"
        f" ELSE {least}({_bucket_end(vendor, 'r.computed_at', 'month')}, %s) END"
    )
    statement = sql.Sql().add("SELECT r.id FROM scoring_healthscore r WHERE ")
    scope = _older_scores(vendor, "r.", first_id, last_id, daily, windows)
    statement.add(scope.text, *scope.params)
    statement.add(
        " AND NOT EXISTS (SELECT 1 FROM scoring_accounthealth ah WHERE ah.health_score_id = r.id)"
        " AND NOT EXISTS (SELECT 1 FROM scoring_scoreevent e WHERE e.health_score_id = r.id)"
        " AND ("
    )
    if tiers.monthly is not None:
        statement.add("r.computed_at < %s OR ", sql.ts(vendor, tiers.monthly))
    statement.add(
        "EXISTS (SELECT 1 FROM scoring_healthscore q WHERE q.account_id = r.account_id"
        " AND q.computed_at >= r.computed_at AND (q.computed_at > r.computed_at OR q.id > r.id)"
        f" AND q.computed_at < {limit}))",
        weekly,
        daily,
        weekly,
    )
    delete = sql.Sql().add("DELETE FROM scoring_healthscore WHERE ")
    scope = _older_scores(vendor, "", first_id, last_id, daily, windows)
    delete.add(scope.text + " AND id IN (", *scope.params)
    return delete.add(statement.text, *statement.params).add(")")


def _signals_prune_sql(vendor: str, cutoff: dt.datetime, first_id: int, last_id: int) -> sql.Sql:
    """DELETE the signals of accounts ``first_id``..``last_id`` before ``cutoff`` but the
    latest of each (account, metric) before it (by timestamp, then id, as roll-ups)."""
    at = sql.ts(vendor, cutoff)
    return sql.Sql().add(
        "DELETE FROM scoring_signal WHERE account_id >= %s AND account_id <= %s"
        " AND timestamp < %s AND EXISTS (SELECT 1 FROM scoring_signal s2"
        " WHERE s2.account_id = scoring_signal.account_id"
        " AND s2.metric_id = scoring_signal.metric_id AND s2.timestamp < %s"
        " AND s2.timestamp >= scoring_signal.timestamp"
        " AND (s2.timestamp > scoring_signal.timestamp OR s2.id > scoring_signal.id))",
        first_id,
        last_id,
        at,
        at,
    )


def _droppable_partitions(tiers: Tiers) -> list[str]:
    """Monthly partitions wholly older than every tier that no latest health points at
    (the latest health's computed_at is its score's)."""
    if tiers.monthly is None:
        return []
    names = []
    with connection.cursor() as cursor:
        for part in partitions.history_partitions():
            if part.start is None or part.end is None or part.end > tiers.monthly:
                continue
            cursor.execute(
                "SELECT 1 FROM scoring_accounthealth WHERE computed_at >= %s AND computed_at < %s"
                " LIMIT 1",
                [part.start, part.end],
            )
            if cursor.fetchone() is None:
                names.append(part.name)
    return names


def history_compact(
    *,
    now: dt.datetime,
    policy: RetentionPolicy | None = None,
    slice_size: int | None = None,
    full: bool = False,
) -> CompactionRun:
    """Apply the retention policy as it stands at ``now`` (see the module's docstring);
    ``full``: look at every score older than the daily tier, not only where the tiers'
    edges moved since the last run (``_windows``)."""
    policy = policy or RetentionPolicy.current()
    vendor = sql.vendor()
    tiers = retention_tiers(policy=policy, now=now)
    cutoff = signals_cutoff(policy=policy, now=now)
    windows = None if tiers is None or full else _windows(policy=policy, tiers=tiers, now=now)
    # Recorded before anything is removed: a stopped run still says what it may have done.
    run = CompactionRun.objects.create(
        started_at=dt.datetime.now(dt.UTC),
        as_of=now,
        policy=policy.describe(),
        full=windows is None,
        scores_daily_cutoff=tiers.daily if tiers else None,
        signals_cutoff=cutoff,
    )
    dropped: list[str] = []
    if tiers is not None and tiers.monthly is not None:
        # Score events older than every tier go with their scores (playbook runs that
        # came of them keep their record, without the event: SET_NULL).
        ScoreEvent.objects.filter(created_at__lt=tiers.monthly).delete()
        dropped = _droppable_partitions(tiers)
        with transaction.atomic():
            partitions.history_partitions_drop(names=dropped)
        CompactionRun.objects.filter(pk=run.pk).update(partitions_dropped=dropped)
    scores_removed = signals_removed = 0
    size = slice_size or settings.VITALS_RECOMPUTE_CHUNK_SIZE
    for first_id, last_id, _ in sql.id_ranges(Account.objects.all(), size):
        with transaction.atomic(), connection.cursor() as cursor:
            if tiers is not None:
                statement = _scores_compact_sql(vendor, tiers, first_id, last_id, windows)
                cursor.execute(statement.text, statement.params)
                scores_removed += cursor.rowcount
            if cutoff is not None:
                statement = _signals_prune_sql(vendor, cutoff, first_id, last_id)
                cursor.execute(statement.text, statement.params)
                signals_removed += cursor.rowcount
            CompactionRun.objects.filter(pk=run.pk).update(
                scores_removed=scores_removed, signals_removed=signals_removed
            )
    CompactionRun.objects.filter(pk=run.pk).update(finished_at=dt.datetime.now(dt.UTC))
    run.refresh_from_db()
    logger.info(
        "compaction: %s scores and %s signals removed, partitions dropped: %s",
        scores_removed,
        signals_removed,
        ", ".join(dropped) or "none",
    )
    return run


def retention_policy_save(*, policy: RetentionPolicy) -> RetentionPolicy:
    """Validate and save the retention policy (the one row); a ValidationError names the
    field and nothing is saved."""
    policy.pk = 1
    policy.full_clean()
    policy.save()
    return policy


def history_maintain(*, now: dt.datetime) -> CompactionRun:
    """The daily history job: partitions made ahead, then the retention policy applied."""
    created = partitions.history_partitions_ensure(now=now)
    if created:
        logger.info("history partitions created: %s", ", ".join(created))
    return history_compact(now=now)


def signals_removed_before() -> dt.datetime | None:
    """The latest cutoff before which raw signals were (or were being) removed."""
    return CompactionRun.objects.aggregate(at=Max("signals_cutoff"))["at"]
