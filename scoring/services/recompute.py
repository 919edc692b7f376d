"""The recompute: a run planned, its chunks scored, the run finished.

Step by step (``scoring_run_create`` then ``scoring_chunk_process`` per chunk, on
workers (``scoring/services/workers.py``) or in-process (``scoring_run_execute``)):

1. A run snapshots the active model versions and splits the accounts in scope into
   chunks of contiguous ids (one set-based query).
2. Each chunk is processed in one transaction, under a row lock on the chunk: the
   chunk's accounts scored into history rows (``scoring/scorer.py``), what moved each
   score (``scoring/attribution.py``), band-change and score-drop events, the latest
   score per account, the chunk marked done and the run's counters advanced. A
   redelivered chunk task waits for the lock, sees ``done`` and does nothing; a killed
   one leaves nothing behind and is simply done again.
3. The chunk that completes the run marks it succeeded and tells the apps that act on
   score events.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from accounts.models import AT_RISK_LEVELS, Account, User
from accounts.selectors import customers_q
from config.tasking import send_on_commit
from scoring import attribution, sql
from scoring.errors import ScoringError
from scoring.models import ScoringModel, ScoringRun, ScoringRunChunk
from scoring.scorer import Scorer

logger = logging.getLogger(__name__)


def _active_models(model_ids: Iterable[int] | None = None) -> list[ScoringModel]:
    qs = ScoringModel.objects.prefetch_related("components__metric", "bands")
    if model_ids is None:
        qs = qs.filter(status=ScoringModel.Status.ACTIVE)
    else:
        qs = qs.filter(pk__in=list(model_ids))
    return list(qs.order_by("id"))


def _accounts_in_scope(*, scope: str, segment: str, account_id: int | None, as_of: dt.datetime):
    qs = Account.objects.filter(customers_q(on=as_of.date()))
    if scope == ScoringRun.Scope.SEGMENT:
        qs = qs.filter(segment=segment)
    elif scope == ScoringRun.Scope.ACCOUNT:
        qs = qs.filter(pk=account_id) if account_id is not None else qs.none()
    return qs


@transaction.atomic
def scoring_run_create(
    *,
    scope: str = ScoringRun.Scope.ALL,
    segment: str = "",
    account: Account | None = None,
    as_of: dt.datetime | None = None,
    trigger: str = "manual",
    requested_by: User | None = None,
    chunk_size: int | None = None,
) -> ScoringRun:
    """Plan a recompute: snapshot the active models and split the accounts into chunks."""
    if scope == ScoringRun.Scope.SEGMENT and segment not in Account.Segment.values:
        raise ScoringError(
            f"Unknown segment {segment!r}; choose one of {', '.join(Account.Segment.values)}."
        )
    if scope == ScoringRun.Scope.ACCOUNT and account is None:
        raise ScoringError("Name the account to recompute.")
    as_of = as_of or timezone.now()
    models = _active_models()
    run = ScoringRun.objects.create(
        scope=scope,
        segment=segment if scope == ScoringRun.Scope.SEGMENT else "",
        account=account if scope == ScoringRun.Scope.ACCOUNT else None,
        as_of=as_of,
        trigger=trigger,
        requested_by=requested_by,
        model_ids=[m.id for m in models],
        chunk_size=chunk_size or settings.VITALS_RECOMPUTE_CHUNK_SIZE,
    )
    accounts = _accounts_in_scope(
        scope=scope, segment=segment, account_id=account.pk if account else None, as_of=as_of
    )
    bounds = sql.id_ranges(accounts, run.chunk_size)
    ScoringRunChunk.objects.bulk_create(
        ScoringRunChunk(run=run, index=i, first_account_id=lo, last_account_id=hi)
        for i, (lo, hi, _) in enumerate(bounds)
    )
    run.chunks_total = len(bounds)
    run.accounts_total = sum(count for *_, count in bounds)
    if not models:
        run.errors = "No active scoring model: nothing was scored."
    run.save(update_fields=["chunks_total", "accounts_total", "errors"])
    if not bounds or not models:
        _run_finish(run_id=run.pk)
    return run


def _execute(cursor, statement: sql.Sql) -> int:
    cursor.execute(statement.text, statement.params)
    return cursor.rowcount


def _ts(value: dt.datetime):
    return sql.ts(sql.vendor(), value)


def scoring_chunk_process(*, chunk_id: int) -> bool:
    """Score one chunk exactly once. Returns False if it was already done."""
    ScoringRunChunk.objects.filter(pk=chunk_id, done=False).update(
        attempts=F("attempts") + 1, claimed_at=timezone.now()
    )
    # Outside the chunk's transaction: inside it, the run row would stay locked until the
    # first chunk commits, and every other chunk would wait for it.
    ScoringRun.objects.filter(chunks=chunk_id, status=ScoringRun.Status.PENDING).update(
        status=ScoringRun.Status.RUNNING, started_at=timezone.now()
    )
    with transaction.atomic():
        try:
            # Lock the chunk row only: a plain FOR UPDATE would lock the joined run row
            # too, and every other chunk of the run would wait for this one to commit.
            chunk = (
                ScoringRunChunk.objects.select_for_update(of=("self",))
                .select_related("run")
                .get(pk=chunk_id)
            )
        except ScoringRunChunk.DoesNotExist:
            return False
        if chunk.done:
            return False
        run = chunk.run
        counts = _score_range(
            run=run, first_id=chunk.first_account_id, last_id=chunk.last_account_id
        )
        ScoringRunChunk.objects.filter(pk=chunk.pk).update(
            done=True, scored=counts["scored"], finished_at=timezone.now(), error=""
        )
        ScoringRun.objects.filter(pk=run.pk).update(
            chunks_done=F("chunks_done") + 1,
            accounts_scored=F("accounts_scored") + counts["scored"],
            band_changes=F("band_changes") + counts["band_changes"],
            score_drops=F("score_drops") + counts["score_drops"],
        )
    _run_finish(run_id=run.pk)
    return True


def _score_range(*, run: ScoringRun, first_id: int, last_id: int) -> dict[str, int]:
    models = _active_models(run.model_ids)
    scorer = Scorer(models=models)
    counts = {"scored": 0, "band_changes": 0, "score_drops": 0}
    account_ids: list[int] | None = None
    if run.scope == ScoringRun.Scope.ACCOUNT:
        # The account of a single-account run may have been deleted since it was planned
        # (the run keeps its scope, its account becomes NULL): then there is none to score.
        account_ids = [run.account_id] if run.account_id is not None else []
    with connection.cursor() as cursor:
        with scorer.rollup(
            cursor,
            as_of=run.as_of,
            first_id=first_id,
            last_id=last_id,
            segment=run.segment if run.scope == ScoringRun.Scope.SEGMENT else "",
            account_ids=account_ids,
        ) as table:
            for model in models:
                counts["scored"] += _execute(
                    cursor,
                    scorer.insert_sql(table, model, run_id=run.pk, computed_at=run.as_of),
                )
                # What moved each new score since the account's previous one.
                _execute(
                    cursor,
                    attribution.delta_update_sql(
                        vendor=scorer.vendor,
                        model_id=model.id,
                        kind=model.kind,
                        weights=[c.weight for c, _ in scorer.models[model.pk].components],
                        run_id=run.pk,
                        computed_at=run.as_of,
                        first_id=first_id,
                        last_id=last_id,
                    ),
                )
        counts["band_changes"], counts["score_drops"] = _record_events(
            cursor, run=run, first_id=first_id, last_id=last_id, now=run.as_of
        )
        _update_latest(cursor, run=run, first_id=first_id, last_id=last_id)
    return counts


def _record_events(cursor, *, run: ScoringRun, first_id: int, last_id: int, now) -> tuple[int, int]:
    """Confirmed band changes and score drops of this run's new scores against the latest
    ones, dated ``now``: the moment the run scored (its as-of), not when it happened to
    run. Bands compare by name and level (each version has band rows of its own); a
    change under another model than the latest score's is flagged a re-baseline.

    An account's first band (its first score, or the first with data) is an event only
    when it is a risky level (at risk or critical): a new account that starts at risk
    is an alarm like one that falls there; one that starts healthy is no news."""
    insert = (
        "INSERT INTO scoring_scoreevent (kind, account_id, health_score_id, run_id,"
        " from_band_id, to_band_id, score_before, score_after, rebaseline, created_at)"
        " SELECT %s, h.account_id, h.id, h.run_id, ah.band_id, h.confirmed_band_id,"
        " ah.score, h.score, h.rebaseline, %s"
        " FROM scoring_healthscore h"
        " LEFT JOIN scoring_accounthealth ah ON ah.account_id = h.account_id"
        " LEFT JOIN scoring_band ob ON ob.id = ah.band_id"
        " LEFT JOIN scoring_band nb ON nb.id = h.confirmed_band_id"
        # A run's rows are all dated its as-of: saying so confines the read to one
        # partition of the history on PostgreSQL (scoring/partitions.py).
        " WHERE h.run_id = %s AND h.computed_at = %s AND h.account_id >= %s"
        " AND h.account_id <= %s"
        # A later latest score (a past-dated run) has nothing to compare with here.
        " AND (ah.computed_at IS NULL OR ah.computed_at < h.computed_at)"
    )
    risky = ", ".join("%s" for _ in AT_RISK_LEVELS)
    cursor.execute(
        insert + " AND (CASE WHEN ob.id IS NULL THEN"
        f" (CASE WHEN nb.level IN ({risky}) THEN 1 ELSE 0 END)"
        " WHEN ob.name <> COALESCE(nb.name, '') OR ob.level <> COALESCE(nb.level, '')"
        " THEN 1 ELSE 0 END) = 1 ON CONFLICT DO NOTHING",
        ["band_changed", _ts(now), run.pk, _ts(run.as_of), first_id, last_id, *AT_RISK_LEVELS],
    )
    band_changes = cursor.rowcount
    cursor.execute(
        insert + " AND ah.score - h.score >= %s ON CONFLICT DO NOTHING",
        [
            "score_dropped",
            _ts(now),
            run.pk,
            _ts(run.as_of),
            first_id,
            last_id,
            settings.VITALS_SCORE_DROP_POINTS,
        ],
    )
    return band_changes, cursor.rowcount


def _update_latest(cursor, *, run: ScoringRun, first_id: int, last_id: int) -> None:
    trends = [
        sql.latest_score_sql(
            sql.vendor(),
            column="score",
            account="h.account_id",
            moment=run.as_of - dt.timedelta(days=days),
            inclusive=True,
        )
        for days in (7, 30, 90)
    ]
    earlier = ", ".join(f"h.score - {trend.text}" for trend in trends)
    params = [param for trend in trends for param in trend.params]
    cursor.execute(
        "INSERT INTO scoring_accounthealth (account_id, health_score_id, model_id, score, band_id,"
        " level, raw_band_id, pending_band_id, pending_count, pending_since, rebaseline,"
        " completeness, computed_at, trend_7d, trend_30d, trend_90d)"
        " SELECT h.account_id, h.id, h.model_id, h.score, h.confirmed_band_id,"
        " COALESCE(cb.level, ''), h.band_id, h.pending_band_id, h.pending_count,"
        " h.pending_since, h.rebaseline, h.completeness, h.computed_at,"
        f" {earlier}"
        " FROM scoring_healthscore h LEFT JOIN scoring_band cb ON cb.id = h.confirmed_band_id"
        " WHERE h.run_id = %s AND h.computed_at = %s AND h.account_id >= %s"
        " AND h.account_id <= %s"
        " ON CONFLICT (account_id) DO UPDATE SET health_score_id = excluded.health_score_id,"
        " model_id = excluded.model_id, score = excluded.score, band_id = excluded.band_id,"
        " level = excluded.level, raw_band_id = excluded.raw_band_id,"
        " pending_band_id = excluded.pending_band_id, pending_count = excluded.pending_count,"
        " pending_since = excluded.pending_since, rebaseline = excluded.rebaseline,"
        " completeness = excluded.completeness, computed_at = excluded.computed_at,"
        " trend_7d = excluded.trend_7d, trend_30d = excluded.trend_30d,"
        " trend_90d = excluded.trend_90d"
        " WHERE scoring_accounthealth.computed_at <= excluded.computed_at",
        [*params, run.pk, _ts(run.as_of), first_id, last_id],
    )


def _run_finish(*, run_id: int) -> None:
    """Mark the run succeeded once every chunk is done (a conditional update: only the
    chunk that completes the run gets a row back, however many finish at once), then
    tell the apps that consume score events (settings.VITALS_AFTER_RECOMPUTE_TASKS,
    Celery task names: scoring does not import them)."""
    finished = ScoringRun.objects.filter(
        pk=run_id,
        status__in=[ScoringRun.Status.PENDING, ScoringRun.Status.RUNNING],
        chunks_done__gte=F("chunks_total"),
    ).update(
        status=ScoringRun.Status.SUCCEEDED,
        finished_at=Now(),
        started_at=Coalesce(F("started_at"), Now()),
    )
    if finished:
        # Best effort: the consumers also run on a schedule, so an unreachable broker only
        # delays them until the next tick.
        for name in settings.VITALS_AFTER_RECOMPUTE_TASKS:
            send_on_commit(name)


def scoring_chunk_fail(*, chunk_id: int, error: str) -> None:
    """Record a chunk's error; the run is failed so that an admin sees it."""
    chunk = ScoringRunChunk.objects.select_related("run").get(pk=chunk_id)
    chunk.error = error[:2000]
    chunk.save(update_fields=["error"])
    run = chunk.run
    if run.status != ScoringRun.Status.SUCCEEDED:
        run.status = ScoringRun.Status.FAILED
        run.finished_at = timezone.now()
    run.errors = (run.errors + f"\nchunk {chunk.index}: {error}").strip()[:10000]
    run.save(update_fields=["status", "finished_at", "errors"])


def scoring_run_execute(*, run: ScoringRun, progress=None) -> ScoringRun:
    """Process every pending chunk of ``run`` in this process (commands, tests, seeding)."""
    for chunk_id in run.chunks.filter(done=False).order_by("index").values_list("id", flat=True):
        try:
            scoring_chunk_process(chunk_id=chunk_id)
        except Exception as exc:
            scoring_chunk_fail(chunk_id=chunk_id, error=f"{type(exc).__name__}: {exc}")
            raise
        if progress:
            progress()
    run.refresh_from_db()
    return run


def recompute_now(*, account: Account, requested_by: User | None = None) -> ScoringRun:
    """Recompute one account in this process: what the "recompute now" button does."""
    run = scoring_run_create(
        scope=ScoringRun.Scope.ACCOUNT, account=account, trigger="manual", requested_by=requested_by
    )
    return scoring_run_execute(run=run)
