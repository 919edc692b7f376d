"""Celery tasks of the scoring app: thin wrappers, ids in, one service call each.

Every task is idempotent (a chunk is done once, whatever happens), which is what makes
``acks_late`` and re-delivery after a lost worker safe. How a run recovers from lost
workers and lost messages: ``scoring/services/workers.py``.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from config.locks import run_alone
from config.tasking import RETRY, TRANSIENT, each, retrying, send_on_commit
from scoring import services
from scoring.analysis import jobs
from scoring.models import ScoringRunChunk

logger = logging.getLogger(__name__)


@shared_task(**RETRY)
def score_next_chunk(run_id: int) -> int | None:
    """Score the first free chunk of a run; returns its id, or None when none was free
    (the run is done, or every chunk left is being scored)."""
    chunk_id = services.scoring_chunk_claim(run_id=run_id, now=timezone.now())
    if chunk_id is None:
        return None
    _score(chunk_id)
    return chunk_id


@shared_task(**RETRY)
def score_chunk(chunk_id: int) -> bool:
    """Score one given chunk (a no-op if it was done already). Messages of this kind
    were sent by earlier versions; runs are now dispatched with ``score_next_chunk``."""
    return _score(chunk_id)


def _score(chunk_id: int) -> bool:
    try:
        return services.scoring_chunk_process(chunk_id=chunk_id)
    except TRANSIENT:
        raise  # retried with back-off: the database was briefly unreachable
    except Exception as exc:
        services.scoring_chunk_fail(chunk_id=chunk_id, error=f"{type(exc).__name__}: {exc}")
        raise


def scoring_run_dispatch(run_id: int) -> int:
    """Send one message per unfinished chunk of the run; returns how many."""
    chunks = ScoringRunChunk.objects.filter(run_id=run_id, done=False)
    count = chunks.update(dispatched_at=timezone.now())
    _send(run_id, count)
    return count


def _send(run_id: int, count: int) -> None:
    send_on_commit("scoring.tasks.score_next_chunk", [(run_id,)] * count)


@shared_task(**RETRY)
def recompute_all(trigger: str = "nightly") -> int | None:
    """The nightly recompute: plan a run over every account and fan its chunks out.

    Started twice at once (two beat processes, a manual run during the nightly), it
    plans one run: ``scoring.services.scoring_run_start``.
    """
    run, created = services.scoring_run_start(trigger=trigger)
    if run is None or not created:
        logger.info(
            "a full recompute is under way or just ran (run %s); not starting another",
            run.pk if run else "being planned",
        )
        return None
    scoring_run_dispatch(run.pk)
    return run.pk


@shared_task(**RETRY)
def resume_stale_runs() -> int | None:
    """The watchdog: send again the chunks of open runs that stopped moving (their
    messages lost with a worker or a broker restarted empty). Harmless if a message is
    still on its way: a chunk is scored once either way. Returns the messages sent."""
    return run_alone("recompute-watchdog", _resume_stale_runs)


def _resume_stale_runs() -> int:
    sent = 0
    for run_id in services.scoring_runs_open():
        chunk_ids = services.scoring_run_stalled_chunks(run_id=run_id, now=timezone.now())
        _send(run_id, len(chunk_ids))
        sent += len(chunk_ids)
    return sent


@shared_task(**RETRY)
def maintain_history() -> int | None:
    """The daily history job: partitions made ahead, then the retention policy applied
    (``scoring.services.history_maintain``). Returns the compaction's id."""
    run = run_alone("history-maintenance", services.history_maintain, now=timezone.now())
    return run.pk if run else None


# A backtest or what-if of a million accounts takes minutes, more than the time budget
# of other tasks. A message delivered again meanwhile (Redis's visibility timeout) finds
# the job held and does nothing.
ANALYSIS_TIME_LIMIT = 6 * 3600


@shared_task(**retrying(time_limit=ANALYSIS_TIME_LIMIT, soft_time_limit=ANALYSIS_TIME_LIMIT - 60))
def run_analysis_job(job_id: int) -> bool:
    """Run a backtest or what-if job unless it is done or held by a live worker
    (``scoring.analysis.jobs``)."""
    return jobs.analysis_job_run(job_id=job_id)


@shared_task(**RETRY)
def resume_stale_jobs() -> int | None:
    """The jobs' watchdog: send again the jobs that stopped moving (their worker killed,
    their message lost), fail those tried too often. Returns the messages sent."""
    return run_alone("analysis-job-watchdog", _resume_stale_jobs)


def _resume_stale_jobs() -> int:
    job_ids = jobs.analysis_jobs_stalled(now=timezone.now())
    send_on_commit("scoring.tasks.run_analysis_job", each(job_ids))
    return len(job_ids)
