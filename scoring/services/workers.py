"""Recompute runs on the workers: started once, scored chunk by chunk, never left stuck.

The database holds the truth; the broker only carries hints. So:

1. **One full run at a time.** ``scoring_run_start`` plans a run over every account
   under a job lock (``config.locks``): if one is already open — the nightly run, when
   a second beat or an operator asks for another — it answers that one instead, and a
   scheduled start finds a run of its own trigger begun within
   ``VITALS_RECOMPUTE_MIN_INTERVAL`` and starts none.
2. **Messages name the run, not a chunk.** Each message is "score one chunk of run R"
   and takes the run's first free chunk (``scoring_chunk_claim``): a chunk that is not
   done, not being scored (its row lock, held for the whole chunk transaction, lives
   exactly as long as the worker's database session) and not claimed in the last
   ``CLAIM_GRACE``. A worker killed mid-chunk leaves a free chunk, and the next message
   of the run picks it up.
3. **A run that stops moving gets its messages again.** Messages die with a killed
   worker (its unacknowledged message only comes back after the broker's visibility
   timeout) or with a broker restarted empty. ``scoring_run_stalled_chunks`` finds a run
   with free chunks, none being scored, and no chunk claimed, finished or sent for
   ``VITALS_RECOMPUTE_STALL_AFTER``; the watchdog (``scoring.tasks.resume_stale_runs``,
   every 10 seconds) sends one message per free chunk. A message too many finds nothing
   free and does nothing.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from accounts.models import User
from config.locks import job_lock
from scoring.models import ScoringRun, ScoringRunChunk
from scoring.services.recompute import (
    scoring_chunk_fail,
    scoring_chunk_process,
    scoring_run_create,
)

logger = logging.getLogger(__name__)

# Between claiming a chunk and taking its row lock a worker needs milliseconds; for this
# long a claimed chunk is left to its claimer. (On SQLite the chunk's transaction holds
# the database's one write lock instead: a claimer that gets it knows nobody is scoring.)
CLAIM_GRACE = dt.timedelta(seconds=5)
# An open run older than this is not "open" for the purpose of starting another: a run
# abandoned half-way (its chunks failed, say) never blocks the nightly recompute.
OPEN_RUN_HORIZON = dt.timedelta(hours=6)
SCHEDULED_TRIGGERS = ("nightly",)
OPEN = (ScoringRun.Status.PENDING, ScoringRun.Status.RUNNING)


def scoring_run_start(
    *,
    trigger: str,
    now: dt.datetime | None = None,
    requested_by: User | None = None,
    as_of: dt.datetime | None = None,
    chunk_size: int | None = None,
) -> tuple[ScoringRun | None, bool]:
    """Plan a recompute of every account unless one is under way; returns (run, created).

    Under the job lock ``recompute-all``: an open full run (created within
    ``OPEN_RUN_HORIZON``) is answered as it is, not created=False; for a scheduled
    trigger, a run of the same trigger created within ``VITALS_RECOMPUTE_MIN_INTERVAL``
    counts as this slot's and the answer is (that run, False); when another process
    holds the lock this very moment, the answer is (None, False).
    """
    now = now or timezone.now()
    with job_lock("recompute-all") as got:
        if not got:
            return None, False
        full = ScoringRun.objects.filter(scope=ScoringRun.Scope.ALL)
        running = full.filter(status__in=OPEN, created_at__gte=now - OPEN_RUN_HORIZON).first()
        if running is not None:
            return running, False
        if trigger in SCHEDULED_TRIGGERS:
            interval = dt.timedelta(seconds=settings.VITALS_RECOMPUTE_MIN_INTERVAL)
            recent = full.filter(trigger=trigger, created_at__gt=now - interval).first()
            if recent is not None:
                return recent, False
        run = scoring_run_create(
            scope=ScoringRun.Scope.ALL,
            trigger=trigger,
            requested_by=requested_by,
            as_of=as_of,
            chunk_size=chunk_size,
        )
        return run, True


def scoring_chunk_claim(*, run_id: int, now: dt.datetime) -> int | None:
    """Claim the run's first free chunk (lowest index); returns its id, or None when no
    chunk of the run is free. Concurrent claimers take different chunks (``SKIP
    LOCKED``); the claimer then scores it with ``scoring_chunk_process``."""
    with transaction.atomic():
        chunk_id = (
            _free(ScoringRunChunk.objects.filter(run_id=run_id, done=False), now=now)
            .select_for_update(skip_locked=True)
            .order_by("index")
            .values_list("id", flat=True)
            .first()
        )
        if chunk_id is not None:
            ScoringRunChunk.objects.filter(pk=chunk_id).update(claimed_at=now)
    return chunk_id


def _free(chunks, *, now: dt.datetime):
    return chunks.filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_GRACE))


def scoring_run_stalled_chunks(*, run_id: int, now: dt.datetime) -> list[int]:
    """The free chunks of a run that has stopped moving, marked dispatched now; [] while
    the run moves. Steps, in one short transaction:

    1. the run's unfinished chunks that are free, locked so that nobody claims them
       meanwhile (``SKIP LOCKED`` leaves out the ones being scored);
    2. none if any unfinished chunk is busy (being scored, or just claimed): the run
       is alive, and the messages for the others are presumably queued;
    3. none if any chunk of the run was claimed, finished or sent within
       ``VITALS_RECOMPUTE_STALL_AFTER``;
    4. otherwise all of them, with ``dispatched_at`` now, so that the next look waits
       another ``VITALS_RECOMPUTE_STALL_AFTER`` for the messages to be taken.
    """
    stall = dt.timedelta(seconds=settings.VITALS_RECOMPUTE_STALL_AFTER)
    unfinished = ScoringRunChunk.objects.filter(run_id=run_id, done=False)
    with transaction.atomic():
        free = list(
            _free(unfinished, now=now)
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)
        )
        if not free or len(free) < unfinished.count():
            return []
        moved = ScoringRunChunk.objects.filter(run_id=run_id).aggregate(
            claimed=Max("claimed_at"), finished=Max("finished_at"), sent=Max("dispatched_at")
        )
        if any(moment is not None and moment > now - stall for moment in moved.values()):
            return []
        ScoringRunChunk.objects.filter(pk__in=free).update(dispatched_at=now)
    logger.warning(
        "run %s has not moved for %s s: sending its %s free chunks again",
        run_id,
        settings.VITALS_RECOMPUTE_STALL_AFTER,
        len(free),
    )
    return free


def scoring_runs_open() -> list[int]:
    """Ids of the runs that are pending or running, oldest first."""
    return list(
        ScoringRun.objects.filter(status__in=OPEN, chunks_done__lt=F("chunks_total"))
        .order_by("created_at")
        .values_list("id", flat=True)
    )


def scoring_run_help(*, run_id: int, progress=None) -> int:
    """Score in this process the free chunks of a run that workers may be scoring too,
    each claimed as a worker claims it; returns how many this process scored."""
    scored = 0
    while (chunk_id := scoring_chunk_claim(run_id=run_id, now=timezone.now())) is not None:
        try:
            scoring_chunk_process(chunk_id=chunk_id)
        except Exception as exc:
            scoring_chunk_fail(chunk_id=chunk_id, error=f"{type(exc).__name__}: {exc}")
            raise
        scored += 1
        if progress:
            progress()
    return scored
