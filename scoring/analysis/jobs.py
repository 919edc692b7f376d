"""Backtests and what-ifs over the whole book as jobs on the workers: started once,
reported on as they go, never left stuck. The one write path of ``AnalysisJob``.

A backtest scores every customer of each as-of date; a what-if scores the whole book
with a draft and backtests it beside the active version. At a million accounts that is
minutes of work, so the admin page starts a job and shows its progress, and the
``backtest`` command runs the same job in its own process.

As with recompute runs (``scoring/services/workers.py``) the database holds the truth
and messages are hints:

1. **One open job per question.** ``analysis_job_start`` answers the open (pending or
   running) job of the same kind, version and parameters if there is one; a partial
   unique constraint makes that hold for two starts at the same moment too.
2. **A job is held by a lease, not a lock.** A run's chunk is one transaction and its
   row lock says a worker is on it; a job is one long computation whose progress must
   be seen while it runs, so it cannot sit in one transaction. A message takes the job
   (``analysis_job_claim``: a conditional update) if it is pending, or running with no
   word from its holder for ``VITALS_ANALYSIS_STALL_AFTER`` seconds, under a new
   token. The holder reports after every chunk of accounts (``done``/``total``, the
   heartbeat) and writes the report, each only while its token is the job's: a
   duplicated or retried message finds the job held or finished and does nothing, and
   a holder that was given up on stops at its next report.
3. **A job that stops moving is sent again.** A worker killed mid-job stops its
   heartbeat; the watchdog (``scoring.tasks.resume_stale_jobs``, every 10 seconds)
   sends such jobs (and pending ones whose message was lost) again, and fails a job
   taken ``VITALS_ANALYSIS_MAX_ATTEMPTS`` times, so a job is picked up again or marked
   failed within a minute.

Reports are kept as JSON (``scoring.analysis.reports``) and read back as the same
dataclasses a backtest returns.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from config.tasking import TRANSIENT, each, send_on_commit
from scoring.analysis import reports
from scoring.analysis.asof import compacted_dates
from scoring.analysis.backtest import (
    CHURN_LABELS,
    BacktestReport,
    Progress,
    backtest_check,
    backtest_run,
    default_dates,
)
from scoring.analysis.suggest import CalibrationReport, backtest_suggest
from scoring.analysis.whatif import BookMoves, book_band_moves
from scoring.errors import ScoringError
from scoring.models import AnalysisJob, ScoringModel
from scoring.validation import components_with_bad_params

logger = logging.getLogger(__name__)

TASK = "scoring.tasks.run_analysis_job"
Kind = AnalysisJob.Kind
Status = AnalysisJob.Status


class JobTakenOver(Exception):
    """This process no longer holds the job: it was given up on and taken again."""


# --- Parameters ----------------------------------------------------------------------------


def analysis_params(
    *,
    dates: list[dt.date] | None,
    horizon_days: int,
    segment: str = "",
    suggest: bool = False,
    labels: str = CHURN_LABELS,
) -> dict:
    """The parameters of a job as it keeps them: dates sorted (None: the defaults); the
    labels only when not the churn date (so the jobs kept before keep their key)."""
    params = {
        "dates": sorted({d.isoformat() for d in dates}) if dates else None,
        "horizon_days": int(horizon_days),
        "segment": segment or "",
        "suggest": bool(suggest),
    }
    if labels != CHURN_LABELS:
        params["labels"] = labels
    return params


def _dates(params: dict) -> list[dt.date] | None:
    return [dt.date.fromisoformat(d) for d in params["dates"]] if params.get("dates") else None


def _key(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def whatif_blockers(*, model: ScoringModel) -> str:
    """Why a draft cannot be compared yet ("" when it can)."""
    broken = components_with_bad_params(model=model)
    if broken:
        return "Fix the parameters of " + ", ".join(broken) + " to compare the draft."
    if not model.components.exists():
        return "The draft has no components yet."
    return ""


def _check(*, kind: str, model: ScoringModel, params: dict) -> None:
    today = timezone.localdate()
    chosen = _dates(params)
    backtest_check(
        dates=chosen,
        horizon_days=params["horizon_days"],
        segment=params["segment"],
        today=today,
        labels=params.get("labels", CHURN_LABELS),
    )
    # Dates whose raw signals retention removed are refused before the job starts, as
    # the run itself would refuse them (backtest_run): chosen ones, or every default one.
    dates = sorted(set(chosen or default_dates(today=today)))
    lost, message = compacted_dates(model=model, dates=dates)
    if lost and (chosen or len(lost) == len(dates)):
        raise ScoringError(message)
    if kind == Kind.WHATIF:
        if model.status != ScoringModel.Status.DRAFT:
            raise ScoringError(
                f"{model} is {model.get_status_display().lower()}: the what-if compares a "
                "draft with the active version before it is activated."
            )
        if blockers := whatif_blockers(model=model):
            raise ScoringError(blockers)


# --- Starting ------------------------------------------------------------------------------


def analysis_job_start(
    *,
    kind: str,
    model: ScoringModel,
    params: dict,
    requested_by: User | None = None,
    trigger: str = "admin",
    dispatch: bool = True,
) -> tuple[AnalysisJob, bool]:
    """Start a backtest or what-if of ``model``, or answer the open one with the same
    parameters; returns (job, created). Bad parameters raise ScoringError and start
    nothing. ``dispatch=False``: no message is sent (the caller runs it, as the command
    does; should it stop, the watchdog sends it to a worker)."""
    if kind not in Kind.values:
        raise ScoringError(f"Unknown kind of analysis {kind!r}.")
    _check(kind=kind, model=model, params=params)
    key = _key(params)
    open_jobs = AnalysisJob.objects.filter(
        kind=kind, model=model, params_key=key, status__in=AnalysisJob.OPEN
    )
    if (job := open_jobs.first()) is not None:
        return job, False
    try:
        with transaction.atomic():
            job = AnalysisJob.objects.create(
                kind=kind,
                model=model,
                params=params,
                params_key=key,
                requested_by=requested_by,
                trigger=trigger,
                dispatched_at=timezone.now() if dispatch else None,
            )
    except IntegrityError:
        # Started by someone else between the look and the insert.
        job = open_jobs.first()
        if job is None:
            raise
        return job, False
    if dispatch:
        send_on_commit(TASK, each([job.pk]))
    return job, True


# --- Running -------------------------------------------------------------------------------


def _stall() -> dt.timedelta:
    return dt.timedelta(seconds=settings.VITALS_ANALYSIS_STALL_AFTER)


def _silent_since(moment: dt.datetime) -> Q:
    return Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=moment)


def analysis_job_claim(*, job_id: int, now: dt.datetime) -> str | None:
    """Take the job if it is free (pending, or running with a silent holder) and has
    attempts left; returns this holder's token, or None."""
    token = uuid.uuid4().hex
    claimed = (
        AnalysisJob.objects.filter(pk=job_id, attempts__lt=settings.VITALS_ANALYSIS_MAX_ATTEMPTS)
        .filter(
            Q(status=Status.PENDING) | (Q(status=Status.RUNNING) & _silent_since(now - _stall()))
        )
        .update(
            status=Status.RUNNING,
            token=token,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            started_at=Coalesce(F("started_at"), Value(now, output_field=DateTimeField())),
            stage="",
            done=0,
            total=0,
        )
    )
    return token if claimed else None


class _Holder:
    """The claim of one process on a job: reports progress while it holds it."""

    def __init__(self, job: AnalysisJob, token: str, steps: int) -> None:
        self.job, self.token, self.steps, self.step_no = job, token, steps, 0
        self.total = 0

    def _mine(self):
        return AnalysisJob.objects.filter(pk=self.job.pk, token=self.token, status=Status.RUNNING)

    def report(self, stage: str, done: int, total: int) -> None:
        if not self._mine().update(
            stage=stage[:200], done=done, total=total, heartbeat_at=timezone.now()
        ):
            raise JobTakenOver(f"job {self.job.pk} is no longer this process's")
        self.total = total

    def step(self, name: str) -> Progress:
        """The progress callback of the next step, named "Step i of n: name"."""
        self.step_no += 1
        stage = f"Step {self.step_no} of {self.steps}: {name}" if self.steps > 1 else name
        return lambda done, total: self.report(stage, done, total)

    def end(self, *, status: str, result: dict | None = None, error: str = "") -> bool:
        now = timezone.now()
        fields = {"status": status, "error": error[:10000], "finished_at": now, "token": ""}
        if result is not None:
            fields.update(result=result, done=F("total"))
        return bool(self._mine().update(heartbeat_at=now, **fields))


def analysis_job_run(*, job_id: int) -> bool:
    """Run the job in this process if it is free; returns whether this process ran it
    (False: done already, held by a live worker, or taken over meanwhile)."""
    token = analysis_job_claim(job_id=job_id, now=timezone.now())
    if token is None:
        return False
    job = AnalysisJob.objects.select_related("model").get(pk=job_id)
    holder = _Holder(job, token, steps=_steps(job))
    try:
        result = RUNNERS[job.kind](job, holder)
    except JobTakenOver:
        logger.warning("job %s was taken over by another worker; this one stops", job_id)
        return False
    except ScoringError as exc:
        holder.end(status=Status.FAILED, error=str(exc))
        return True
    except TRANSIENT:
        raise  # the task retries; meanwhile the lease runs out and the job is free again
    except Exception as exc:
        holder.end(status=Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    return holder.end(status=Status.SUCCEEDED, result=result)


def _active_of(model: ScoringModel) -> ScoringModel | None:
    return ScoringModel.objects.filter(key=model.key, status=ScoringModel.Status.ACTIVE).first()


def _steps(job: AnalysisJob) -> int:
    if job.kind == Kind.WHATIF:
        return 3 if _active_of(job.model) else 2
    return 1


def _backtest(model: ScoringModel, params: dict, progress: Progress) -> BacktestReport:
    return backtest_run(
        model=model,
        dates=_dates(params),
        horizon_days=params["horizon_days"],
        segment=params["segment"],
        chunk_size=settings.VITALS_BACKTEST_CHUNK_SIZE,
        progress=progress,
        # The samples (one per account and date) are kept only to fit weights.
        keep_samples=bool(params.get("suggest")),
        labels=params.get("labels", CHURN_LABELS),
    )


def _run_backtest(job: AnalysisJob, holder: _Holder) -> dict:
    report = _backtest(job.model, job.params, holder.step(f"Backtest of {job.model}"))
    result: dict = {"report": reports.plain(report), "suggestion": None, "suggestion_error": ""}
    if job.params.get("suggest"):
        holder.report("Fitting weights to the history", holder.total, holder.total)
        try:
            result["suggestion"] = reports.plain(backtest_suggest(report=report))
        except ScoringError as exc:
            result["suggestion_error"] = str(exc)
    return result


def _run_whatif(job: AnalysisJob, holder: _Holder) -> dict:
    model = job.model
    if blockers := whatif_blockers(model=model):
        raise ScoringError(blockers)
    moves = book_band_moves(model=model, progress=holder.step("Band moves over the whole book"))
    active = _active_of(model)
    result: dict = {
        "moves": reports.plain(moves),
        "active_id": active.pk if active else None,
        "draft_report": None,
        "active_report": None,
        "error": "",
    }
    try:
        draft_report = _backtest(model, job.params, holder.step(f"Backtest of {model}"))
        active_report = (
            _backtest(active, job.params, holder.step(f"Backtest of {active}")) if active else None
        )
    except ScoringError as exc:
        result["error"] = str(exc)
    else:
        result["draft_report"] = reports.plain(draft_report)
        result["active_report"] = reports.plain(active_report) if active_report else None
    return result


RUNNERS: dict[str, Callable[[AnalysisJob, _Holder], dict]] = {
    Kind.BACKTEST: _run_backtest,
    Kind.WHATIF: _run_whatif,
}


def analysis_job_wait(*, job_id: int, poll: float = 0.5) -> AnalysisJob:
    """Run the job here, or wait for whoever holds it, until it has ended (the command;
    a holder that goes silent meanwhile is taken over here)."""
    while True:
        analysis_job_run(job_id=job_id)
        job = AnalysisJob.objects.select_related("model").get(pk=job_id)
        if not job.is_open:
            return job
        time.sleep(poll)


# --- The watchdog --------------------------------------------------------------------------


def analysis_jobs_stalled(*, now: dt.datetime) -> list[int]:
    """The open jobs nobody is moving, marked sent now: pending ones whose message was
    sent (or not) more than ``VITALS_ANALYSIS_STALL_AFTER`` ago, and running ones whose
    holder has been silent that long. Those already taken the maximum number of times
    are marked failed instead."""
    stale = now - _stall()
    not_sent_lately = Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=stale)
    silent = Q(status=Status.RUNNING) & _silent_since(stale)
    exhausted = AnalysisJob.objects.filter(
        silent, attempts__gte=settings.VITALS_ANALYSIS_MAX_ATTEMPTS
    )
    for job_id, attempts in exhausted.values_list("id", "attempts"):
        failed = exhausted.filter(pk=job_id).update(
            status=Status.FAILED,
            token="",
            finished_at=now,
            error=f"The worker running it stopped {attempts} times without a word "
            "(killed, or out of memory?): it is not tried again.",
        )
        if failed:
            logger.warning("analysis job %s failed after %s attempts", job_id, attempts)
    stalled = AnalysisJob.objects.filter(
        (Q(status=Status.PENDING, created_at__lt=stale) | silent) & not_sent_lately
    )
    with transaction.atomic():
        ids = list(stalled.select_for_update(skip_locked=True).values_list("id", flat=True))
        AnalysisJob.objects.filter(pk__in=ids).update(dispatched_at=now)
    if ids:
        logger.warning("analysis jobs %s stopped moving: sending them again", ids)
    return ids


# --- Reading reports -----------------------------------------------------------------------


@dataclass
class BacktestResult:
    report: BacktestReport
    suggestion: CalibrationReport | None
    suggestion_error: str


@dataclass
class WhatifResult:
    moves: BookMoves
    active: ScoringModel | None
    draft_report: BacktestReport | None
    active_report: BacktestReport | None
    error: str


def backtest_job_result(job: AnalysisJob) -> BacktestResult | None:
    """The report of a finished backtest job (None while it runs or when it failed)."""
    if job.kind != Kind.BACKTEST or job.status != Status.SUCCEEDED or not job.result:
        return None
    data = job.result
    return BacktestResult(
        report=reports.report_from_plain(data["report"], model=job.model),
        suggestion=reports.suggestion_from_plain(data["suggestion"])
        if data.get("suggestion")
        else None,
        suggestion_error=data.get("suggestion_error", ""),
    )


def whatif_job_result(job: AnalysisJob) -> WhatifResult | None:
    """The band moves and backtests of a finished what-if job (None otherwise)."""
    if job.kind != Kind.WHATIF or job.status != Status.SUCCEEDED or not job.result:
        return None
    data = job.result
    active = (
        ScoringModel.objects.filter(pk=data["active_id"]).first() if data["active_id"] else None
    )
    draft_report = data.get("draft_report")
    active_report = data.get("active_report")
    return WhatifResult(
        moves=reports.moves_from_plain(data["moves"]),
        active=active,
        draft_report=reports.report_from_plain(draft_report, model=job.model)
        if draft_report
        else None,
        active_report=reports.report_from_plain(active_report, model=active)
        if active_report and active
        else None,
        error=data.get("error", ""),
    )
