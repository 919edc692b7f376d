"""The scoring admin: metrics, signals, model versions with their components and bands,
previews of drafts, recomputes and their results.

Only drafts are edited. An active or retired version is shown read-only, because every
stored score points at the exact rules that produced it; changing an active model's
rules goes through "Create a new draft version", a preview, then "Activate".
"""

from __future__ import annotations

import logging
from functools import partial

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from scoring import admin_backtest
from scoring.errors import ScoringError
from scoring.forms import (
    BandForm,
    BandFormSet,
    ComponentForm,
    ComponentFormSet,
    GradeScaleForm,
    PreviewForm,
    RecomputeForm,
    ScoringModelForm,
)
from scoring.models import (
    AccountHealth,
    Band,
    CsmSentiment,
    GradeScale,
    HealthScore,
    Metric,
    ScoreEvent,
    ScoringComponent,
    ScoringModel,
    ScoringRun,
    ScoringRunChunk,
    Signal,
)
from scoring.preview import preview_sample, preview_summarise, scoring_model_preview
from scoring.runs import scoring_run_start
from scoring.selectors import component_labels, delta_summary
from scoring.services import (
    component_params_errors,
    metric_definition_kept_by,
    metric_save,
    model_errors,
    scoring_model_activate,
    scoring_model_new_version,
    scoring_run_create,
)
from scoring.tasks import scoring_run_dispatch

logger = logging.getLogger(__name__)

ADMIN_CSS = {"all": ["css/admin-scoring.css"]}


def _start_run(run: ScoringRun) -> None:
    """Hand a planned run's chunks to the Celery workers; the run page shows progress."""
    scoring_run_dispatch(run.pk)


def _swatch(color: str | None, label: str | None) -> str:
    """A band or grade with its colour. SVG rather than a style attribute: the content
    security policy forbids inline styles."""
    if not label:
        return "—"
    if not color:
        return label
    return format_html(
        '<span class="band-label"><svg width="10" height="10" aria-hidden="true">'
        '<rect width="10" height="10" rx="2" fill="{}"/></svg> {}</span>',
        color,
        label,
    )


def _band(band: Band | None) -> str:
    return _swatch(band.color, band.name) if band else "—"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


class ReadOnlyAdmin(admin.ModelAdmin):
    """History and results: shown, never edited here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- Metrics and signals -------------------------------------------------------------


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "unit", "rollup_description", "window_days"]
    list_filter = ["rollup"]
    search_fields = ["key", "name"]
    readonly_fields = ["used_by", "created_at"]
    fields = [
        "key",
        "name",
        "unit",
        "description",
        "rollup",
        "window_days",
        "used_by",
        "created_at",
    ]

    @admin.display(description="Roll-up", ordering="rollup")
    def rollup_description(self, metric: Metric) -> str:
        return metric.describe_rollup()

    @admin.display(description="Used by")
    def used_by(self, metric: Metric) -> str:
        if metric.pk is None:
            return "—"
        components = (
            ScoringComponent.objects.filter(metric=metric)
            .select_related("model")
            .order_by("model__key", "model__version")
        )
        if not components:
            return "No scoring model."
        return format_html_join(
            ", ",
            "{} ({}, {})",
            ((str(c.model), c.model.get_status_display(), c.describe_rollup()) for c in components),
        )

    def save_model(self, request, obj, form, change):
        # The one write path of metrics: drafts follow a new roll-up, versions in use keep
        # theirs (scoring.services.metric_save).
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        metric_save(metric=obj, fields=fields if change else form.cleaned_data)
        if change and {"rollup", "window_days"} & set(fields):
            kept = metric_definition_kept_by(metric=obj)
            if kept:
                self.message_user(
                    request,
                    f"{', '.join(str(m) for m in kept)} keep rolling {obj.key} up as before "
                    "(the definition they were activated with), so their scores do not move. "
                    "Create a new version of them to use the new definition.",
                    messages.WARNING,
                )


@admin.register(Signal)
class SignalAdmin(admin.ModelAdmin):
    """Signals arrive through the API and imports and are append-only history."""

    list_display = ["account", "metric", "value", "timestamp", "source", "client_id"]
    list_select_related = ["account", "metric"]
    list_filter = ["metric"]
    search_fields = ["account__external_id", "client_id"]
    search_help_text = "An account's external id or a signal's client id (exact)."
    date_hierarchy = "timestamp"
    # The table is the largest in the database: no second count, newest rows by id.
    show_full_result_count = False
    ordering = ["-id"]
    list_per_page = 50

    def get_search_results(self, request, queryset, search_term):
        # Exact matches use the unique indexes; a LIKE over millions of rows would not.
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(account__external_id=term) | Q(client_id=term)), False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- Scoring models -------------------------------------------------------------------


class _DraftOnlyInline(admin.TabularInline):
    """Rows of a model version: editable while the version is a draft, read-only after."""

    extra = 0

    @staticmethod
    def _editable(obj: ScoringModel | None) -> bool:
        return obj is None or obj.status == ScoringModel.Status.DRAFT

    def has_add_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


class ComponentInline(_DraftOnlyInline):
    model = ScoringComponent
    form = ComponentForm
    formset = ComponentFormSet
    fields = [
        "metric",
        "label",
        "position",
        "weight",
        "rule",
        "params",
        "missing",
        "default_value",
    ]
    ordering = ["position", "id"]

    def get_extra(self, request, obj=None, **kwargs) -> int:
        return 1 if self._editable(obj) and (obj is None or not obj.components.exists()) else 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("metric")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "metric":
            # Adding a metric from here is handy; editing one is a page of its own.
            widget = field.widget
            widget.can_change_related = widget.can_delete_related = False
            widget.can_view_related = False
        return field


class BandInline(_DraftOnlyInline):
    model = Band
    form = BandForm
    formset = BandFormSet
    fields = ["name", "lower", "color", "level"]

    def get_extra(self, request, obj=None, **kwargs) -> int:
        return 1 if self._editable(obj) and (obj is None or not obj.bands.exists()) else 0


@admin.register(ScoringModel)
class ScoringModelAdmin(admin.ModelAdmin):
    form = ScoringModelForm
    inlines = [ComponentInline, BandInline]
    list_display = [
        "name",
        "key",
        "version",
        "kind",
        "status",
        "filter_description",
        "component_count",
        "activated_at",
    ]
    list_filter = ["status", "kind", "segment"]
    search_fields = ["name", "key"]
    readonly_fields = ["version", "status", "based_on", "created_at", "activated_at", "checks"]
    actions = ["new_version_action", "activate_action"]

    class Media:
        css = ADMIN_CSS

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["key", "name", "description", "kind"]}),
            (
                "Applies to",
                {
                    "fields": ["segment", "plan", "lifecycle_stage"],
                    "description": "Empty means any. An account is scored by the most "
                    "specific active model that matches it.",
                },
            ),
            (
                "Flap control",
                {
                    "fields": ["exit_margin", "dwell_scorings", "dwell_days"],
                    "description": "A band change counts (fills queues and tiles, fires "
                    "playbooks) only once the score is past the band's edge by the exit "
                    "margin and has stayed in the new band for the dwell. The raw band of "
                    "every score stays in the history.",
                },
            ),
        ]
        if obj is not None:
            fieldsets.append(
                (
                    "Version",
                    {
                        "fields": [
                            "version",
                            "status",
                            "based_on",
                            "created_at",
                            "activated_at",
                            "checks",
                        ]
                    },
                )
            )
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("key")  # versions of a model share their key
        return fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(component_total=Count("components"))

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status != ScoringModel.Status.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Active and retired versions are what stored scores point at.
        if obj is not None and obj.status != ScoringModel.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="Applies to")
    def filter_description(self, model: ScoringModel) -> str:
        return model.describe_filter()

    @admin.display(description="Components", ordering="component_total")
    def component_count(self, model: ScoringModel) -> int:
        return model.component_total

    @admin.display(description="Checks")
    def checks(self, model: ScoringModel) -> str:
        errors = model_errors(model=model)
        if not errors:
            if model.status == ScoringModel.Status.DRAFT:
                return "No problems found: ready to preview and activate."
            return "No problems found."
        return format_html(
            '<ul class="scoring-checks">{}</ul>',
            format_html_join("", "<li>{}</li>", ((e,) for e in errors)),
        )

    def save_formset(self, request, form, formset, change):
        """Save components or bands so that moving a value from one row to another
        (swapping two bands' bounds, say) never trips a unique constraint half-way."""
        formset.save(commit=False)
        with transaction.atomic():
            for obj in formset.deleted_objects:
                obj.delete()
            changed = [obj for obj, _ in formset.changed_objects]
            if changed:
                # Only drafts are saved here, and nothing refers to a draft's rows yet:
                # they can be written afresh under the same ids.
                formset.model.objects.filter(pk__in=[obj.pk for obj in changed]).delete()
                for obj in changed:
                    obj.save(force_insert=True)
            for obj in formset.new_objects:
                obj.save()

    # --- Versions: new draft, activate, preview --------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<int:object_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="{}_{}_preview".format(*info),
            ),
            path(
                "<int:object_id>/new-version/",
                self.admin_site.admin_view(self.new_version_view),
                name="{}_{}_new_version".format(*info),
            ),
            path(
                "<int:object_id>/activate/",
                self.admin_site.admin_view(self.activate_view),
                name="{}_{}_activate".format(*info),
            ),
            # Backtests and the whole-book what-if live in scoring/admin_backtest.py.
            path(
                "<int:object_id>/backtest/",
                self.admin_site.admin_view(partial(admin_backtest.backtest_view, self)),
                name="{}_{}_backtest".format(*info),
            ),
            path(
                "<int:object_id>/backtest/draft/",
                self.admin_site.admin_view(partial(admin_backtest.backtest_draft_view, self)),
                name="{}_{}_backtest_draft".format(*info),
            ),
            path(
                "<int:object_id>/what-if/",
                self.admin_site.admin_view(partial(admin_backtest.whatif_view, self)),
                name="{}_{}_whatif".format(*info),
            ),
            *super().get_urls(),
        ]

    def _change_url(self, model: ScoringModel) -> str:
        return reverse("admin:scoring_scoringmodel_change", args=[model.pk])

    def _new_version(self, request: HttpRequest, model: ScoringModel) -> ScoringModel:
        draft = scoring_model_new_version(model=model)
        self.log_addition(request, draft, [{"added": {"name": "version", "object": str(draft)}}])
        return draft

    def _activate(self, request: HttpRequest, model: ScoringModel) -> bool:
        previous = ScoringModel.objects.filter(
            key=model.key, status=ScoringModel.Status.ACTIVE
        ).first()
        try:
            scoring_model_activate(model=model)
        except ScoringError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return False
        self.log_change(request, model, "Activated.")
        retired = f"; {previous} is retired" if previous else ""
        self.message_user(
            request,
            format_html(
                "{} is active{}. Scores change at the next recompute: "
                '<a href="{}">start one from Scoring runs</a>.',
                model,
                retired,
                reverse("admin:scoring_scoringrun_changelist"),
            ),
            messages.SUCCESS,
        )
        return True

    @admin.action(description="Create a new draft version of the selected models")
    def new_version_action(self, request, queryset):
        if not self.has_add_permission(request):
            raise PermissionDenied
        drafts = [
            self._new_version(request, model) for model in queryset.order_by("key", "version")
        ]
        self.message_user(
            request, "Created " + ", ".join(str(d) for d in drafts) + " (drafts).", messages.SUCCESS
        )

    @admin.action(description="Activate the selected drafts")
    def activate_action(self, request, queryset):
        if not self.has_change_permission(request):
            raise PermissionDenied
        for model in queryset.order_by("key", "version"):
            self._activate(request, model)

    def new_version_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_add_permission(request):
            raise PermissionDenied
        model = get_object_or_404(ScoringModel, pk=object_id)
        draft = self._new_version(request, model)
        self.message_user(
            request,
            f"{draft} is a new draft based on {model}. Edit it, preview it, then activate it.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(self._change_url(draft))

    def activate_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        model = get_object_or_404(ScoringModel, pk=object_id)
        self._activate(request, model)
        return HttpResponseRedirect(self._change_url(model))

    def preview_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        model = get_object_or_404(ScoringModel, pk=object_id)
        if not self.has_view_permission(request, model):
            raise PermissionDenied
        if model.status != ScoringModel.Status.DRAFT:
            self.message_user(
                request,
                f"{model} is {model.get_status_display().lower()}: only drafts are previewed. "
                "Create a new draft version to try changes.",
                messages.WARNING,
            )
            return HttpResponseRedirect(self._change_url(model))

        form = PreviewForm(request.GET if "size" in request.GET else None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": model,
            "title": f"Preview {model}",
            "form": form,
            "errors": model_errors(model=model),
        }
        broken = [
            c.display_label
            for c in model.components.select_related("metric")
            if component_params_errors(rule=c.rule, params=c.params, model_kind=model.kind)
        ]
        if broken:
            context["blocked"] = (
                "Fix the parameters of " + ", ".join(broken) + " to preview the model."
            )
        elif not form.is_bound or form.is_valid():
            data = form.cleaned_data if form.is_bound else {"size": 200, "sample": "random"}
            as_of = timezone.now()
            ids, available = preview_sample(
                model=model,
                as_of=as_of,
                size=data["size"],
                random=data["sample"] == PreviewForm.SAMPLE_RANDOM,
            )
            rows = scoring_model_preview(model=model, account_ids=ids, as_of=as_of)
            context.update(
                as_of=as_of,
                available=available,
                summary=preview_summarise(model=model, rows=rows),
            )
        return TemplateResponse(request, "admin/scoring/scoringmodel/preview.html", context)


@admin.register(GradeScale)
class GradeScaleAdmin(admin.ModelAdmin):
    form = GradeScaleForm
    list_display = ["letter", "lower", "colour"]

    @admin.display(description="Colour")
    def colour(self, grade: GradeScale) -> str:
        return _swatch(grade.color, grade.color)


# --- Runs and results --------------------------------------------------------------------


class ChunkInline(admin.TabularInline):
    model = ScoringRunChunk
    fields = [
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
    ]
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
    list_filter = ["status", "scope", "trigger"]
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

    def recompute_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("scoring.add_scoringrun"):
            raise PermissionDenied
        changelist = reverse("admin:scoring_scoringrun_changelist")
        form = RecomputeForm(request.POST)
        if not form.is_valid():
            for name, errors in form.errors.items():
                label = form[name].label if name in form.fields else None
                for error in errors:
                    self.message_user(
                        request, f"{label}: {error}" if label else error, messages.ERROR
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
        if not created:
            # One full recompute at a time: show the one under way instead.
            if run is None:
                self.message_user(
                    request, "A full recompute is being planned right now.", messages.WARNING
                )
                return HttpResponseRedirect(changelist)
            self.message_user(
                request,
                f"Run {run.pk} ({run.trigger}) is already recomputing every account; "
                "no second run was started.",
                messages.WARNING,
            )
            return HttpResponseRedirect(reverse("admin:scoring_scoringrun_change", args=[run.pk]))
        run_url = reverse("admin:scoring_scoringrun_change", args=[run.pk])
        try:
            _start_run(run)
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


@admin.register(HealthScore)
class HealthScoreAdmin(ReadOnlyAdmin):
    list_display = [
        "account",
        "model",
        "score_display",
        "band_display",
        "completeness_display",
        "computed_at",
    ]
    list_select_related = ["account", "model", "band"]
    list_filter = ["model"]
    search_fields = ["account__external_id", "account__name"]
    date_hierarchy = "computed_at"
    show_full_result_count = False
    ordering = ["-id"]
    fields = [
        "account",
        "model",
        "run",
        "score_display",
        "band_display",
        "completeness_display",
        "computed_at",
        "breakdown_table",
    ]

    class Media:
        css = ADMIN_CSS

    @admin.display(description="Score", ordering="score")
    def score_display(self, health: HealthScore) -> str:
        return _score(health.score)

    @admin.display(description="Band")
    def band_display(self, health: HealthScore) -> str:
        return _band(health.band)

    @admin.display(description="Completeness", ordering="completeness")
    def completeness_display(self, health: HealthScore) -> str:
        return f"{health.completeness:.0%}"

    @admin.display(description="Breakdown")
    def breakdown_table(self, health: HealthScore) -> str:
        components = list(
            health.model.components.select_related("metric").order_by("position", "id")
        )
        weighted = health.model.kind == ScoringModel.Kind.WEIGHTED
        header = "Weight" if weighted else ""
        rows = []
        for component, (raw, score) in zip(components, health.breakdown, strict=False):
            rows.append(
                (
                    component.display_label,
                    component.metric.key,
                    f"{float(component.weight):g} %" if weighted else "",
                    "missing" if raw is None else f"{raw:g}",
                    "—" if score is None else f"{score:g}",
                )
            )
        return format_html(
            '<table class="scoring-breakdown"><thead><tr><th>Component</th><th>Metric</th>'
            "<th>{}</th><th>Raw value</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            header,
            "Score" if weighted else "Points",
            format_html_join(
                "",
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                rows,
            ),
        )


@admin.register(AccountHealth)
class AccountHealthAdmin(ReadOnlyAdmin):
    list_display = [
        "account",
        "score_display",
        "band_display",
        "model",
        "completeness_display",
        "trend",
        "computed_at",
    ]
    list_select_related = ["account", "band", "model"]
    list_filter = ["model", "band"]
    search_fields = ["account__external_id", "account__name"]
    show_full_result_count = False
    ordering = ["score"]  # the weakest accounts first, along an index

    class Media:
        css = ADMIN_CSS

    @admin.display(description="Score", ordering="score")
    def score_display(self, health: AccountHealth) -> str:
        return _score(health.score)

    @admin.display(description="Band")
    def band_display(self, health: AccountHealth) -> str:
        return _band(health.band)

    @admin.display(description="Completeness", ordering="completeness")
    def completeness_display(self, health: AccountHealth) -> str:
        return f"{health.completeness:.0%}"

    @admin.display(description="30-day change", ordering="trend_30d")
    def trend(self, health: AccountHealth) -> str:
        return "—" if health.trend_30d is None else f"{health.trend_30d:+.1f}"


@admin.register(ScoreEvent)
class ScoreEventAdmin(ReadOnlyAdmin):
    list_display = [
        "kind",
        "account",
        "band_move",
        "score_before_display",
        "score_after_display",
        "change",
        "what_moved",
        "created_at",
        "claimed_at",
    ]
    list_select_related = ["account", "from_band", "to_band", "health_score__model"]
    list_filter = ["kind", ("claimed_at", admin.EmptyFieldListFilter)]
    search_fields = ["account__external_id", "account__name"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    class Media:
        css = ADMIN_CSS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._labels: dict[int, list[str]] = {}

    def changelist_view(self, request, extra_context=None):
        self._labels = {}  # one page's worth: read each version's labels once per page
        return super().changelist_view(request, extra_context)

    @admin.display(description="Band")
    def band_move(self, event: ScoreEvent) -> str:
        return format_html(
            '<span class="band-label">{} → {}</span>', _band(event.from_band), _band(event.to_band)
        )

    @admin.display(description="Score before", ordering="score_before")
    def score_before_display(self, event: ScoreEvent) -> str:
        return _score(event.score_before)

    @admin.display(description="Score after", ordering="score_after")
    def score_after_display(self, event: ScoreEvent) -> str:
        return _score(event.score_after)

    @admin.display(description="Change")
    def change(self, event: ScoreEvent) -> str:
        return "—" if event.delta is None else f"{event.delta:+.1f}"

    @admin.display(description="What moved it")
    def what_moved(self, event: ScoreEvent) -> str:
        model_id = event.health_score.model_id
        if model_id not in self._labels:
            self._labels[model_id] = component_labels(model_id=model_id)
        return delta_summary(health_score=event.health_score, labels=self._labels[model_id]) or "—"


@admin.register(CsmSentiment)
class CsmSentimentAdmin(ReadOnlyAdmin):
    """Recorded on the account page, where it is also stored as a signal."""

    list_display = ["account", "value", "author", "short_note", "created_at"]
    list_select_related = ["account", "author"]
    list_filter = ["value"]
    search_fields = ["account__external_id", "account__name", "note"]
    date_hierarchy = "created_at"

    @admin.display(description="Note")
    def short_note(self, sentiment: CsmSentiment) -> str:
        return sentiment.note if len(sentiment.note) <= 80 else sentiment.note[:79] + "…"
