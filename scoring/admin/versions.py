"""Scoring model versions with their components and bands, their previews, and the
letter-grade scale.

Only drafts are edited. An active or retired version is shown read-only, because every
stored score points at the exact rules that produced it; changing an active model's
rules goes through "Create a new draft version", a preview, then "Activate".
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from scoring.admin import backtest
from scoring.admin.common import ADMIN_CSS, draft_or_back, swatch
from scoring.analysis.preview import preview_sample, preview_summarise, scoring_model_preview
from scoring.errors import ScoringError
from scoring.forms import (
    BandForm,
    BandFormSet,
    ComponentForm,
    ComponentFormSet,
    GradeScaleForm,
    PreviewForm,
    ScoringModelForm,
)
from scoring.models import Band, GradeScale, ScoringComponent, ScoringModel
from scoring.services import (
    MODEL_FIELDS,
    BandInput,
    ComponentInput,
    scoring_model_activate,
    scoring_model_draft_save,
    scoring_model_new_version,
)
from scoring.validation import components_with_bad_params, model_errors


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
    form = ComponentForm  # its fields are the inline's
    formset = ComponentFormSet
    ordering = ["position", "id"]

    def get_extra(self, request, obj=None, **kwargs) -> int:
        return 1 if self._editable(obj) and (obj is None or not obj.components.exists()) else 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("metric")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "metric" and field is not None:
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
        # Annotated by get_queryset, which the admin's ``model`` type cannot say.
        return model.component_total  # type: ignore[attr-defined]

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

    def save_model(self, request, obj, form, change):
        """Nothing yet: the version is saved whole, with its components and bands, by
        ``save_related`` through the one write path of drafts."""

    def save_related(self, request, form, formsets, change):
        """The draft, its components and its bands through ``scoring_model_draft_save``,
        the service the API writes through, with the same checks of the whole model."""
        obj = form.instance
        parts = {formset.model: formset for formset in formsets}
        for formset in formsets:
            formset.save(commit=False)  # what changed, for the admin's history message
        components = sorted(
            (f for f in parts[ScoringComponent].live_forms()),
            key=lambda f: (
                f.cleaned_data.get("position") or 0,
                parts[ScoringComponent].forms.index(f),
            ),
        )
        model = scoring_model_draft_save(
            model=obj if change else None,
            key=None if change else form.cleaned_data["key"],
            fields={name: form.cleaned_data[name] for name in MODEL_FIELDS},
            components=[
                ComponentInput(
                    metric=f.cleaned_data["metric"],
                    label=f.cleaned_data.get("label") or "",
                    weight=f.cleaned_data.get("weight") or Decimal(0),
                    rule=f.cleaned_data["rule"],
                    params=f.cleaned_data["params"],
                    missing=f.cleaned_data["missing"],
                    default_value=f.cleaned_data.get("default_value"),
                )
                for f in components
            ],
            bands=[
                BandInput(
                    name=f.cleaned_data["name"],
                    lower=f.cleaned_data["lower"],
                    color=f.cleaned_data["color"],
                    level=f.cleaned_data["level"],
                )
                for f in parts[Band].live_forms()
            ],
        )
        # The admin goes on with the instance it holds: its history entry and redirect.
        obj.pk = model.pk
        obj.refresh_from_db()

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
            # Backtests and the whole-book what-if live in scoring/backtest.py.
            path(
                "<int:object_id>/backtest/",
                self.admin_site.admin_view(partial(backtest.backtest_view, self)),
                name="{}_{}_backtest".format(*info),
            ),
            path(
                "<int:object_id>/backtest/draft/",
                self.admin_site.admin_view(partial(backtest.backtest_draft_view, self)),
                name="{}_{}_backtest_draft".format(*info),
            ),
            path(
                "<int:object_id>/what-if/",
                self.admin_site.admin_view(partial(backtest.whatif_view, self)),
                name="{}_{}_whatif".format(*info),
            ),
            path(
                "<int:object_id>/analysis/<int:job_id>/",
                self.admin_site.admin_view(partial(backtest.analysis_job_view, self)),
                name="{}_{}_analysis_job".format(*info),
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
        model = draft_or_back(
            self,
            request,
            object_id,
            only_drafts="only drafts are previewed. Create a new draft version to try changes.",
        )
        if isinstance(model, HttpResponse):
            return model

        form = PreviewForm(request.GET if "size" in request.GET else None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": model,
            "title": f"Preview {model}",
            "form": form,
            "errors": model_errors(model=model),
        }
        broken = components_with_bad_params(model=model)
        if broken:
            context["blocked"] = (
                "Fix the parameters of " + ", ".join(broken) + " to preview the model."
            )
        elif not form.is_bound or form.is_valid():
            data: dict[str, Any] = (
                form.cleaned_data if form.is_bound else {"size": 200, "sample": "random"}
            )
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
        return swatch(grade.color, grade.color)
