"""The scoring model admin's backtest and what-if pages (``ScoringModelAdmin`` routes to
these): the backtest report with its charts, weights fitted to the history and saved as
a draft, and, before a draft is activated, its band moves over the whole book beside a
backtest of the active version and of the draft."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from scoring import charts
from scoring.admin.common import draft_or_back
from scoring.analysis.backtest import DEFAULT_HORIZON, BacktestReport, backtest_run
from scoring.analysis.suggest import backtest_draft_create, backtest_suggest
from scoring.analysis.whatif import book_band_moves
from scoring.errors import ScoringError
from scoring.formatting import format_score
from scoring.models import ScoringModel
from scoring.validation import components_with_bad_params

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

    def params(self) -> dict:
        data = self.cleaned_data
        return {
            "dates": data["as_of"] or None,  # None: the defaults, less those without history
            "horizon_days": data["horizon"],
            "segment": data["segment"],
        }


def _form(data) -> BacktestForm:
    bound = data if "horizon" in data else None
    return BacktestForm(bound, initial={"horizon": DEFAULT_HORIZON})


def _params(form: BacktestForm) -> dict:
    if form.is_bound:
        return form.params()
    return {"dates": None, "horizon_days": DEFAULT_HORIZON, "segment": ""}


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


def backtest_view(model_admin, request: HttpRequest, object_id: int) -> HttpResponse:
    model = get_object_or_404(ScoringModel, pk=object_id)
    if not model_admin.has_view_permission(request, model):
        raise PermissionDenied
    form = _form(request.GET)
    context = _context(model_admin, request, model, f"Backtest {model}")
    context.update(form=form, can_create_draft=model_admin.has_add_permission(request))
    if not form.is_bound or form.is_valid():
        params = _params(form)
        try:
            report = backtest_run(model=model, **params)
        except ScoringError as exc:
            context["error"] = str(exc)
        else:
            context.update(report_context(report))
            context["query"] = request.GET.urlencode()
            if request.GET.get("suggest") and model.kind == ScoringModel.Kind.WEIGHTED:
                try:
                    context["suggestion"] = backtest_suggest(report=report)
                except ScoringError as exc:
                    context["suggestion_error"] = str(exc)
    return TemplateResponse(request, "admin/scoring/scoringmodel/backtest.html", context)


def backtest_draft_view(model_admin, request: HttpRequest, object_id: int) -> HttpResponse:
    """Fit the suggestion again with the page's parameters and save it as a draft."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    model = get_object_or_404(ScoringModel, pk=object_id)
    back = reverse("admin:scoring_scoringmodel_backtest", args=[model.pk])
    form = _form(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                model_admin.message_user(request, error, messages.ERROR)
        return HttpResponseRedirect(back)
    params = form.params()
    try:
        report = backtest_run(model=model, **params)
        result = backtest_suggest(report=report)
        draft = backtest_draft_create(
            model=model, result=result, horizon_days=params["horizon_days"]
        )
    except ScoringError as exc:
        model_admin.message_user(request, str(exc), messages.ERROR)
        return HttpResponseRedirect(back)
    model_admin.log_addition(request, draft, [{"added": {"name": "version", "object": str(draft)}}])
    model_admin.message_user(
        request,
        f"{draft} is a new draft with weights fitted to the history. Compare it with "
        f"{model} on the whole book (What-if) before activating it.",
        messages.SUCCESS,
    )
    return HttpResponseRedirect(reverse("admin:scoring_scoringmodel_change", args=[draft.pk]))


def whatif_view(model_admin, request: HttpRequest, object_id: int) -> HttpResponse:
    model = draft_or_back(
        model_admin,
        request,
        object_id,
        only_drafts="the what-if compares a draft with the active version before it is activated.",
    )
    if isinstance(model, HttpResponse):
        return model
    form = _form(request.GET)
    context = _context(model_admin, request, model, f"What-if: {model} on the whole book")
    context.update(form=form)
    if model_admin_errors := _blocking_errors(model):
        context["blocked"] = model_admin_errors
        return TemplateResponse(request, "admin/scoring/scoringmodel/whatif.html", context)
    context["moves"] = book_band_moves(model=model)
    active = ScoringModel.objects.filter(key=model.key, status=ScoringModel.Status.ACTIVE).first()
    context["active"] = active
    if not form.is_bound or form.is_valid():
        params = _params(form)
        try:
            draft_report = backtest_run(model=model, **params)
            active_report = backtest_run(model=active, **params) if active else None
        except ScoringError as exc:
            context["error"] = str(exc)
        else:
            context["comparison"] = _comparison(active_report, draft_report)
            context["draft_report"] = draft_report
            context["active_report"] = active_report
    return TemplateResponse(request, "admin/scoring/scoringmodel/whatif.html", context)


def _blocking_errors(model: ScoringModel) -> str:
    broken = components_with_bad_params(model=model)
    if broken:
        return "Fix the parameters of " + ", ".join(broken) + " to compare the draft."
    if not model.components.exists():
        return "The draft has no components yet."
    return ""


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
