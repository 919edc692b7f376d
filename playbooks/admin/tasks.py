"""Tasks and notes, changed through ``playbooks.services.task_ops`` as the pages and the
API change them: a task made here is a manual task; completing one records who and when
and tells the endpoints subscribed to ``task.completed``; a closed task refuses changes.
Notes are added, never edited: they are what was said."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from accounts.pagination import BookPaginator
from playbooks.admin.common import ThroughServices
from playbooks.models import Note, Task
from playbooks.services import (
    PlaybookError,
    note_add,
    task_cancel,
    task_complete,
    task_create_manual,
    task_reassign,
    task_snooze,
)

ADD_FIELDS = ["account", "title", "description", "priority", "due_date", "assignee"]
# What a person may do to a task here, as on the pages and through the API.
CHANGEABLE = ["assignee", "status", "snoozed_until"]
RECORD_FIELDS = [
    "created_by",
    "created_at",
    "completed_at",
    "completed_by",
    "origin_step_run",
    "playbook_step",
    "closed_at",
    "close_reason",
]
# The statuses a person sets; the others come about (a snooze ends, an account recovers).
SETTABLE = (Task.Status.DONE, Task.Status.SNOOZED, Task.Status.CANCELLED)


class TaskChangeForm(forms.ModelForm):
    class Meta:
        model = Task
        fields = CHANGEABLE

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "status" in self.fields:
            allowed = {self.instance.status, *SETTABLE}
            cast(forms.ChoiceField, self.fields["status"]).choices = [
                (value, label) for value, label in Task.Status.choices if value in allowed
            ]


def task_change(*, task: Task, data: dict, changed: list[str], by, now) -> Task:
    """Apply the admin form's changes to ``task`` through the services, in the order a
    person would: reassign, then complete, snooze or cancel."""
    if "assignee" in changed:
        task = task_reassign(task=task, to=data["assignee"], by=by, now=now)
    status = data.get("status", task.status)
    snooze_moved = status == Task.Status.SNOOZED and "snoozed_until" in changed
    if status != task.status or snooze_moved:
        if status == Task.Status.DONE:
            task = task_complete(task=task, by=by, now=now)
        elif status == Task.Status.SNOOZED:
            task = task_snooze(task=task, until=data.get("snoozed_until"), by=by, now=now)
        elif status == Task.Status.CANCELLED:
            task = task_cancel(task=task, by=by, now=now)
    return task


class NoteInline(admin.TabularInline):
    """The task's notes: new ones are added through ``note_add``, old ones stay as written."""

    model = Note
    extra = 0
    can_delete = False
    fields = ["created_at", "author", "body"]
    readonly_fields = ["created_at", "author"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Task)
class TaskAdmin(ThroughServices):
    list_display = ["title", "account", "assignee", "priority", "status", "due_date", "origin"]
    list_filter = ["status", "priority", "due_date"]
    search_fields = ["title", "account__name", "account__external_id", "assignee__username"]
    list_select_related = ["account", "assignee", "origin_step_run__run__playbook"]
    # Large tables: count exactly only up to a limit, and only once.
    show_full_result_count = False
    paginator = BookPaginator
    ordering = ["-id"]  # newest first, along the primary key
    autocomplete_fields = ["account", "assignee"]
    inlines = [NoteInline]
    actions = ["complete_tasks", "cancel_tasks"]

    @admin.display(description="Origin")
    def origin(self, task: Task) -> str:
        if task.origin_step_run is None:
            return "manual"
        return f"playbook: {task.origin_step_run.run.playbook}"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ADD_FIELDS
        return [*ADD_FIELDS, "status", "snoozed_until", *RECORD_FIELDS]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [name for name in self.get_fields(request, obj) if name not in CHANGEABLE]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            kwargs["form"] = TaskChangeForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        # A task is cancelled, not deleted: its history stays with the account.
        return False

    def save_model(self, request, obj, form, change):
        now = timezone.now()
        data = form.cleaned_data
        if not change:
            task = task_create_manual(
                account=data["account"],
                title=data["title"],
                due_date=data["due_date"],
                created_by=request.user,
                now=now,
                assignee=data.get("assignee"),
                description=data.get("description", ""),
                priority=data["priority"],
            )
            obj.pk = task.pk
            return
        stored = Task.objects.get(pk=obj.pk)
        task_change(task=stored, data=data, changed=form.changed_data, by=request.user, now=now)

    def save_formset(self, request, form, formset, change):
        task = form.instance
        now = timezone.now()
        added = []
        for note_form in formset.extra_forms:
            if note_form.has_changed():
                added.append(
                    note_add(
                        account=task.account,
                        author=request.user,
                        body=note_form.cleaned_data["body"],
                        now=now,
                        task=task,
                    )
                )
        formset.new_objects, formset.changed_objects, formset.deleted_objects = added, [], []

    def _each(self, request, queryset, change, done: str) -> None:
        now, changed, refused = timezone.now(), 0, []
        for task in queryset:
            try:
                change(task=task, by=request.user, now=now)
                changed += 1
            except PlaybookError as refusal:
                refused.append(f"{task}: {refusal.message}")
        if changed:
            self.message_user(request, f"{changed} task(s) {done}.", messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.ERROR)

    @admin.action(description="Mark the selected tasks done")
    def complete_tasks(self, request, queryset):
        self._each(request, queryset, task_complete, "done")

    @admin.action(description="Cancel the selected tasks")
    def cancel_tasks(self, request, queryset):
        self._each(request, queryset, task_cancel, "cancelled")


@admin.register(Note)
class NoteAdmin(ThroughServices):
    list_display = ["created_at", "account", "author", "short_body"]
    search_fields = ["body", "account__name", "account__external_id"]
    list_select_related = ["account", "author"]
    ordering = ["-id"]  # newest first, along the primary key
    autocomplete_fields = ["account", "task"]
    fields = ["account", "task", "body"]

    @admin.display(description="Note")
    def short_body(self, note: Note) -> str:
        return note.body[:80]

    def get_fields(self, request, obj=None):
        return self.fields if obj is None else ["created_at", "author", *self.fields]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        note = note_add(
            account=data["account"],
            author=request.user,
            body=data["body"],
            now=timezone.now(),
            task=data.get("task"),
        )
        obj.pk = note.pk
