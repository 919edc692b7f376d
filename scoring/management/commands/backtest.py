"""manage.py backtest MODEL [--as-of DATE ...] [--horizon DAYS] [--segment S] [--suggest]"""

from __future__ import annotations

import argparse
import datetime as dt
import json

from django.core.management.base import CommandError

from accounts.models import Account
from config.commands import ParagraphHelpCommand
from scoring.analysis.asof import scoring_model_resolve
from scoring.analysis.backtest import DEFAULT_AGES, DEFAULT_HORIZON, BacktestReport
from scoring.analysis.jobs import (
    analysis_job_start,
    analysis_job_wait,
    analysis_params,
    backtest_job_result,
)
from scoring.analysis.suggest import CalibrationReport, backtest_draft_create
from scoring.errors import ScoringError
from scoring.models import AnalysisJob

HELP = f"""Score the accounts as they stood at past dates and compare with who churned.

MODEL is a model key (its active version), key:version, or a version's id. For each
as-of date D (default: {", ".join(str(a) for a in DEFAULT_AGES)} days before today) the
customers on D (contract started by D, not churned by D) are scored with the signals
before D, and those that churned within the horizon after D are the positives. The
report gives the ROC AUC of risk = lower score, churn rate and accounts per band, the
lift of the worst band, a calibration table by score decile and the AUC of each
component. --suggest fits weights (and linear thresholds) to the history and measures
them out of sample; --create-draft saves them as a new draft version. --format json
writes the report (and the suggestion) as one JSON object instead, for scripts and CI:
the same figures, under the keys the admin's stored report uses."""


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


class Command(ParagraphHelpCommand):
    help = HELP

    def add_arguments(self, parser) -> None:
        parser.add_argument("model", help="key, key:version or id of a scoring model version")
        parser.add_argument(
            "--as-of",
            dest="dates",
            type=_date,
            action="append",
            help="an as-of date, YYYY-MM-DD (repeat for several)",
        )
        parser.add_argument(
            "--horizon",
            type=int,
            default=DEFAULT_HORIZON,
            help=f"days after the as-of date in which a churn counts (default {DEFAULT_HORIZON})",
        )
        parser.add_argument(
            "--segment", default="", help=f"only one segment: {', '.join(Account.Segment.values)}"
        )
        parser.add_argument(
            "--suggest", action="store_true", help="fit weights to the history and report them"
        )
        parser.add_argument(
            "--create-draft",
            action="store_true",
            help="save the suggestion as a new draft version (implies --suggest)",
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="text (default) or json: one JSON object on standard output",
        )

    def handle(
        self, *args, model, dates, horizon, segment, suggest, create_draft, format, **options
    ):
        try:
            version = scoring_model_resolve(ref=model)
            # The admin's job, run here: the same parameters, progress and stored report
            # (one running already, on a worker, is waited for instead).
            job, _ = analysis_job_start(
                kind=AnalysisJob.Kind.BACKTEST,
                model=version,
                params=analysis_params(
                    dates=dates,
                    horizon_days=horizon,
                    segment=segment,
                    suggest=suggest or create_draft,
                ),
                trigger="command",
                dispatch=False,
            )
            job = analysis_job_wait(job_id=job.pk)
            result = backtest_job_result(job)
            if result is None:
                raise CommandError(f"Backtest {job.pk} failed: {job.error}")
            if (suggest or create_draft) and result.suggestion is None:
                raise CommandError(result.suggestion_error)
            draft = None
            if create_draft:
                assert result.suggestion is not None
                draft = backtest_draft_create(
                    model=version, result=result.suggestion, horizon_days=horizon
                )
            if format == "json":
                self._write_json(job, draft)
                return
            self._write_report(result.report)
            if result.suggestion is not None and (suggest or create_draft):
                self._write_suggestion(result.suggestion)
            if draft is not None:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Created {draft} (draft, id {draft.pk}) with the suggested weights: "
                        "preview it and compare it in the admin before activating it."
                    )
                )
        except ScoringError as exc:
            raise CommandError(str(exc)) from None

    def _write_json(self, job: AnalysisJob, draft) -> None:
        """The stored report as one JSON object: the model, the job's parameters, the
        report, the suggestion (or null) and the draft made from it (or null)."""
        stored = job.result or {}
        data = {
            "model": {"key": job.model.key, "version": job.model.version, "id": job.model.pk},
            "job": job.pk,
            "params": job.params,
            "report": stored["report"],
            "suggestion": stored.get("suggestion") if job.params.get("suggest") else None,
            "draft": None if draft is None else {"id": draft.pk, "version": draft.version},
        }
        self.stdout.write(json.dumps(data, indent=2))

    def _write_report(self, report: BacktestReport) -> None:
        out = self.stdout.write
        scope = f", segment {report.segment}" if report.segment else ""
        out(
            f"Backtest of {report.model} ({report.model.describe_filter()}{scope}), "
            f"churn within {report.horizon_days} days."
        )
        for note in report.notes:
            out(f"Note: {note}")
        out("")
        out(
            f"{'as of':<12}{'customers':>10}{'scored':>8}{'churned':>8}{'rate':>8}{'ROC AUC':>9}"
            f"{'worst band':>22}{'lift':>6}"
        )
        for p in report.points:
            worst = p.worst_band
            out(
                f"{p.date:%Y-%m-%d}  {p.customers:>10}{p.scored:>8}{p.churned:>8}"
                f"{_pct(p.churn_rate):>8}{_num(p.auc):>9}"
                f"{(worst.name if worst else '—'):>22}{_num(worst.lift if worst else None, 2):>6}"
            )
        for p in report.points:
            out("")
            out(f"== As of {p.date:%Y-%m-%d} ==")
            for problem in p.problems:
                out(self.style.WARNING(problem))
            for note in p.notes:
                out(f"Note: {note}")
            if not p.scored:
                continue
            out("Band                      accounts  churned    rate   lift")
            for band in p.bands:
                out(
                    f"{band.name:<24}{band.accounts:>10}{band.churned:>9}"
                    f"{_pct(band.rate):>8}{_num(band.lift, 2):>7}"
                )
            out("Decile  scores              accounts  churned    rate")
            for d in p.deciles:
                out(
                    f"{d.index:>6}  {d.low:>7.1f} – {d.high:<7.1f}{d.accounts:>10}{d.churned:>9}"
                    f"{_pct(d.rate):>8}"
                )
            out("Component                          weight  with data  ROC AUC")
            for c in p.components:
                out(f"{c.label[:33]:<33}{c.weight:>8g}{c.with_data:>11}{_num(c.auc):>9}")

    def _write_suggestion(self, result: CalibrationReport) -> None:
        out = self.stdout.write
        out("")
        dates = ", ".join(f"{d:%Y-%m-%d}" for d in result.dates)
        out(
            f"== Suggested weights, fitted to {result.samples} accounts ({result.churned} churned) "
            f"as of {dates} =="
        )
        out("Component                          weight → suggested  thresholds")
        for row in result.rows:
            thresholds = ""
            if row["params_changed"]:
                thresholds = (
                    f"{row['params']['worst']:g} → {row['params']['best']:g} (worst → best)"
                )
            note = f"  ({row['note']})" if row["note"] else ""
            out(
                f"{row['label'][:33]:<33}{row['current_weight']:>7g} → {row['weight']:<9g}  "
                f"{thresholds}{note}"
            )
        cv = result.cross_validation
        current, current_sd = cv.current
        suggested, suggested_sd = cv.suggested
        out(
            f"ROC AUC out of sample ({len(cv.folds)}-fold cross-validation over accounts): "
            f"current {_num(current)} ± {_num(current_sd)}, suggested {_num(suggested)} ± {_num(suggested_sd)}"
        )
        if result.later is not None:
            out(
                f"Fitted on the earlier dates, measured on {result.later_date:%Y-%m-%d}: "
                f"current {_num(result.later.current_auc)}, suggested {_num(result.later.suggested_auc)}"
            )
