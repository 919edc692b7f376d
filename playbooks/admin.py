"""Django admin for playbooks (with their steps and a dry run on an account), runs,
tasks, notes, webhook endpoints and deliveries (read-only, with "retry now")."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import Account
from playbooks.effectiveness import playbook_effectiveness
from playbooks.forms import BackfillForm, EffectivenessForm
from playbooks.models import (
    Delivery,
    Note,
    Playbook,
    PlaybookRun,
    PlaybookStep,
    PlaybookStepRun,
    Task,
    WebhookEndpoint,
)
from playbooks.selectors import playbook_dry_run
from playbooks.services import (
    delivery_retry,
    playbook_backfill,
    playbook_run_cancel,
    playbook_save,
    webhook_endpoint_resume,
    webhook_secret_rotate,
)

# URLs typed without a scheme are taken as https (Django 6's default, asked for now).
URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}


class PlaybookStepInline(admin.StackedInline):
    model = PlaybookStep
    extra = 0
    formfield_overrides = URL_FIELDS
    autocomplete_fields = ["assignee_user"]
    fieldsets = [
        (None, {"fields": [("position", "kind", "wait_days")]}),
        (
            "Create a CSM task",
            {
                "fields": [
                    "task_title",
                    "task_description",
                    ("task_priority", "task_due_in_days"),
                    ("assignee_rule", "assignee_user"),
                ],
                "description": "Texts may use {account}, {score}, {band}, {previous_band}, "
                "{owner} and {delta}.",
            },
        ),
        (
            "Send an email",
            {
                "fields": [("email_to", "email_address"), "email_subject", "email_body"],
                "classes": ["collapse"],
            },
        ),
        (
            "Post to Slack",
            {"fields": ["slack_webhook_url", "slack_text"], "classes": ["collapse"]},
        ),
        ("Send a signed webhook", {"fields": ["webhook_endpoint"], "classes": ["collapse"]}),
        (
            "Set a field on the account",
            {"fields": [("field_name", "field_value")], "classes": ["collapse"]},
        ),
    ]


@admin.register(Playbook)
class PlaybookAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "trigger_summary",
        "condition_summary",
        "is_active",
        "cooldown_days",
        "step_count",
        "run_count",
        "last_fired",
        "dry_run_link",
    ]
    list_filter = ["is_active", "trigger", "segment", "owner_team"]
    search_fields = ["name", "description"]
    inlines = [PlaybookStepInline]
    change_form_template = "admin/playbooks/playbook/change_form.html"
    readonly_fields = ["enabled_at"]
    fieldsets = [
        (None, {"fields": ["name", "description", ("is_active", "enabled_at"), "trigger"]}),
        (
            "Trigger parameters",
            {
                "fields": [
                    ("level", "or_worse"),
                    ("from_band_name", "to_band_name"),
                    ("drop_points", "within_days"),
                    "score_threshold",
                    ("renewal_days", "band_names", "band_names_exclude"),
                    ("metric", "direction", "threshold"),
                ],
                "description": "Fill in the parameters of the chosen trigger; the others are ignored.",
            },
        ),
        (
            "Conditions (empty = any account)",
            {
                "fields": [
                    ("segment", "plan", "lifecycle_stage"),
                    ("arr_min", "arr_max"),
                    ("owner_team", "level_at_least"),
                ]
            },
        ),
        (
            "Trust",
            {
                "fields": [
                    "cooldown_days",
                    "on_recovery",
                    "on_rebaseline",
                    ("holdout_pct", "holdout_arr_max"),
                ],
                "description": "A step never makes a second open task for an account: it "
                "adds a note to the open one. A playbook acts on events from when it is "
                "switched on (Backfill acts on earlier ones, after a dry run).",
            },
        ),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("metric", "owner_team")
            .annotate(
                steps_n=Count("steps", distinct=True),
                runs_n=Count("runs", distinct=True),
                last_run=Max("runs__created_at"),
            )
        )

    @admin.display(description="Trigger")
    def trigger_summary(self, playbook: Playbook) -> str:
        return playbook.describe_trigger()

    @admin.display(description="Conditions")
    def condition_summary(self, playbook: Playbook) -> str:
        return playbook.describe_conditions()

    @admin.display(description="Steps", ordering="steps_n")
    def step_count(self, playbook: Playbook) -> int:
        return playbook.steps_n

    @admin.display(description="Runs", ordering="runs_n")
    def run_count(self, playbook: Playbook) -> int:
        return playbook.runs_n

    @admin.display(description="Last fired", ordering="last_run")
    def last_fired(self, playbook: Playbook):
        return playbook.last_run

    @admin.display(description="Dry run")
    def dry_run_link(self, playbook: Playbook) -> str:
        url = reverse("admin:playbooks_playbook_dry_run", args=[playbook.pk])
        return format_html('<a href="{}">Try on an account</a>', url)

    def save_model(self, request, obj, form, change):
        # The playbook's one write path: switching it on sets when it starts acting.
        names = {f.name for f in Playbook._meta.concrete_fields} & set(form.cleaned_data)
        fields = {name: form.cleaned_data[name] for name in names}
        saved = playbook_save(playbook=obj, fields=fields, steps=None)
        obj.pk, obj.enabled_at = saved.pk, saved.enabled_at

    def get_urls(self):
        return [
            path(
                "<path:object_id>/dry-run/",
                self.admin_site.admin_view(self.dry_run_view),
                name="playbooks_playbook_dry_run",
            ),
            path(
                "<path:object_id>/backfill/",
                self.admin_site.admin_view(self.backfill_view),
                name="playbooks_playbook_backfill",
            ),
            path(
                "<path:object_id>/effectiveness/",
                self.admin_site.admin_view(self.effectiveness_view),
                name="playbooks_playbook_effectiveness",
            ),
            *super().get_urls(),
        ]

    def _page(self, request, playbook: Playbook, title: str, **context) -> dict:
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "original": playbook,
            "playbook": playbook,
            **context,
        }

    def backfill_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Act on the events before the playbook was switched on: a dry-run count first
        (GET), then, confirmed with that count, the runs (POST)."""
        playbook = get_object_or_404(Playbook, pk=object_id)
        if not self.has_change_permission(request, playbook):
            raise PermissionDenied
        form = BackfillForm(request.POST or request.GET or None)
        now = timezone.now()
        preview = done = None
        if form.is_bound and form.is_valid():
            since = form.since_moment()
            if request.method == "POST" and form.cleaned_data.get("confirm"):
                done = playbook_backfill(playbook=playbook, since=since, now=now, dry_run=False)
                self.log_change(request, playbook, f"Backfilled {done.runs} run(s) since {since}.")
                self.message_user(
                    request,
                    f"{done.runs} run(s) created for events since {since:%Y-%m-%d}.",
                    messages.SUCCESS,
                )
            else:
                preview = playbook_backfill(playbook=playbook, since=since, now=now, dry_run=True)
        context = self._page(
            request, playbook, f"Backfill: {playbook}", form=form, preview=preview, done=done
        )
        return TemplateResponse(request, "admin/playbooks/playbook/backfill.html", context)

    def effectiveness_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        playbook = get_object_or_404(Playbook, pk=object_id)
        if not self.has_view_permission(request, playbook):
            raise PermissionDenied
        form = EffectivenessForm(request.GET or None)
        report = None
        if not form.is_bound or form.is_valid():
            since, until, days = form.period()
            report = playbook_effectiveness(
                playbook=playbook, since=since, until=until, days=days, now=timezone.now()
            )
        context = self._page(request, playbook, f"Did “{playbook}” work?", form=form, report=report)
        return TemplateResponse(request, "admin/playbooks/playbook/effectiveness.html", context)

    def dry_run_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Choose an account by its external id; show what the playbook would do for it."""
        playbook = get_object_or_404(Playbook, pk=object_id)
        if not self.has_view_permission(request, playbook):
            return self.admin_site.login(request)
        external_id = (request.GET.get("account") or "").strip()
        dry_run = error = None
        if external_id:
            account = (
                Account.objects.select_related("owner").filter(external_id=external_id).first()
            )
            if account is None:
                error = f"No account has the external id {external_id!r}."
            else:
                dry_run = playbook_dry_run(playbook=playbook, account=account, now=timezone.now())
        context = {
            **self.admin_site.each_context(request),
            "title": f"Dry run: {playbook}",
            "opts": self.model._meta,
            "original": playbook,
            "playbook": playbook,
            "external_id": external_id,
            "dry_run": dry_run,
            "error": error,
        }
        return TemplateResponse(request, "admin/playbooks/playbook/dry_run.html", context)


class PlaybookStepRunInline(admin.TabularInline):
    model = PlaybookStepRun
    extra = 0
    can_delete = False
    fields = ["step", "status", "due_at", "dispatched_at", "attempts", "done_at", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PlaybookRun)
class PlaybookRunAdmin(admin.ModelAdmin):
    list_display = [
        "playbook",
        "account",
        "event_key",
        "level",
        "status",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "playbook"]
    search_fields = ["account__name", "account__external_id", "event_key"]
    list_select_related = ["playbook", "account"]
    date_hierarchy = "created_at"
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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Cancel the selected runs (their waiting steps never run)")
    def cancel_runs(self, request, queryset):
        now = timezone.now()
        cancelled = sum(playbook_run_cancel(run=run, now=now) for run in queryset)
        self.message_user(request, f"{cancelled} run(s) cancelled.", messages.SUCCESS)


class NoteInline(admin.TabularInline):
    model = Note
    extra = 0
    fields = ["created_at", "author", "body"]
    readonly_fields = ["created_at", "author"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["title", "account", "assignee", "priority", "status", "due_date", "origin"]
    list_filter = ["status", "priority", "due_date"]
    search_fields = ["title", "account__name", "account__external_id", "assignee__username"]
    list_select_related = ["account", "assignee", "origin_step_run__run__playbook"]
    autocomplete_fields = ["account", "assignee", "created_by", "completed_by"]
    readonly_fields = [
        "origin_step_run",
        "playbook_step",
        "created_at",
        "closed_at",
        "close_reason",
    ]
    date_hierarchy = "due_date"
    inlines = [NoteInline]

    @admin.display(description="Origin")
    def origin(self, task: Task) -> str:
        if task.origin_step_run_id is None:
            return "manual"
        return f"playbook: {task.origin_step_run.run.playbook}"


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["created_at", "account", "author", "short_body"]
    search_fields = ["body", "account__name", "account__external_id"]
    list_select_related = ["account", "author"]
    autocomplete_fields = ["account", "author", "task"]

    @admin.display(description="Note")
    def short_body(self, note: Note) -> str:
        return note.body[:80]


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=WebhookEndpoint.Event.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Events sent to this endpoint (playbook steps may send to it too).",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "events", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["name", "url", "event_list", "is_active", "state"]
    list_filter = ["is_active", ("paused_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "url"]
    readonly_fields = [
        "secret",
        "previous_secret_until",
        "failures",
        "failing_since",
        "paused_at",
        "paused_reason",
        "created_at",
    ]
    fields = ["name", "url", "events", "is_active", *readonly_fields]
    actions = ["resume", "rotate_secret"]

    @admin.display(description="Events")
    def event_list(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.events or []) or "—"

    @admin.display(description="State")
    def state(self, endpoint: WebhookEndpoint) -> str:
        if endpoint.is_paused:
            return f"Paused since {endpoint.paused_at:%Y-%m-%d %H:%M}"
        if endpoint.failures:
            return f"{endpoint.failures} failed attempt(s) in a row"
        return "OK"

    @admin.action(description="Resume paused endpoints (what waited is sent at once)")
    def resume(self, request, queryset):
        now = timezone.now()
        resumed = [e for e in queryset if e.is_paused]
        waiting = sum(webhook_endpoint_resume(endpoint=e, now=now) for e in resumed)
        self.message_user(
            request, f"Resumed {len(resumed)} endpoint(s); {waiting} delivery(ies) sent again."
        )

    @admin.action(description="Rotate the secret (the old one keeps signing for 24 hours)")
    def rotate_secret(self, request, queryset):
        now = timezone.now()
        for endpoint in queryset:
            webhook_secret_rotate(endpoint=endpoint, now=now)
        self.message_user(
            request,
            f"New secrets for {queryset.count()} endpoint(s). Deliveries carry a signature "
            "with the old secret too for 24 hours: give receivers the new one meanwhile.",
        )


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "channel",
        "event",
        "target_short",
        "account",
        "status",
        "attempts",
        "response_status",
        "next_attempt_at",
    ]
    list_filter = ["status", "channel", "event"]
    search_fields = ["target", "idempotency_key", "account__name", "account__external_id"]
    list_select_related = ["account"]
    date_hierarchy = "created_at"
    actions = ["retry_now"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Target")
    def target_short(self, delivery: Delivery) -> str:
        return delivery.target if len(delivery.target) <= 60 else delivery.target[:57] + "…"

    @admin.action(description="Retry now (failed deliveries only)")
    def retry_now(self, request, queryset):
        now = timezone.now()
        failed = list(queryset.filter(status=Delivery.Status.FAILED))
        for delivery in failed:
            delivery_retry(delivery=delivery, now=now)
        skipped = queryset.count() - len(failed)
        message = f"{len(failed)} delivery(ies) sent for another attempt."
        if skipped:
            message += f" {skipped} not failed, left alone."
        self.message_user(request, message, messages.SUCCESS)
