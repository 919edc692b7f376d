"""Playbook runs and their step runs: the record of what playbooks did, shown read-only;
a running run can be cancelled (``playbook_run_cancel``)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone

from accounts.pagination import BookPaginator
from playbooks.admin.common import ReadOnlyAdmin
from playbooks.models import PlaybookRun, PlaybookStepRun
from playbooks.services import playbook_run_cancel

STEP_RUN_FIELDS = ("step", "status", "due_at", "dispatched_at", "attempts", "done_at", "error")


class PlaybookStepRunInline(admin.TabularInline):
    model = PlaybookStepRun
    extra = 0
    can_delete = False
    fields = STEP_RUN_FIELDS
    readonly_fields = STEP_RUN_FIELDS

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PlaybookRun)
class PlaybookRunAdmin(ReadOnlyAdmin):
    list_display = [
        "playbook",
        "account",
        "event_key",
        "level",
        "status",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "playbook", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["account__name", "account__external_id", "event_key"]
    list_select_related = ["playbook", "account"]
    # A run per account and event: count exactly only up to a limit, and only once;
    # newest first along the primary key (created_at has no index of its own).
    show_full_result_count = False
    paginator = BookPaginator
    ordering = ["-id"]
    inlines = [PlaybookStepRunInline]
    actions = ["cancel_runs"]
    readonly_fields = [
        "playbook",
        "account",
        "event_key",
        "score_event",
        "context",
        "level",
        "status",
        "created_at",
        "finished_at",
    ]

    @admin.action(description="Cancel the selected runs (their waiting steps never run)")
    def cancel_runs(self, request, queryset):
        now = timezone.now()
        cancelled = sum(playbook_run_cancel(run=run, now=now) for run in queryset)
        self.message_user(request, f"{cancelled} run(s) cancelled.", messages.SUCCESS)
