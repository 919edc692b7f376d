"""The scoring model admin's backtest and what-if pages (``ScoringModelAdmin`` routes to
these): the backtest report with its charts, weights fitted to the history and saved as
a draft, and, before a draft is activated, its band moves over the whole book beside a
backtest of the active version and of the draft.

Both run over the whole book, so the form starts a job on the workers
(``scoring.analysis.jobs``) and the page shows it: its progress, polled with htmx, then
its report."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from accounts.http import AuthenticatedHttpRequest
from accounts.models import Account
from scoring import charts
from scoring.admin.common import draft_or_back
from scoring.analysis.backtest import (
    CHURN_LABELS,
    DEFAULT_HORIZON,
    BacktestReport,
    label_choices,
)
from scoring.analysis.jobs import (
    analysis_job_start,
    analysis_params,
    backtest_job_result,
    whatif_blockers,
    whatif_job_result,
)
from scoring.analysis.suggest import backtest_draft_create
from scoring.errors import ScoringError
from scoring.formatting import format_score
from scoring.models import AnalysisJob, ScoringModel

# Curves of successive as-of dates, oldest first.
CURVE_COLORS = ["#94a3b8", "#0ea5e9", "#6366f1", "#16a34a", "#d97706", "#dc2626"]
MAX_DATES = 6


class BacktestForm(forms.Form):
    as_of = forms.CharField(
        label="As-of dates",
        required=False,
        help_text="YYYY-MM-DD, separated by commas or spaces. Empty: 90, 60 and 30 days ago.",
    )
    horizon = forms.IntegerField(
        label="Horizon (days)",
        min_value=1,
        max_value=3650,
        initial=DEFAULT_HORIZON,
        help_text="A churn within this many days after a date counts.",
    )
    segment = forms.ChoiceField(
        choices=[("", "All segments"), *Account.Segment.choices], required=False
    )
    labels = forms.ChoiceField(
        label="Labels",
        choices=[],
        required=False,
        help_text="What counts as lost within the horizon: the churn date, or the renewal "
        "outcomes (a churn or a downgrade due then).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        labels = self.fields["labels"]
        assert isinstance(labels, forms.ChoiceField)
        labels.choices = label_choices()

    def clean_as_of(self) -> list[dt.date]:
        text = self.cleaned_data["as_of"].replace(",", " ")
        dates = []
        for word in text.split():
            try:
                dates.append(dt.date.fromisoformat(word))
            except ValueError:
                raise forms.ValidationError(f"{word!r} is not a date (YYYY-MM-DD).") from None
        if len(dates) > MAX_DATES:
            raise forms.ValidationError(f"At most {MAX_DATES} dates at once.")
        today = timezone.localdate()
        future = [d for d in dates if d >= today]
        if future:
            raise forms.ValidationError(
                f"{future[0]:%Y-%m-%d} is not in the past: as-of dates must be before today."
            )
        return dates

    def params(self, *, suggest: bool = False) -> dict:
        data = self.cleaned_data
        return analysis_params(
            dates=data["as_of"] or None,  # None: the defaults, less those without history
            horizon_days=data["horizon"],
            segment=data["segment"],
            suggest=suggest,
            labels=data.get("labels") or CHURN_LABELS,
        )


def _form(data) -> BacktestForm:
    bound = data if "horizon" in data else None
    return BacktestForm(bound, initial={"horizon": DEFAULT_HORIZON})


def _form_of(job: AnalysisJob) -> BacktestForm:
    """The form as the job was started, to start it again or change it."""
    return BacktestForm(initial=_query(job.params))


def _query(params: dict) -> dict:
    return {
        "as_of": " ".join(params["dates"] or []),
        "horizon": params["horizon_days"],
        "segment": params["segment"],
        "labels": params.get("labels", CHURN_LABELS),
    }


def report_context(report: BacktestReport) -> dict:
    """The report and its charts, as the report template reads them."""
    colors = {p.date: CURVE_COLORS[i % len(CURVE_COLORS)] for i, p in enumerate(report.points)}
    roc = charts.roc_chart(
        curves=[(f"{p.date:%Y-%m-%d}", colors[p.date], p.roc) for p in report.points if p.roc]
    )
    sections = []
    for point in report.points:
        band_bars, band_line = charts.rate_bars(
            bars=[
                (
                    band.name,
                    band.rate,
                    band.color or "#94a3b8",
                    f"{band.name}: {band.churned} of {band.accounts} churned",
                )
                for band in reversed(point.bands)
            ],
            width=360,
            height=170,
            baseline=point.churn_rate,
        )
        decile_bars, decile_line = charts.rate_bars(
            bars=[
                (
                    str(d.index),
                    d.rate,
                    "#6366f1",
                    f"Decile {d.index} (scores {format_score(d.low)}–{format_score(d.high)}): "
                    f"{d.churned} of {d.accounts} churned",
                )
                for d in point.deciles
            ],
            width=360,
            height=170,
            baseline=point.churn_rate,
        )
        sections.append(
            {
                "point": point,
                "color": colors[point.date],
                "band_bars": band_bars,
                "band_line": band_line,
                "decile_bars": decile_bars,
                "decile_line": decile_line,
                "components": sorted(
                    point.components, key=lambda c: -(c.auc if c.auc is not None else -1)
                ),
            }
        )
    return {"report": report, "roc": roc, "sections": sections}


def _context(model_admin, request, model: ScoringModel, title: str) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "original": model,
        "title": title,
    }


# --- Jobs ------------------------------------------------------------------------------------


def _start(
    model_admin,
    request: AuthenticatedHttpRequest,
    *,
    kind: str,
    model: ScoringModel,
    form: BacktestForm,
) -> HttpResponse | None:
    """Start the job the valid ``form`` asks for (or find the one already running) and
    go to it; None, with the form holding the error, when the service refuses."""
    try:
        job, created = analysis_job_start(
            kind=kind,
            model=model,
            params=form.params(suggest=bool(request.POST.get("suggest"))),
            requested_by=request.user,
        )
    except ScoringError as exc:
        form.add_error(None, str(exc))
        return None
    if not created:
        model_admin.message_user(
            request,
            f"{job.get_kind_display()} {job.pk} with these parameters is already under way: "
            "here it is.",
            messages.INFO,
        )
    url = reverse(
        "admin:scoring_scoringmodel_whatif"
        if kind == AnalysisJob.Kind.WHATIF
        else "admin:scoring_scoringmodel_backtest",
        args=[model.pk],
    )
    return HttpResponseRedirect(f"{url}?job={job.pk}")


def _form_or_start(
    model_admin,
    request: AuthenticatedHttpRequest,
    *,
    kind: str,
    model: ScoringModel,
    job: AnalysisJob | None,
) -> tuple[BacktestForm, HttpResponse | None]:
    """The page's form; a valid POST of it starts the job and answers the redirect."""
    if request.method != "POST":
        return (_form_of(job) if job else _form(request.GET)), None
    form = BacktestForm(request.POST)
    if not form.is_valid():
        return form, None
    return form, _start(model_admin, request, kind=kind, model=model, form=form)


def _chosen_job(request: HttpRequest, model: ScoringModel, kind: str) -> AnalysisJob | None:
    job_id = request.GET.get("job", "")
    if not job_id.isdigit():
        return None
    return get_object_or_404(
        AnalysisJob.objects.select_related("requested_by"), pk=job_id, model=model, kind=kind
    )


def _recent(model: ScoringModel, kind: str) -> list[AnalysisJob]:
    return list(
        AnalysisJob.objects.filter(model=model, kind=kind)
        .select_related("requested_by")
        .order_by("-id")[:5]
    )


def job_context(job: AnalysisJob) -> dict:
    """What the job panel shows: progress while it runs, the error, or the report."""
    context: dict = {
        "job": job,
        "job_url": reverse("admin:scoring_scoringmodel_analysis_job", args=[job.model_id, job.pk]),
        "job_query": urlencode(_query(job.params)),
    }
    if job.kind == AnalysisJob.Kind.BACKTEST and (result := backtest_job_result(job)):
        context.update(report_context(result.report))
        context["suggestion"] = result.suggestion
        context["suggestion_error"] = result.suggestion_error
    elif job.kind == AnalysisJob.Kind.WHATIF and (whatif := whatif_job_result(job)):
        context.update(
            moves=whatif.moves,
            active=whatif.active,
            error=whatif.error,
            comparison=_comparison(whatif.active_report, whatif.draft_report)
            if whatif.draft_report
            else None,
        )
    return context


def analysis_job_view(
    model_admin, request: HttpRequest, object_id: int, job_id: int
) -> HttpResponse:
    """The job panel alone: what the page polls while the job runs."""
    model = get_object_or_404(ScoringModel, pk=object_id)
    if not model_admin.has_view_permission(request, model):
        raise PermissionDenied
    job = get_object_or_404(
        AnalysisJob.objects.select_related("requested_by"), pk=job_id, model=model
    )
    context = {
        "original": model,
        "can_create_draft": model_admin.has_add_permission(request),
        "recent": _recent(model, job.kind),
        **job_context(job),
    }
    return TemplateResponse(request, "admin/scoring/analysis_job.html", context)


# --- Backtest ----------------------------------------------------------------------------------


def backtest_view(model_admin, request: AuthenticatedHttpRequest, object_id: int) -> HttpResponse:
    model = get_object_or_404(ScoringModel, pk=object_id)
    if not model_admin.has_view_permission(request, model):
        raise PermissionDenied
    kind = AnalysisJob.Kind.BACKTEST
    job = _chosen_job(request, model, kind)
    form, started = _form_or_start(model_admin, request, kind=kind, model=model, job=job)
    if started:
        return started
    context = _context(model_admin, request, model, f"Backtest {model}")
    context.update(
        form=form,
        can_create_draft=model_admin.has_add_permission(request),
        recent=_recent(model, kind),
    )
    if job:
        context.update(job_context(job))
    return TemplateResponse(request, "admin/scoring/scoringmodel/backtest.html", context)


def backtest_draft_view(model_admin, request: HttpRequest, object_id: int) -> HttpResponse:
    """Save the suggestion of a finished backtest job as a draft."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    model = get_object_or_404(ScoringModel, pk=object_id)
    back = reverse("admin:scoring_scoringmodel_backtest", args=[model.pk])
    job_id = request.POST.get("job", "")
    job = (
        AnalysisJob.objects.filter(pk=job_id, model=model, kind=AnalysisJob.Kind.BACKTEST).first()
        if job_id.isdigit()
        else None
    )
    result = backtest_job_result(job) if job else None
    if job is None or result is None or result.suggestion is None:
        model_admin.message_user(
            request,
            "Choose a finished backtest with suggested weights to make a draft of them.",
            messages.ERROR,
        )
        return HttpResponseRedirect(back)
    try:
        draft = backtest_draft_create(
            model=model, result=result.suggestion, horizon_days=job.params["horizon_days"]
        )
    except ScoringError as exc:
        model_admin.message_user(request, str(exc), messages.ERROR)
        return HttpResponseRedirect(f"{back}?job={job.pk}")
    model_admin.log_addition(request, draft, [{"added": {"name": "version", "object": str(draft)}}])
    model_admin.message_user(
        request,
        f"{draft} is a new draft with weights fitted to the history. Compare it with "
        f"{model} on the whole book (What-if) before activating it.",
        messages.SUCCESS,
    )
    return HttpResponseRedirect(reverse("admin:scoring_scoringmodel_change", args=[draft.pk]))


# --- What-if -----------------------------------------------------------------------------------


def whatif_view(model_admin, request: AuthenticatedHttpRequest, object_id: int) -> HttpResponse:
    model = draft_or_back(
        model_admin,
        request,
        object_id,
        only_drafts="the what-if compares a draft with the active version before it is activated.",
    )
    if isinstance(model, HttpResponse):
        return model
    kind = AnalysisJob.Kind.WHATIF
    job = _chosen_job(request, model, kind)
    context = _context(model_admin, request, model, f"What-if: {model} on the whole book")
    if blocked := whatif_blockers(model=model):
        context["blocked"] = blocked
        return TemplateResponse(request, "admin/scoring/scoringmodel/whatif.html", context)
    form, started = _form_or_start(model_admin, request, kind=kind, model=model, job=job)
    if started:
        return started
    context.update(form=form, recent=_recent(model, kind))
    if job:
        context.update(job_context(job))
    return TemplateResponse(request, "admin/scoring/scoringmodel/whatif.html", context)


def _comparison(active: BacktestReport | None, draft: BacktestReport) -> list[dict]:
    rows = []
    # By date: with default dates each version leaves out those its windows lack history for.
    active_points = {p.date: p for p in active.points} if active else {}
    for point in draft.points:
        before = active_points.get(point.date)
        rows.append(
            {
                "date": point.date,
                "customers": point.customers,
                "churned": point.churned,
                "active_auc": before.auc if before else None,
                "draft_auc": point.auc,
                "active_lift": before.worst_band.lift if before and before.worst_band else None,
                "active_worst": before.worst_band.name if before and before.worst_band else "",
                "draft_lift": point.worst_band.lift if point.worst_band else None,
                "draft_worst": point.worst_band.name if point.worst_band else "",
                "problems": point.problems,
            }
        )
    return rows
