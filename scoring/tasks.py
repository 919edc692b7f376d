"""Celery tasks of the scoring app: thin wrappers, ids in, one service call each.

Every task is idempotent (a chunk is done once, whatever happens), which is what makes
``acks_late`` and re-delivery after a lost worker safe.
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from scoring import services
from scoring.models import ScoringRun, ScoringRunChunk

logger = logging.getLogger(__name__)

# A chunk not done this long after it was dispatched is dispatched again by the watchdog.
STALE_AFTER = dt.timedelta(minutes=10)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=8,
)
def score_chunk(self, chunk_id: int) -> bool:
    """Score one chunk of a run (a no-op if it was done already)."""
    try:
        return services.scoring_chunk_process(chunk_id=chunk_id)
    except OperationalError:
        raise  # retried with back-off: the database was briefly unreachable
    except Exception as exc:
        services.scoring_chunk_fail(chunk_id=chunk_id, error=f"{type(exc).__name__}: {exc}")
        raise


def scoring_run_dispatch(run_id: int, *, only_stale: bool = False) -> int:
    """Send a task for every chunk of the run that is not done; returns how many."""
    now = timezone.now()
    chunks = ScoringRunChunk.objects.filter(run_id=run_id, done=False)
    if only_stale:
        chunks = chunks.filter(dispatched_at__lt=now - STALE_AFTER)
    chunk_ids = list(chunks.order_by("index").values_list("id", flat=True))
    ScoringRunChunk.objects.filter(pk__in=chunk_ids).update(dispatched_at=now)
    for chunk_id in chunk_ids:
        score_chunk.delay_on_commit(chunk_id)
    return len(chunk_ids)


@shared_task(acks_late=True)
def recompute_all(trigger: str = "nightly") -> int | None:
    """The nightly recompute: plan a run over every account and fan its chunks out.

    If beat fires twice (two beat processes by mistake, a restart at 02:00), the second
    call finds the first run still open and does nothing.
    """
    open_run = ScoringRun.objects.filter(
        scope=ScoringRun.Scope.ALL,
        trigger=trigger,
        status__in=[ScoringRun.Status.PENDING, ScoringRun.Status.RUNNING],
        created_at__gte=timezone.now() - dt.timedelta(hours=6),
    ).first()
    if open_run:
        logger.info("run %s is still open; not starting another", open_run.pk)
        return None
    run = services.scoring_run_create(scope=ScoringRun.Scope.ALL, trigger=trigger)
    scoring_run_dispatch(run.pk)
    return run.pk


@shared_task
def resume_stale_runs() -> int:
    """Dispatch again the chunks of open runs that nobody finished (a worker lost with
    its message, a broker restarted). Harmless if the first delivery is still going:
    the chunk is done once either way."""
    dispatched = 0
    open_runs = ScoringRun.objects.filter(
        status__in=[ScoringRun.Status.PENDING, ScoringRun.Status.RUNNING]
    ).values_list("id", flat=True)
    for run_id in open_runs:
        dispatched += scoring_run_dispatch(run_id, only_stale=True)
    return dispatched
