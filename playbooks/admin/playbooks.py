"""Playbooks with their steps, written through ``playbook_save`` and ``playbook_delete``
as the API's are, and the pages beside them: a dry run on an account, a backfill, and
whether the playbook worked."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import Account
from playbooks.admin.common import URL_FIELDS, ThroughServices
from playbooks.effectiveness import playbook_effectiveness
from playbooks.forms import BackfillForm, EffectivenessForm
from playbooks.models import Playbook, PlaybookStep
from playbooks.selectors import playbook_dry_run
from playbooks.services import playbook_backfill, playbook_delete, playbook_save

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

# The step fields a step is saved with (its position follows its order).
STEP_FIELDS = [
    f.name
    for f in PlaybookStep._meta.concrete_fields
    if f.name not in ("id", "playbook", "position")
]


def _steps(formset) -> list[dict]:
    """The steps the inline formset leaves, in the order of their positions, as
    ``playbook_save`` takes them."""
    kept = [
        form
        for form in formset.forms
        if form not in formset.deleted_forms and (form.instance.pk or form.has_changed())
    ]
    kept.sort(key=lambda form: (form.cleaned_data["position"], form.instance.pk or 0))
    return [{name: form.cleaned_data[name] for name in STEP_FIELDS} for form in kept]


class PlaybookStepInline(admin.StackedInline):
    """The steps, saved all together by the playbook's page: once the playbook has run
    they are the record of its runs, and a change to them is refused."""

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
                "fields": [
                    ("email_to", "email_address", "email_contact_role"),
                    "email_subject",
                    "email_body",
                ],
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


class _Counts(TypedDict):
    """What the list page's queryset adds to each playbook."""

    steps_n: int
    runs_n: int
    last_run: dt.datetime | None


@admin.register(Playbook)
class PlaybookAdmin(ThroughServices):
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
                    "contact_role",
                    "outcome_kinds",
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
    def step_count(self, playbook: WithAnnotations[Playbook, _Counts]) -> int:
        return playbook.steps_n

    @admin.display(description="Runs", ordering="runs_n")
    def run_count(self, playbook: WithAnnotations[Playbook, _Counts]) -> int:
        return playbook.runs_n

    @admin.display(description="Last fired", ordering="last_run")
    def last_fired(self, playbook: WithAnnotations[Playbook, _Counts]) -> dt.datetime | None:
        return playbook.last_run

    @admin.display(description="Dry run")
    def dry_run_link(self, playbook: Playbook) -> str:
        url = reverse("admin:playbooks_playbook_dry_run", args=[playbook.pk])
        return format_html('<a href="{}">Try on an account</a>', url)

    def save_model(self, request, obj, form, change):
        # Saved with its steps, in one call, by save_related.
        pass

    def save_related(self, request, form, formsets, change):
        """The playbook's one write path (``playbook_save``): switching it on sets when it
        starts acting, and steps that runs used are not replaced (refused as by the API).
        The steps are passed only when the inline changed."""
        (steps_formset,) = (f for f in formsets if f.model is PlaybookStep)
        playbook = form.instance
        names = {f.name for f in Playbook._meta.concrete_fields} & set(form.cleaned_data)
        fields = {name: form.cleaned_data[name] for name in names}
        steps = _steps(steps_formset) if steps_formset.has_changed() else None
        before = list(playbook.steps.all()) if change and steps is not None else []
        saved = playbook_save(playbook=playbook, fields=fields, steps=steps)
        playbook.pk, playbook.enabled_at = saved.pk, saved.enabled_at
        # What the admin's history records of the inline.
        steps_formset.new_objects = list(saved.steps.all()) if steps is not None else []
        steps_formset.changed_objects = []
        steps_formset.deleted_objects = before

    def get_deleted_objects(self, objs, request):
        # Whether a playbook may go is playbook_delete's to say (one that ran is kept, and
        # it says why), not the read-only admin of the runs it would take along.
        deleted, counts, _, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request, obj):
        playbook_delete(playbook=obj)

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
