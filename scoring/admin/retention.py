"""How long history is kept: the one retention policy (edited here, saved through
``scoring.services.retention_policy_save``) and the compactions that applied it."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from scoring.admin.common import ReadOnlyAdmin
from scoring.models import CompactionRun, RetentionPolicy
from scoring.services import retention_policy_save


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    fieldsets = [
        (
            "Score history",
            {"fields": ["keep_everything", "daily_days", "weekly_days", "monthly_days"]},
        ),
        ("Raw signals", {"fields": ["signals_enabled", "signals_margin_days"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_object(self, request: HttpRequest, object_id: str, from_field=None):
        # The one policy, the default one until it is first saved.
        return RetentionPolicy.current()

    def changelist_view(self, request: HttpRequest, extra_context=None):
        return HttpResponseRedirect(reverse("admin:scoring_retentionpolicy_change", args=[1]))

    def save_model(self, request: HttpRequest, obj: RetentionPolicy, form, change) -> None:
        retention_policy_save(policy=obj)


@admin.register(CompactionRun)
class CompactionRunAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "finished_at",
        "policy",
        "scores_daily_cutoff",
        "scores_removed",
        "signals_cutoff",
        "signals_removed",
    ]
    ordering = ["-started_at", "-id"]
    show_full_result_count = False
