"""How long history is kept: the one retention policy (edited here, saved through
``scoring.services.retention_policy_save``) and the compactions that applied it."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from config.singletons import SingletonAdmin
from scoring.admin.common import ReadOnlyAdmin
from scoring.models import CompactionRun, RetentionPolicy
from scoring.services import retention_policy_save


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(SingletonAdmin):
    fieldsets = [
        (
            "Score history",
            {"fields": ["keep_everything", "daily_days", "weekly_days", "monthly_days"]},
        ),
        ("Raw signals", {"fields": ["signals_enabled", "signals_margin_days"]}),
    ]

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
