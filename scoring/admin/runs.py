"""Recomputes: the runs and their chunks (read-only), and the form that starts one;
backtest and what-if jobs (read-only: their pages start them)."""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.defaultfilters import pluralize
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.admin_filters import input_filter
from accounts.http import AuthenticatedHttpRequest
from scoring.admin.common import ADMIN_CSS, ReadOnlyAdmin
from scoring.errors import ScoringError
from scoring.forms import RecomputeForm
from scoring.models import AnalysisJob, ScoringModel, ScoringRun, ScoringRunChunk
from scoring.services import scoring_run_create, scoring_run_start
from scoring.tasks import scoring_run_dispatch

logger = logging.getLogger(__name__)


class ChunkInline(admin.TabularInline):
    model = ScoringRunChunk
    fields = (
        "index",
        "first_account_id",
        "last_account_id",
        "done",
        "scored",
        "attempts",
        "dispatched_at",
        "claimed_at",
        "finished_at",
        "error",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ScoringRun)
class ScoringRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "scope_description",
        "trigger",
        "status",
        "progress",
        "accounts",
        "band_changes",
        "score_drops",
        "duration_display",
        "created_at",
    ]
    list_filter = [
        "status",
        "scope",
        input_filter(title="trigger (exact)", parameter_name="trigger", lookup="trigger"),
    ]
    ordering = ["-id"]  # newest first, along the primary key
    list_select_related = ["account"]
    inlines = [ChunkInline]
    fields = [
        "status",
        "scope_description",
        "as_of",
        "trigger",
        "requested_by",
        "models",
        "progress",
        "chunk_size",
        "chunks_done",
        "chunks_total",
        "accounts",
        "band_changes",
        "score_drops",
        "created_at",
        "started_at",
        "finished_at",
        "duration_display",
        "errors",
    ]

    class Media:
        css = ADMIN_CSS

    @admin.display(description="Scope")
    def scope_description(self, run: ScoringRun) -> str:
        if run.scope == ScoringRun.Scope.SEGMENT:
            return f"Segment {run.segment}"
        if run.scope == ScoringRun.Scope.ACCOUNT:
            return f"Account {run.account}" if run.account else "One account (removed)"
        return run.get_scope_display()

    @admin.display(description="Progress")
    def progress(self, run: ScoringRun) -> str:
        return f"{run.progress_pct} %"

    @admin.display(description="Accounts scored")
    def accounts(self, run: ScoringRun) -> str:
        return f"{run.accounts_scored} / {run.accounts_total}"

    @admin.display(description="Duration")
    def duration_display(self, run: ScoringRun) -> str:
        if run.duration is None:
            return "—"
        seconds = run.duration.total_seconds()
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.0f} s"

    @admin.display(description="Model versions")
    def models(self, run: ScoringRun) -> str:
        versions = ScoringModel.objects.filter(pk__in=run.model_ids).order_by("key", "version")
        return ", ".join(str(m) for m in versions) or "None active"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "recompute/",
                self.admin_site.admin_view(self.recompute_view),
                name="{}_{}_recompute".format(*info),
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "recompute_form": RecomputeForm(),
            "can_recompute": request.user.has_perm("scoring.add_scoringrun"),
        }
        return super().changelist_view(request, extra_context)

    def recompute_view(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("scoring.add_scoringrun"):
            raise PermissionDenied
        changelist = reverse("admin:scoring_scoringrun_changelist")
        form = RecomputeForm(request.POST)
        if not form.is_valid():
            for name, errors in form.errors.items():
                label = form[name].label if name in form.fields else None
                for error in errors:  # an ErrorList gives its messages as text
                    self.message_user(
                        request, f"{label}: {error}" if label else str(error), messages.ERROR
                    )
            return HttpResponseRedirect(changelist)
        data = form.cleaned_data
        try:
            if data["scope"] == ScoringRun.Scope.ALL:
                run, created = scoring_run_start(trigger="admin", requested_by=request.user)
            else:
                run, created = (
                    scoring_run_create(
                        scope=data["scope"],
                        segment=data.get("segment") or "",
                        account=data.get("account"),
                        trigger="admin",
                        requested_by=request.user,
                    ),
                    True,
                )
        except ScoringError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(changelist)
        if run is None:
            self.message_user(
                request, "A full recompute is being planned right now.", messages.WARNING
            )
            return HttpResponseRedirect(changelist)
        if not created:
            # One full recompute at a time: show the one under way instead.
            self.message_user(
                request,
                f"Run {run.pk} ({run.trigger}) is already recomputing every account; "
                "no second run was started.",
                messages.WARNING,
            )
            return HttpResponseRedirect(reverse("admin:scoring_scoringrun_change", args=[run.pk]))
        run_url = reverse("admin:scoring_scoringrun_change", args=[run.pk])
        try:
            # Hand the planned run's chunks to the workers; the run page shows progress.
            scoring_run_dispatch(run.pk)
        except Exception as exc:
            # A failed chunk is recorded on the run, shown below rather than as a 500.
            logger.exception("Recompute run %s failed", run.pk)
            run.refresh_from_db()
            if run.status != ScoringRun.Status.FAILED:
                self.message_user(
                    request,
                    f"Run {run.pk} could not be started: {type(exc).__name__}: {exc}",
                    messages.ERROR,
                )
                return HttpResponseRedirect(run_url)
        run.refresh_from_db()
        self.message_user(request, _run_message(run), _run_level(run))
        return HttpResponseRedirect(run_url)


def _run_message(run: ScoringRun) -> str:
    if run.status == ScoringRun.Status.SUCCEEDED:
        text = (
            f"Run {run.pk} succeeded: {run.accounts_scored} of {run.accounts_total} accounts "
            f"scored, {run.band_changes} band changes, {run.score_drops} score drops."
        )
        return f"{text} {run.errors}" if run.errors else text
    if run.status == ScoringRun.Status.FAILED:
        return f"Run {run.pk} failed: {run.errors}"
    return (
        f"Run {run.pk} started: {run.accounts_total} accounts in {run.chunks_total} "
        f"chunk{pluralize(run.chunks_total)}. "
        "This page shows its progress."
    )


def _run_level(run: ScoringRun) -> int:
    if run.status == ScoringRun.Status.FAILED:
        return messages.ERROR
    if run.errors:
        return messages.WARNING
    return messages.SUCCESS


@admin.register(AnalysisJob)
class AnalysisJobAdmin(ReadOnlyAdmin):
    """Backtests and what-ifs, as the workers ran them. Started from a version's
    Backtest or What-if page, which shows each with its report."""

    list_display = ["id", "kind", "model", "status", "progress", "requested_by", "created_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["model", "requested_by"]
    fields = [
        "kind",
        "model",
        "report",
        "params",
        "status",
        "stage",
        "progress",
        "attempts",
        "trigger",
        "requested_by",
        "created_at",
        "started_at",
        "heartbeat_at",
        "finished_at",
        "error",
    ]

    @admin.display(description="Progress")
    def progress(self, job: AnalysisJob) -> str:
        return f"{job.progress_pct} % ({job.done} / {job.total})"

    @admin.display(description="Page")
    def report(self, job: AnalysisJob) -> str:
        name = "whatif" if job.kind == AnalysisJob.Kind.WHATIF else "backtest"
        url = reverse(f"admin:scoring_scoringmodel_{name}", args=[job.model_id])
        return format_html(
            '<a href="{}?job={}">{} {}</a>', url, job.pk, job.get_kind_display(), job.pk
        )
