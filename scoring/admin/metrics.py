"""Metrics (edited through their one write path), signals and CSM sentiment (history,
shown read-only)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q
from django.utils.html import format_html_join

from accounts.admin_filters import input_filter
from accounts.pagination import BookPaginator
from scoring.admin.common import ReadOnlyAdmin
from scoring.models import CsmSentiment, Metric, ScoringComponent, Signal
from scoring.services import metric_definition_kept_by, metric_delete, metric_save


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

    def delete_model(self, request, obj):
        # The admin's own check of what protects a metric (its components and signals)
        # comes first; the service refuses the same, and says so to the API.
        metric_delete(metric=obj)

    def delete_queryset(self, request, queryset):
        for metric in queryset:
            metric_delete(metric=metric)


@admin.register(Signal)
class SignalAdmin(admin.ModelAdmin):
    """Signals arrive through the API and imports and are append-only history."""

    list_display = ["account", "metric", "value", "timestamp", "source", "client_id"]
    list_select_related = ["account", "metric"]
    list_filter = ["metric", ("timestamp", admin.DateFieldListFilter)]
    search_fields = ["account__external_id", "client_id"]
    search_help_text = "An account's external id or a signal's client id (exact)."
    # The table is the largest in the database: no second count, newest rows by id.
    show_full_result_count = False
    paginator = BookPaginator
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


@admin.register(CsmSentiment)
class CsmSentimentAdmin(ReadOnlyAdmin):
    """Recorded on the account page, where it is also stored as a signal."""

    list_display = ["account", "value", "author", "short_note", "created_at"]
    list_select_related = ["account", "author"]
    list_filter = [
        input_filter(title="value (1–5)", parameter_name="value", lookup="value"),
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["account__external_id", "account__name", "note"]
    ordering = ["-id"]  # newest first, along the primary key

    @admin.display(description="Note")
    def short_note(self, sentiment: CsmSentiment) -> str:
        return sentiment.note if len(sentiment.note) <= 80 else sentiment.note[:79] + "…"
